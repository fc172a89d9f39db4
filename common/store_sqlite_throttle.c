/*
 * SQLite backend: the login throttle's failure counts (lockouts) and the
 * sources a user logged in from (known_sources), sql/002_throttle.sql.
 */

#include <string.h>

#include "store_sqlite_int.h"

/* Binds ?1 name, ?2 source (NULL: SQL NULL), ?3 a and runs sql to completion. */
static int
run_ns(struct sq *q, const char *sql, const char *name, const char *source, int64_t a,
       int *changed)
{
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, name);
	if (source)
		sq_bind_text(st, 2, source);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, a);
	rc = sq_step(q, st, sql, &row);
	if (changed)
		*changed = rc == STORE_OK ? sqlite3_changes(q->db) : 0;
	sqlite3_reset(st);
	return rc;
}

/* Runs the statements in one write transaction, stopping at the first failure. */
static int
run_all(struct sq *q, const char *const *sql, int n, const char *name, const char *source,
        int64_t a, int *changed)
{
	int rc, k;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if (changed)
		*changed = 0;
	for (int i = 0; i < n && rc == STORE_OK; i++)
		if ((rc = run_ns(q, sql[i], name, source, a, &k)) == STORE_OK && changed)
			*changed += k;
	return sq_finish(q, rc);
}

static const char SQL_LOCK_GET[] =
	"SELECT source, failures, last_at FROM lockouts WHERE name = ?1 AND source IN (?2, '*')";

int
sq_lockout_state(struct store *s, const char *name, const char *source,
                 struct store_lockout *pair, struct store_lockout *acct)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_LOCK_GET);
	struct store_lockout *l;
	char src[LOCK_SOURCE_MAX + 1];
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, name);
	sq_bind_text(st, 2, source);
	while ((rc = sq_step(q, st, "lockout state", &row)) == STORE_OK && row) {
		sq_col_text(st, 0, src, sizeof src);
		l = strcmp(src, LOCK_ACCOUNT) == 0 ? acct : pair;
		l->failures = sqlite3_column_int(st, 1);
		l->last_at = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc;
}

/* ?3 now, ?4 since: a count whose last failure is older than since starts again. */
static const char SQL_LOCK_FAIL[] =
	"INSERT INTO lockouts (name, source, failures, last_at) VALUES (?1, ?2, 1, ?3) "
	"ON CONFLICT (name, source) DO UPDATE SET last_at = ?3, "
	"failures = CASE WHEN last_at < ?4 THEN 1 ELSE failures + 1 END";

static int
fail_one(struct sq *q, const char *name, const char *source, int64_t now, int64_t since)
{
	sqlite3_stmt *st = sq_stmt(q, SQL_LOCK_FAIL);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, name);
	sq_bind_text(st, 2, source);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, since);
	rc = sq_step(q, st, "lockout fail", &row);
	sqlite3_reset(st);
	return rc;
}

int
sq_lockout_fail(struct store *s, const char *name, const char *source, int64_t now,
                int64_t since)
{
	struct sq *q = sq_of(s);
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = fail_one(q, name, source, now, since)) == STORE_OK)
		rc = fail_one(q, name, LOCK_ACCOUNT, now, since);
	return sq_finish(q, rc);
}

/* ?3 = 1: the source's row goes; else it gives one failure back like the account's. */
static const char *const SQL_LOCK_REFUND[] = {
	"DELETE FROM lockouts WHERE name = ?1 AND source = ?2 AND (?3 = 1 OR failures <= 1)",
	"UPDATE lockouts SET failures = failures - 1 WHERE name = ?1 AND source = ?2",
	"DELETE FROM lockouts WHERE name = ?1 AND source = '*' AND failures <= 1",
	"UPDATE lockouts SET failures = failures - 1 WHERE name = ?1 AND source = '*'",
};

int
sq_lockout_refund(struct store *s, const char *name, const char *source, int clear_source)
{
	return run_all(sq_of(s), SQL_LOCK_REFUND, 4, name, source, clear_source ? 1 : 0, NULL);
}

static const char SQL_LOCK_CLEAR[] =
	"DELETE FROM lockouts WHERE name = ?1 AND (?2 IS NULL OR source = ?2)";

int
sq_lockout_clear(struct store *s, const char *name, const char *source, int *n)
{
	const char *const sql[] = { SQL_LOCK_CLEAR };

	return run_all(sq_of(s), sql, 1, name, source, 0, n);
}

static const char SQL_LOCK_LIST[] =
	"SELECT name, source, failures, last_at FROM lockouts "
	"WHERE ?1 IS NULL OR name = ?1 ORDER BY name, source = '*' DESC, source";

int
sq_lockout_list(struct store *s, const char *name, store_lockout_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_LOCK_LIST);
	struct store_lockout l;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	if (name)
		sq_bind_text(st, 1, name);
	else
		sqlite3_bind_null(st, 1);
	while ((rc = sq_step(q, st, "lockout list", &row)) == STORE_OK && row) {
		sq_col_text(st, 0, l.name, sizeof l.name);
		sq_col_text(st, 1, l.source, sizeof l.source);
		l.failures = sqlite3_column_int(st, 2);
		l.last_at = sqlite3_column_int64(st, 3);
		if (fn(&l, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

static const char SQL_KNOWN_ADD[] =
	"INSERT INTO known_sources (user_id, source, last_at) "
	"SELECT id, ?2, ?3 FROM users WHERE name = ?1 "
	"ON CONFLICT (user_id, source) DO UPDATE SET last_at = ?3";

int
sq_known_add(struct store *s, const char *name, const char *source, int64_t now)
{
	const char *const sql[] = { SQL_KNOWN_ADD };

	return run_all(sq_of(s), sql, 1, name, source, now, NULL);
}

static const char SQL_KNOWN_HAS[] =
	"SELECT 1 FROM known_sources k JOIN users u ON u.id = k.user_id "
	"WHERE u.name = ?1 AND k.source = ?2 AND k.last_at >= ?3";

int
sq_known_has(struct store *s, const char *name, const char *source, int64_t since)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_KNOWN_HAS);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, name);
	sq_bind_text(st, 2, source);
	sqlite3_bind_int64(st, 3, since);
	if ((rc = sq_step(q, st, "known source", &row)) == STORE_OK && !row)
		rc = STORE_NOTFOUND;
	sqlite3_reset(st);
	return rc;
}
