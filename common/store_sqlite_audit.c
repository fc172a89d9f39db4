/*
 * SQLite backend: the audit trail, the two key rings, retention and counts.
 */

#include <string.h>

#include "store_sqlite_int.h"

static const char SQL_AUDIT_ADD[] =
	"INSERT INTO audit (at, actor, action, service, target, detail) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int
sq_audit(struct store *s, int64_t now, const char *actor, const char *action,
         const char *service, const char *target, const char *detail)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_begin_stmt(q, SQL_AUDIT_ADD, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sq_bind_text(st, 2, actor);
	sq_bind_text(st, 3, action);
	sq_bind_text(st, 4, service);
	sq_bind_text(st, 5, target);
	sq_bind_text(st, 6, detail);
	rc = sq_step(q, st, "audit", &row);
	sqlite3_reset(st);
	return sq_finish(q, rc);
}

/*
 * One statement per filter shape, so each can use its index; ?1 service,
 * ?2 user (actor or target), ?3 before_id (0 = from the newest), ?4 limit.
 */
#define AUDIT_SELECT \
	"SELECT id, at, actor, action, service, target, detail FROM audit " \
	"WHERE (?3 = 0 OR id < ?3) "
static const char *const SQL_AUDIT_LIST[] = {
	AUDIT_SELECT "ORDER BY id DESC LIMIT ?4",
	AUDIT_SELECT "AND service = ?1 ORDER BY id DESC LIMIT ?4",
	AUDIT_SELECT "AND (actor = ?2 OR target = ?2) ORDER BY id DESC LIMIT ?4",
	AUDIT_SELECT "AND service = ?1 AND (actor = ?2 OR target = ?2) ORDER BY id DESC LIMIT ?4",
};

static void
audit_read(sqlite3_stmt *st, struct store_audit *a)
{
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	a->at = sqlite3_column_int64(st, 1);
	sq_col_text(st, 2, a->actor, sizeof a->actor);
	sq_col_text(st, 3, a->action, sizeof a->action);
	sq_col_text(st, 4, a->service, sizeof a->service);
	sq_col_text(st, 5, a->target, sizeof a->target);
	sq_col_text(st, 6, a->detail, sizeof a->detail);
}

int
sq_audit_list(struct store *s, const struct store_audit_filter *f,
              int (*fn)(const struct store_audit *, void *), void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_AUDIT_LIST[(f->service != NULL) | (f->user != NULL) << 1]);
	struct store_audit a;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	if (f->service)
		sq_bind_text(st, 1, f->service);
	if (f->user)
		sq_bind_text(st, 2, f->user);
	sqlite3_bind_int64(st, 3, f->before_id > 0 ? f->before_id : 0);
	sqlite3_bind_int(st, 4, f->limit);
	while ((rc = sq_step(q, st, "audit list", &row)) == STORE_OK && row) {
		audit_read(st, &a);
		if (fn && fn(&a, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Both key rings (cookie keys and TLS ticket keys) have the same columns; the
 * helpers take the statement. ?6 (TLS only) makes the insert conditional:
 * skipped when a key activating at or after ?6 exists, so of two gateways
 * adding the same ring's next key under the write lock only the first does.
 */
static const char SQL_KEY_ADD[] =
	"INSERT INTO keys (kid, secret, created_at, activates_at, expires_at) "
	"VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_TLS_KEY_ADD[] =
	"INSERT INTO tls_keys (kid, secret, created_at, activates_at, expires_at) "
	"SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS "
	"(SELECT 1 FROM tls_keys WHERE activates_at >= ?6)";

static int
key_insert(struct store *s, const char *sql, const struct store_key *k, int64_t unless_from,
           int *added)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, sql, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, k->kid);
	sqlite3_bind_blob(st, 2, k->secret, KEY_SECRET_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, k->created_at);
	sqlite3_bind_int64(st, 4, k->activates_at);
	sqlite3_bind_int64(st, 5, k->expires_at);
	if (sqlite3_bind_parameter_count(st) >= 6)
		sqlite3_bind_int64(st, 6, unless_from);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = store_fail(s, STORE_EXISTS, "key %u exists", k->kid);
	else if (rc != SQLITE_DONE)
		rc = sq_fail(q, rc, "key add");
	else {
		*added = sqlite3_changes(q->db);
		rc = STORE_OK;
	}
	return sq_finish(q, rc);
}

int
sq_key_add(struct store *s, const struct store_key *k)
{
	int added;

	return key_insert(s, SQL_KEY_ADD, k, 0, &added);
}

int
sq_tls_key_add(struct store *s, const struct store_key *k, int64_t unless_from, int *added)
{
	return key_insert(s, SQL_TLS_KEY_ADD, k, unless_from, added);
}

static const char SQL_KEY_LIST[] =
	"SELECT kid, secret, created_at, activates_at, expires_at FROM keys "
	"WHERE expires_at > ?1 ORDER BY activates_at DESC, kid LIMIT ?2";
static const char SQL_TLS_KEY_LIST[] =
	"SELECT kid, secret, created_at, activates_at, expires_at FROM tls_keys "
	"WHERE expires_at > ?1 ORDER BY activates_at DESC, kid LIMIT ?2";

static int
key_select(struct store *s, const char *sql, int64_t now, struct store_key *keys, int max, int *n)
{
	struct sq *q = sq_of(s);
	int64_t args[] = { now, max };
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, args, 2);
	while ((rc = sq_step(q, st, "key list", &row)) == STORE_OK && row && *n < max) {
		struct store_key *k = &keys[(*n)++];
		memset(k, 0, sizeof *k);
		k->kid = (uint32_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == KEY_SECRET_LEN)
			memcpy(k->secret, sqlite3_column_blob(st, 1), KEY_SECRET_LEN);
		k->created_at = sqlite3_column_int64(st, 2);
		k->activates_at = sqlite3_column_int64(st, 3);
		k->expires_at = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	return rc;
}

int
sq_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	return key_select(s, SQL_KEY_LIST, now, keys, max, n);
}

int
sq_tls_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	return key_select(s, SQL_TLS_KEY_LIST, now, keys, max, n);
}

static int
key_write(struct store *s, const char *sql, const int64_t *args, int nargs, int *n)
{
	struct sq *q = sq_of(s);
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	return sq_finish(q, sq_run(q, sql, args, nargs, n));
}

int
sq_key_del_expired(struct store *s, int64_t now, int *n)
{
	return key_write(s, "DELETE FROM keys WHERE expires_at <= ?1", &now, 1, n);
}

int
sq_tls_key_del_expired(struct store *s, int64_t now, int *n)
{
	return key_write(s, "DELETE FROM tls_keys WHERE expires_at <= ?1", &now, 1, n);
}

int
sq_tls_key_activate(struct store *s, uint32_t kid, int64_t activates_at, int64_t expires_at)
{
	int64_t args[] = { kid, activates_at, expires_at };
	int n = 0, rc;

	rc = key_write(s, "UPDATE tls_keys SET activates_at = ?2, expires_at = ?3 WHERE kid = ?1",
	               args, 3, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "TLS key %u not found", kid);
	return rc;
}

/*
 * Retention, in one write transaction. The change log loses only a prefix
 * (everything before its first entry at or after before), so a follower that
 * reads past the pruned part never skips an entry in the middle.
 */
static const char *const SQL_PRUNE[] = {
	"DELETE FROM entry_codes WHERE expires_at < ?1",
	"DELETE FROM rights WHERE ended_at IS NOT NULL AND ended_at < ?1",
	"DELETE FROM audit WHERE at < ?1",
	"DELETE FROM logins WHERE expires_at < ?1",
	"DELETE FROM lockouts WHERE last_at < ?1",
	"DELETE FROM known_sources WHERE last_at < ?1",
	"DELETE FROM changes WHERE seq < coalesce((SELECT min(seq) FROM changes WHERE at >= ?1), "
	"(SELECT max(seq) + 1 FROM changes))",
};

int
sq_prune(struct store *s, int64_t before, int *n)
{
	struct sq *q = sq_of(s);
	int rc, k;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < sizeof SQL_PRUNE / sizeof SQL_PRUNE[0]; i++) {
		if ((rc = sq_run(q, SQL_PRUNE[i], &before, 1, &k)) != STORE_OK) {
			sq_rollback(q);
			return rc;
		}
		*n += k;
	}
	return sq_commit(q);
}

static const char SQL_STATS[] =
	"SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM services), "
	"(SELECT count(*) FROM rights WHERE ended_at IS NULL), "
	"(SELECT count(*) FROM rights WHERE ended_at IS NOT NULL), "
	"(SELECT count(*) FROM audit), "
	"coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)";

int
sq_stats(struct store *s, struct store_stats *st)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *t = sq_stmt(q, SQL_STATS);
	int rc, row;

	if (!t)
		return STORE_UNAVAILABLE;
	if ((rc = sq_step(q, t, "stats", &row)) == STORE_OK && row) {
		st->users = sqlite3_column_int64(t, 0);
		st->services = sqlite3_column_int64(t, 1);
		st->live_rights = sqlite3_column_int64(t, 2);
		st->ended_rights = sqlite3_column_int64(t, 3);
		st->audit_rows = sqlite3_column_int64(t, 4);
		st->last_seq = sqlite3_column_int64(t, 5);
	}
	sqlite3_reset(t);
	st->schema_version = q->version;
	return rc;
}
