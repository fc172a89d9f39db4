/*
 * PostgreSQL backend: the login throttle's failure counts (lockouts) and the
 * sources a user logged in from (known_sources), sql/pg/002_throttle.sql.
 * None of it is a change followers replay: no writers' lock. Each write is one
 * statement, or one transaction, the upserts atomic under concurrency from
 * every gateway (INSERT ... ON CONFLICT).
 */

#include <string.h>

#include "store_pg_int.h"

/* $1 name, $2 source (NULL: SQL NULL), $3 a. */
static void
bind_ns(struct pgq *q, const char *name, const char *source, int64_t a)
{
	q->n = 0;
	pgq_text(q, name);
	pgq_text(q, source);
	pgq_int(q, a);
}

int
pg_lockout_state(struct store *s, const char *name, const char *source,
                 struct store_lockout *pair, struct store_lockout *acct)
{
	struct pgq q;
	PGresult *r;
	int rc;

	bind_ns(&q, name, source, 0);
	q.n = 2;
	rc = pg_exec(pg_of(s), "SELECT source, failures, last_at FROM lockouts "
	             "WHERE name = $1 AND source IN ($2, '*')", &q, &r, "lockout state");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		struct store_lockout *l = strcmp(PQgetvalue(r, i, 0), LOCK_ACCOUNT) == 0 ? acct : pair;
		l->failures = (int)pg_i64(r, i, 1);
		l->last_at = pg_i64(r, i, 2);
	}
	PQclear(r);
	return rc;
}

/* $3 now, $4 since: a count whose last failure is older than since starts again. */
static const char SQL_LOCK_FAIL[] =
	"INSERT INTO lockouts AS l (name, source, failures, last_at) VALUES ($1, $2, 1, $3) "
	"ON CONFLICT (name, source) DO UPDATE SET last_at = $3, "
	"failures = CASE WHEN l.last_at < $4 THEN 1 ELSE l.failures + 1 END";

int
pg_lockout_fail(struct store *s, const char *name, const char *source, int64_t now,
                int64_t since)
{
	struct pgs *p = pg_of(s);
	struct pgq q;
	int rc;

	if ((rc = pg_begin(p, 0)) != STORE_OK)
		return rc;
	bind_ns(&q, name, source, now);
	pgq_int(&q, since);
	if ((rc = pg_run(p, SQL_LOCK_FAIL, &q, NULL, "lockout fail")) == STORE_OK) {
		bind_ns(&q, name, LOCK_ACCOUNT, now);
		pgq_int(&q, since);
		rc = pg_run(p, SQL_LOCK_FAIL, &q, NULL, "lockout fail");
	}
	return pg_finish(p, rc);
}

/*
 * $3 = 1: the source's row goes; else it gives one failure back like the
 * account's. Each statement takes the first n of $1 name, $2 source, $3.
 */
static const struct { const char *sql; int n; } SQL_LOCK_REFUND[] = {
	{ "DELETE FROM lockouts WHERE name = $1 AND source = $2 AND ($3::int = 1 OR failures <= 1)", 3 },
	{ "UPDATE lockouts SET failures = failures - 1 WHERE name = $1 AND source = $2", 2 },
	{ "DELETE FROM lockouts WHERE name = $1 AND source = '*' AND failures <= 1", 1 },
	{ "UPDATE lockouts SET failures = failures - 1 WHERE name = $1 AND source = '*'", 1 },
};

int
pg_lockout_refund(struct store *s, const char *name, const char *source, int clear_source)
{
	struct pgs *p = pg_of(s);
	struct pgq q;
	int rc;

	if ((rc = pg_begin(p, 0)) != STORE_OK)
		return rc;
	for (size_t i = 0; rc == STORE_OK && i < sizeof SQL_LOCK_REFUND / sizeof SQL_LOCK_REFUND[0]; i++) {
		bind_ns(&q, name, source, clear_source ? 1 : 0);
		q.n = SQL_LOCK_REFUND[i].n;
		rc = pg_run(p, SQL_LOCK_REFUND[i].sql, &q, NULL, "lockout refund");
	}
	return pg_finish(p, rc);
}

int
pg_lockout_clear(struct store *s, const char *name, const char *source, int *n)
{
	struct pgq q;

	bind_ns(&q, name, source, 0);
	q.n = 2;
	return pg_run(pg_of(s), "DELETE FROM lockouts WHERE name = $1 "
	              "AND ($2::text IS NULL OR source = $2)", &q, n, "lockout clear");
}

int
pg_lockout_list(struct store *s, const char *name, store_lockout_fn fn, void *arg)
{
	struct store_lockout l;
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_text(&q, name);
	rc = pg_exec(pg_of(s), "SELECT name, source, failures, last_at FROM lockouts "
	             "WHERE $1::text IS NULL OR name = $1 ORDER BY name, source = '*' DESC, source",
	             &q, &r, "lockout list");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		pg_text(r, i, 0, l.name, sizeof l.name);
		pg_text(r, i, 1, l.source, sizeof l.source);
		l.failures = (int)pg_i64(r, i, 2);
		l.last_at = pg_i64(r, i, 3);
		if (fn(&l, arg))
			break;
	}
	PQclear(r);
	return rc;
}

int
pg_known_add(struct store *s, const char *name, const char *source, int64_t now)
{
	struct pgq q;

	bind_ns(&q, name, source, now);
	return pg_run(pg_of(s), "INSERT INTO known_sources (user_id, source, last_at) "
	              "SELECT id, $2, $3::bigint FROM users WHERE name = $1 "
	              "ON CONFLICT (user_id, source) DO UPDATE SET last_at = $3", &q, NULL,
	              "known source add");
}

int
pg_known_has(struct store *s, const char *name, const char *source, int64_t since)
{
	struct pgq q;
	PGresult *r;
	int rc;

	bind_ns(&q, name, source, since);
	rc = pg_exec(pg_of(s), "SELECT 1 FROM known_sources k JOIN users u ON u.id = k.user_id "
	             "WHERE u.name = $1 AND k.source = $2 AND k.last_at >= $3", &q, &r,
	             "known source");
	if (rc == STORE_OK && PQntuples(r) == 0)
		rc = STORE_NOTFOUND;
	PQclear(r);
	return rc;
}
