/*
 * SQLite backend: reading a whole installation out, table by table, for
 * store_copy (store_copy.c). Only reads: one read transaction, so the rows
 * of every table are of the same moment.
 */

#include <stdio.h>
#include <string.h>

#include "store_sqlite_int.h"

#define EXPORT_SQL_MAX 512

static int
is_listed(const char *name, const struct store_table *t, int n, const char *const *skip)
{
	for (int i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return 1;
	for (int i = 0; skip[i] != NULL; i++)
		if (strcmp(skip[i], name) == 0)
			return 1;
	return 0;
}

/* Every table of the file is one the copy knows. */
static int
tables_known(struct sq *q, const struct store_table *t, int n, const char *const *skip)
{
	sqlite3_stmt *st;
	int rc = STORE_OK, step;

	if (sqlite3_prepare_v2(q->db, "SELECT name FROM sqlite_master WHERE type = 'table' "
	                       "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", -1, &st, NULL) != SQLITE_OK)
		return sq_fail(q, SQLITE_ERROR, "export: table list");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (name != NULL && !is_listed(name, t, n, skip)) {
			rc = store_fail(&q->base, STORE_INVALID, "export: the source has a table \"%s\" "
			                "this build's copy does not know", name);
			break;
		}
	}
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = sq_fail(q, step, "export: table list");
	sqlite3_finalize(st);
	return rc;
}

/* t's columns in the file are the ones the copy expects. */
static int
width_known(struct sq *q, const struct store_table *t)
{
	char sql[EXPORT_SQL_MAX];
	sqlite3_stmt *st;
	int width;

	snprintf(sql, sizeof sql, "SELECT * FROM %s LIMIT 0", t->name);
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(&q->base, STORE_INVALID, "export: table %s: %s", t->name,
		                  sqlite3_errmsg(q->db));
	width = sqlite3_column_count(st);
	sqlite3_finalize(st);
	if (width != t->width)
		return store_fail(&q->base, STORE_INVALID, "export: table %s has %d columns, this "
		                  "build's copy knows %d", t->name, width, t->width);
	return STORE_OK;
}

/* One row as cells; a type the schema never stores (REAL) is refused. */
static int
row_cells(struct sq *q, sqlite3_stmt *st, const struct store_table *t, struct store_cell *c)
{
	for (int i = 0; i < t->ncols; i++) {
		memset(&c[i], 0, sizeof c[i]);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_NULL:
			c[i].type = CELL_NULL;
			break;
		case SQLITE_INTEGER:
			c[i].type = CELL_INT;
			c[i].i = sqlite3_column_int64(st, i);
			break;
		case SQLITE_TEXT:
			c[i].type = CELL_TEXT;
			c[i].p = sqlite3_column_text(st, i);
			c[i].len = (size_t)sqlite3_column_bytes(st, i);
			break;
		case SQLITE_BLOB:
			c[i].type = CELL_BLOB;
			c[i].p = sqlite3_column_blob(st, i);
			c[i].len = (size_t)sqlite3_column_bytes(st, i);
			break;
		default:
			return store_fail(&q->base, STORE_INVALID, "export: table %s column %d: "
			                  "a value of an unexpected type", t->name, i + 1);
		}
	}
	return STORE_OK;
}

static int
export_table(struct sq *q, const struct store_table *t, store_row_fn fn, void *arg)
{
	struct store_cell c[STORE_COPY_COLS_MAX];
	char sql[EXPORT_SQL_MAX];
	sqlite3_stmt *st;
	int rc, step;

	if (t->ncols > STORE_COPY_COLS_MAX)
		return store_fail(&q->base, STORE_INVALID, "export: table %s: too many columns", t->name);
	if ((rc = width_known(q, t)) != STORE_OK)
		return rc;
	snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", t->cols, t->name, t->order);
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(&q->base, STORE_INVALID, "export: table %s: %s", t->name,
		                  sqlite3_errmsg(q->db));
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = row_cells(q, st, t, c)) != STORE_OK || (rc = fn(t, c, arg)) != STORE_OK)
			break;
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = sq_fail(q, step, "export: reading the source");
	sqlite3_finalize(st);
	return rc;
}

int
store_sqlite_export(struct store *s, const struct store_table *t, int n,
                    const char *const *skip, store_row_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	int rc;

	if (s->ops->user_add != sq_user_add)
		return store_fail(s, STORE_INVALID, "export: the source is not a SQLite store");
	if ((rc = sq_begin(q, 0)) != STORE_OK)
		return rc;
	rc = tables_known(q, t, n, skip);
	for (int i = 0; i < n && rc == STORE_OK; i++)
		rc = export_table(q, &t[i], fn, arg);
	sq_rollback(q);
	return rc;
}
