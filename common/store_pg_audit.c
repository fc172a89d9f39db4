/*
 * PostgreSQL backend: the audit trail, the two key rings, retention and counts.
 */

#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"

int
pg_audit(struct store *s, int64_t now, const char *actor, const char *action,
         const char *service, const char *target, const char *detail)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, now);
	pgq_text(&q, actor);
	pgq_text(&q, action);
	pgq_text(&q, service);
	pgq_text(&q, target);
	pgq_text(&q, detail);
	return pg_run(pg_of(s), "INSERT INTO audit (at, actor, action, service, target, detail) "
	              "VALUES ($1, $2, $3, $4, $5, $6)", &q, NULL, "audit");
}

int
pg_audit_list(struct store *s, const struct store_audit_filter *f,
              int (*fn)(const struct store_audit *, void *), void *arg)
{
	struct pgq q = { .n = 0 };
	struct store_audit a;
	PGresult *r;
	int rc;

	pgq_text(&q, f->service ? f->service : "");
	pgq_text(&q, f->user ? f->user : "");
	pgq_int(&q, f->before_id > 0 ? f->before_id : 0);
	pgq_int(&q, f->limit);
	pgq_int(&q, f->service != NULL);
	pgq_int(&q, f->user != NULL);
	rc = pg_exec(pg_of(s), "SELECT id, at, actor, action, service, target, detail FROM audit "
	             "WHERE ($3::bigint = 0 OR id < $3) AND ($5::int = 0 OR service = $1) "
	             "AND ($6::int = 0 OR actor = $2 OR target = $2) ORDER BY id DESC LIMIT $4",
	             &q, &r, "audit list");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		memset(&a, 0, sizeof a);
		a.id = pg_i64(r, i, 0);
		a.at = pg_i64(r, i, 1);
		pg_text(r, i, 2, a.actor, sizeof a.actor);
		pg_text(r, i, 3, a.action, sizeof a.action);
		pg_text(r, i, 4, a.service, sizeof a.service);
		pg_text(r, i, 5, a.target, sizeof a.target);
		pg_text(r, i, 6, a.detail, sizeof a.detail);
		if (fn && fn(&a, arg))
			break;
	}
	PQclear(r);
	return rc;
}

/*
 * Both key rings have the same columns; the helpers take the statement.
 * Adding a cookie key appends to the change log (trigger), so it runs as a
 * write transaction. A TLS key is added only when no key activating at or
 * after unless_from exists: the transaction first takes an advisory lock of
 * the ring, so the check in the next statement sees the other gateway's
 * committed key (read committed takes a new snapshot per statement).
 */
static int
key_insert(struct store *s, const char *lock, const char *sql, const struct store_key *k,
           int64_t unless_from, int *added)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, k->kid);
	pgq_bytes(&q, k->secret, KEY_SECRET_LEN);
	pgq_int(&q, k->created_at);
	pgq_int(&q, k->activates_at);
	pgq_int(&q, k->expires_at);
	if (lock)
		pgq_int(&q, unless_from);
	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	if (lock)
		rc = pg_exec(p, lock, NULL, NULL, "key ring lock");
	if (rc == STORE_OK)
		rc = pg_run(p, sql, &q, added, "key add");
	if (rc == STORE_EXISTS)
		rc = store_fail(s, STORE_EXISTS, "key %u exists", k->kid);
	return pg_finish(p, rc);
}

int
pg_key_add(struct store *s, const struct store_key *k)
{
	int added;

	return key_insert(s, NULL, "INSERT INTO keys (kid, secret, created_at, activates_at, "
	                  "expires_at) VALUES ($1, $2, $3, $4, $5)", k, 0, &added);
}

int
pg_tls_key_add(struct store *s, const struct store_key *k, int64_t unless_from, int *added)
{
	return key_insert(s, "SELECT pg_advisory_xact_lock(hashtext('sekisho.tls_keys'))",
	                  "INSERT INTO tls_keys (kid, secret, created_at, activates_at, expires_at) "
	                  "SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS "
	                  "(SELECT 1 FROM tls_keys WHERE activates_at >= $6)", k, unless_from, added);
}

static int
key_select(struct store *s, const char *sql, int64_t now, struct store_key *keys, int max, int *n)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, now);
	pgq_int(&q, max);
	rc = pg_exec(pg_of(s), sql, &q, &r, "key list");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r) && *n < max; i++) {
		struct store_key *k = &keys[(*n)++];
		memset(k, 0, sizeof *k);
		k->kid = (uint32_t)pg_i64(r, i, 0);
		if (pg_bytes(r, i, 1, k->secret, KEY_SECRET_LEN) != KEY_SECRET_LEN)
			rc = store_fail(s, STORE_UNAVAILABLE, "key %u: malformed secret", k->kid);
		k->created_at = pg_i64(r, i, 2);
		k->activates_at = pg_i64(r, i, 3);
		k->expires_at = pg_i64(r, i, 4);
	}
	PQclear(r);
	return rc;
}

int
pg_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	return key_select(s, "SELECT kid, secret, created_at, activates_at, expires_at FROM keys "
	                  "WHERE expires_at > $1 ORDER BY activates_at DESC, kid LIMIT $2",
	                  now, keys, max, n);
}

int
pg_tls_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	return key_select(s, "SELECT kid, secret, created_at, activates_at, expires_at FROM tls_keys "
	                  "WHERE expires_at > $1 ORDER BY activates_at DESC, kid LIMIT $2",
	                  now, keys, max, n);
}

static int
key_write(struct store *s, const char *sql, const int64_t *args, int nargs, int *n)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc;

	for (int i = 0; i < nargs; i++)
		pgq_int(&q, args[i]);
	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	rc = pg_run(p, sql, &q, n, "key write");
	return pg_finish(p, rc);
}

int
pg_key_del_expired(struct store *s, int64_t now, int *n)
{
	return key_write(s, "DELETE FROM keys WHERE expires_at <= $1", &now, 1, n);
}

int
pg_tls_key_del_expired(struct store *s, int64_t now, int *n)
{
	return key_write(s, "DELETE FROM tls_keys WHERE expires_at <= $1", &now, 1, n);
}

int
pg_tls_key_activate(struct store *s, uint32_t kid, int64_t activates_at, int64_t expires_at)
{
	int64_t args[] = { kid, activates_at, expires_at };
	int n = 0, rc;

	rc = key_write(s, "UPDATE tls_keys SET activates_at = $2, expires_at = $3 WHERE kid = $1",
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
	"DELETE FROM entry_codes WHERE expires_at < $1",
	"DELETE FROM rights WHERE ended_at IS NOT NULL AND ended_at < $1",
	"DELETE FROM audit WHERE at < $1",
	"DELETE FROM logins WHERE expires_at < $1",
	"DELETE FROM lockouts WHERE last_at < $1",
	"DELETE FROM known_sources WHERE last_at < $1",
	"DELETE FROM changes WHERE seq < coalesce((SELECT min(seq) FROM changes WHERE at >= $1), "
	"(SELECT max(seq) + 1 FROM changes))",
};

int
pg_prune(struct store *s, int64_t before, int *n)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc, k;

	pgq_int(&q, before);
	/* Entries nobody has read yet get their numbers, so retention reaches them too. */
	if ((rc = pg_run(p, "SELECT feed_publish()", NULL, NULL, "prune: publish")) != STORE_OK ||
	    (rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	for (size_t i = 0; rc == STORE_OK && i < sizeof SQL_PRUNE / sizeof SQL_PRUNE[0]; i++) {
		k = 0;
		rc = pg_run(p, SQL_PRUNE[i], &q, &k, "prune");
		*n += k;
	}
	return pg_finish(p, rc);
}

int
pg_stats(struct store *s, struct store_stats *st)
{
	struct pgs *p = pg_of(s);
	PGresult *r;
	int rc = pg_exec(p, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM services), "
	                 "(SELECT count(*) FROM rights WHERE ended_at IS NULL), "
	                 "(SELECT count(*) FROM rights WHERE ended_at IS NOT NULL), "
	                 "(SELECT count(*) FROM audit), feed_publish()", NULL, &r, "stats");

	if (rc == STORE_OK) {
		st->users = pg_i64(r, 0, 0);
		st->services = pg_i64(r, 0, 1);
		st->live_rights = pg_i64(r, 0, 2);
		st->ended_rights = pg_i64(r, 0, 3);
		st->audit_rows = pg_i64(r, 0, 4);
		st->last_seq = pg_i64(r, 0, 5);
		st->schema_version = p->version;
	}
	PQclear(r);
	return rc;
}
