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

/* A column name fit to appear in the target's SQL unquoted: [a-z0-9_]. */
static int
name_plain(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > STORE_COPY_NAME_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* The columns of st to copy (all but t->derived) into r->name and idx. */
static int
row_names(struct sq *q, sqlite3_stmt *st, const struct store_table *t, struct store_row *r,
          int *idx)
{
	int width = sqlite3_column_count(st);

	r->n = 0;
	for (int i = 0; i < width; i++) {
		const char *name = sqlite3_column_name(st, i);

		if (!name_plain(name))
			return store_fail(&q->base, STORE_INVALID, "export: table %s has a column "
			                  "named unlike sekisho's", t->name);
		if (t->derived && strcmp(name, t->derived) == 0)
			continue;
		if (r->n == STORE_COPY_COLS_MAX)
			return store_fail(&q->base, STORE_INVALID, "export: table %s has more than %d "
			                  "columns", t->name, STORE_COPY_COLS_MAX);
		idx[r->n] = i;
		r->name[r->n++] = name;
	}
	return STORE_OK;
}

/* The current row of st as cells; a type the schema never stores (REAL) is refused. */
static int
row_cells(struct sq *q, sqlite3_stmt *st, const struct store_table *t, struct store_row *r,
          const int *idx)
{
	for (int k = 0; k < r->n; k++) {
		struct store_cell *c = &r->cell[k];
		int i = idx[k];

		memset(c, 0, sizeof *c);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_NULL:
			c->type = CELL_NULL;
			break;
		case SQLITE_INTEGER:
			c->type = CELL_INT;
			c->i = sqlite3_column_int64(st, i);
			break;
		case SQLITE_TEXT:
			c->type = CELL_TEXT;
			c->p = sqlite3_column_text(st, i);
			c->len = (size_t)sqlite3_column_bytes(st, i);
			if (c->p == NULL)
				return sq_fail(q, SQLITE_NOMEM, "export: reading the source");
			/* The target takes text up to its first NUL: refuse rather than cut it. */
			if (memchr(c->p, '\0', c->len) != NULL)
				return store_fail(&q->base, STORE_INVALID, "export: table %s column %s: "
				                  "a text with a NUL byte", t->name, r->name[k]);
			break;
		case SQLITE_BLOB:
			c->type = CELL_BLOB;
			c->p = sqlite3_column_blob(st, i);
			c->len = (size_t)sqlite3_column_bytes(st, i);
			break;
		default:
			return store_fail(&q->base, STORE_INVALID, "export: table %s column %s: "
			                  "a value of an unexpected type", t->name, r->name[k]);
		}
	}
	return STORE_OK;
}

static int
export_table(struct sq *q, const struct store_table *t, store_row_fn fn, void *arg)
{
	struct store_row r;
	int idx[STORE_COPY_COLS_MAX];
	char sql[EXPORT_SQL_MAX];
	sqlite3_stmt *st;
	int rc, step = SQLITE_DONE;

	snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", t->name, t->order);
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(&q->base, STORE_INVALID, "export: table %s: %s", t->name,
		                  sqlite3_errmsg(q->db));
	rc = row_names(q, st, t, &r, idx);
	while (rc == STORE_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = row_cells(q, st, t, &r, idx)) == STORE_OK)
			rc = fn(t, &r, arg);
	if (rc == STORE_OK && step != SQLITE_DONE)
		rc = sq_fail(q, step, "export: reading the source");
	sqlite3_finalize(st);
	return rc;
}

/* seq[i]: sqlite_sequence's value for t[i] (AUTOINCREMENT's last id), 0 when none. */
static int
sequences(struct sq *q, const struct store_table *t, int n, int64_t *seq)
{
	sqlite3_stmt *st;
	int rc = STORE_OK, step = SQLITE_DONE;

	if (sqlite3_prepare_v2(q->db, "SELECT seq FROM sqlite_sequence WHERE name = ?1", -1, &st,
	                       NULL) != SQLITE_OK)
		return sq_fail(q, SQLITE_ERROR, "export: the source's id sequences");
	for (int i = 0; i < n && rc == STORE_OK; i++) {
		seq[i] = 0;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, t[i].name, -1, SQLITE_STATIC);
		if ((step = sqlite3_step(st)) == SQLITE_ROW)
			seq[i] = sqlite3_column_int64(st, 0);
		else if (step != SQLITE_DONE)
			rc = sq_fail(q, step, "export: the source's id sequences");
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_sqlite_export(struct store *s, const struct store_table *t, int n,
                    const char *const *skip, store_row_fn fn, void *arg, int64_t *seq)
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
	if (rc == STORE_OK)
		rc = sequences(q, t, n, seq);
	sq_rollback(q);
	return rc;
}
