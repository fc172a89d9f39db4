/*
 * PostgreSQL backend: taking in a whole installation for store_copy
 * (store_copy.c), in one write transaction begun with the writers' lock
 * (exclusive): no admission runs beside it, no follower reads a half-copied
 * store (nothing is visible before the commit) and a failure leaves nothing.
 */

#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"

#define IMPORT_SQL_MAX 1024

/* STORE_OK when t has no rows, STORE_EXISTS naming it when it has. */
static int
table_empty(struct pgs *p, const struct store_table *t)
{
	char sql[IMPORT_SQL_MAX];
	PGresult *r;
	int rc, any;

	snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM %s)", t->name);
	if ((rc = pg_exec(p, sql, NULL, &r, t->name)) != STORE_OK)
		return rc;
	any = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (any)
		return store_fail(&p->base, STORE_EXISTS, "the target database is not empty "
		                  "(table %s has rows)", t->name);
	return STORE_OK;
}

/* Children first; through the triggers, so the change log records the ends. */
static int
empty_tables(struct pgs *p, const struct store_table *t, int n)
{
	char sql[IMPORT_SQL_MAX];
	int rc = STORE_OK;

	for (int i = n - 1; i >= 0 && rc == STORE_OK; i--) {
		snprintf(sql, sizeof sql, "DELETE FROM %s", t[i].name);
		rc = pg_run(p, sql, NULL, NULL, t[i].name);
	}
	return rc;
}

int
store_pg_import_begin(struct store *s, const struct store_table *t, int n, int replace)
{
	struct pgs *p = pg_of(s);
	int rc;

	if (s->ops->user_add != pg_user_add)
		return store_fail(s, STORE_INVALID, "import: the target is not a PostgreSQL store");
	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	for (int i = 0; i < n && rc == STORE_OK && !replace; i++)
		rc = table_empty(p, &t[i]);
	if (rc == STORE_OK && replace)
		rc = empty_tables(p, t, n);
	if (rc != STORE_OK)
		pg_rollback(p);
	return rc;
}

/* INSERT INTO t (the row's columns) VALUES ($1, ...); -1 when it does not fit. */
static int
insert_sql(const struct store_table *t, const struct store_row *r, char *sql, size_t n)
{
	size_t off = (size_t)snprintf(sql, n, "INSERT INTO %s (", t->name);

	for (int i = 0; i < r->n && off < n; i++)
		off += (size_t)snprintf(sql + off, n - off, "%s%s", i ? ", " : "", r->name[i]);
	if (off < n)
		off += (size_t)snprintf(sql + off, n - off, ") %sVALUES (",
		                        t->identity ? "OVERRIDING SYSTEM VALUE " : "");
	for (int i = 1; i <= r->n && off < n; i++)
		off += (size_t)snprintf(sql + off, n - off, "%s$%d", i > 1 ? ", " : "", i);
	if (off < n)
		off += (size_t)snprintf(sql + off, n - off, ")");
	return off < n ? 0 : -1;
}

int
store_pg_import_row(struct store *s, const struct store_table *t, const struct store_row *r)
{
	struct pgq q = { .n = 0 };
	char sql[IMPORT_SQL_MAX];

	if (r->n > PGQ_MAX || insert_sql(t, r, sql, sizeof sql) < 0)
		return store_fail(s, STORE_INVALID, "import: table %s: too many columns", t->name);
	for (int i = 0; i < r->n; i++) {
		const struct store_cell *c = &r->cell[i];

		switch (c->type) {
		case CELL_INT:
			pgq_int(&q, c->i);
			break;
		case CELL_TEXT:
			pgq_text(&q, c->p);
			break;
		case CELL_BLOB:
			pgq_bytes(&q, c->p, c->len);
			break;
		default:
			pgq_text(&q, NULL);   /* a NULL parameter is SQL NULL */
			break;
		}
	}
	return pg_run(pg_of(s), sql, &q, NULL, t->name);
}

/*
 * The next id of every identity column follows the largest copied one and
 * the last one the source handed out (seq[i]: a deleted newest row's id).
 */
static int
identities_past(struct pgs *p, const struct store_table *t, int n, const int64_t *seq)
{
	char sql[IMPORT_SQL_MAX];
	int rc = STORE_OK;

	for (int i = 0; i < n && rc == STORE_OK; i++) {
		struct pgq q = { .n = 0 };

		if (!t[i].identity)
			continue;
		pgq_int(&q, seq[i]);
		snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('%s', 'id'), "
		         "greatest(coalesce(max(id), 0), $1::bigint) + 1, false) FROM %s",
		         t[i].name, t[i].name);
		rc = pg_run(p, sql, &q, NULL, t[i].name);
	}
	return rc;
}

int
store_pg_import_end(struct store *s, const struct store_table *t, int n,
                    const int64_t *seq, const struct store_audit *a, int rc)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };

	if (rc == STORE_OK)
		rc = identities_past(p, t, n, seq);
	if (rc == STORE_OK && a != NULL) {
		pgq_int(&q, a->at);
		pgq_text(&q, a->actor);
		pgq_text(&q, a->action);
		pgq_text(&q, a->service);
		pgq_text(&q, a->target);
		pgq_text(&q, a->detail);
		rc = pg_run(p, "INSERT INTO audit (at, actor, action, service, target, detail) "
		            "VALUES ($1, $2, $3, $4, $5, $6)", &q, NULL, "audit");
	}
	return pg_finish(p, rc);
}
