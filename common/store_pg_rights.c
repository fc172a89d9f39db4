/*
 * PostgreSQL backend: what changes access rights — admission, ending,
 * last-seen, the sweep — and the entry codes bound to them. Ending a right
 * fires the schema's trigger, which frees the service's slot and appends to
 * the change log in the same transaction.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "right.h"
#include "store_pg_int.h"
#include "token.h"

/* admit()'s rc (sql/pg/007_load.sql; 5 since sql/pg/010_queue_service.sql). */
enum { ADMIT_OK = 0, ADMIT_DENIED = 1, ADMIT_NOTFOUND = 2, ADMIT_DOWN = 3, ADMIT_RATE = 5 };

/* Fills a from the row admit() returned (see sql/pg/001_init.sql for its columns). */
void
pg_admit_read(const PGresult *r, const struct addr *ip, int64_t now, const char *sid,
           struct store_admission *a)
{
	struct store_right *rt = &a->right;

	a->reaped = (int)pg_i64(r, 0, 2);
	a->replaced = !PQgetisnull(r, 0, 3);
	a->replaced_id = pg_i64(r, 0, 3);
	if (a->replaced)
		pg_addr(r, 0, 4, &a->replaced_ip);
	a->active = (int)pg_i64(r, 0, 5);
	a->cap = (int)pg_i64(r, 0, 6);
	rt->id = pg_i64(r, 0, 1);
	snprintf(rt->sid, sizeof rt->sid, "%s", sid);
	pg_text(r, 0, 7, rt->user_name, sizeof rt->user_name);
	pg_text(r, 0, 8, rt->service_name, sizeof rt->service_name);
	rt->expires_at = pg_i64(r, 0, 9);
	rt->idle_deadline = pg_i64(r, 0, 10);
	rt->ip = *ip;
	rt->created_at = rt->last_seen = now;
}

/*
 * The admission is one round trip: the server-side function admit() takes
 * the writers' lock (shared) and the service row, reaps, replaces, counts and inserts or
 * denies in one transaction (autocommit), so the cap is exact across every
 * connection and host.
 */
int
pg_admit(struct store *s, int64_t user_id, int64_t service_id, const struct addr *ip,
         int64_t now, struct store_admission *a)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	char sid[SID_HEX_LEN + 1];
	PGresult *r;
	int rc, verdict;

	if (random_hex(sid, sizeof sid, SID_HEX_LEN / 2) < 0)
		return store_fail(s, STORE_UNAVAILABLE, "no randomness for a session id");
	pgq_int(&q, user_id);
	pgq_int(&q, service_id);
	pgq_addr(&q, ip);
	pgq_int(&q, now);
	pgq_text(&q, sid);
	rc = pg_exec(p, "SELECT rc, right_id, reaped, replaced_id, replaced_ip, active, cap, "
	             "user_name, service_name, expires_at, idle_deadline "
	             "FROM admit($1, $2, $3, $4, $5)", &q, &r, "admit");
	if (rc != STORE_OK)
		return rc;
	verdict = (int)pg_i64(r, 0, 0);
	if (verdict == ADMIT_NOTFOUND) {
		PQclear(r);
		return store_fail(s, STORE_NOTFOUND, "no such enabled service or user");
	}
	a->right.user_id = user_id;
	a->right.service_id = service_id;
	pg_admit_read(r, ip, now, sid, a);
	PQclear(r);
	if (verdict == ADMIT_OK)   /* a denial wrote nothing */
		pg_ring(p);
	if (verdict == ADMIT_DENIED || verdict == ADMIT_DOWN || verdict == ADMIT_RATE) {
		char name[NAME_MAX_LEN + 1];
		int64_t next = a->right.expires_at;   /* rc 5: when the rate next has room */
		snprintf(name, sizeof name, "%s", a->right.service_name);
		memset(&a->right, 0, sizeof a->right);
		if ((a->rate = verdict == ADMIT_RATE)) {
			a->rate_next = next;
			return store_fail(s, STORE_DENIED, "%s: admission rate spent", name);
		}
		if ((a->down = verdict == ADMIT_DOWN))
			return store_fail(s, STORE_DENIED, "%s is unavailable (down)", name);
		return store_fail(s, STORE_DENIED, "%s is full (%d of %d)", name, a->active, a->cap);
	}
	return STORE_OK;
}

int
pg_end(struct store *s, int64_t right_id, int reason, int64_t now, struct store_right *out)
{
	struct pgs *p = pg_of(s);
	struct pg_rights got = { 0 };
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_int(&q, right_id);
	pgq_int(&q, now);
	pgq_int(&q, reason);
	rc = pg_end_txn(p, "UPDATE rights SET ended_at = $2, end_reason = $3 "
	                "WHERE id = $1 AND ended_at IS NULL RETURNING " PG_RIGHT_COLS, &q, &got, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "right %lld is not live", (long long)right_id);
	if (rc == STORE_OK && out)
		*out = got.v[0];
	pg_rights_deliver(&got, NULL, NULL);
	return rc;
}

int
pg_end_user(struct store *s, int64_t user_id, int64_t service_id, int reason, int64_t now,
            store_right_fn fn, void *arg)
{
	struct pg_rights got = { 0 };
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, user_id);
	pgq_int(&q, service_id);
	pgq_int(&q, now);
	pgq_int(&q, reason);
	rc = pg_end_txn(pg_of(s), "UPDATE rights SET ended_at = $3, end_reason = $4 "
	                "WHERE user_id = $1 AND ($2::bigint = 0 OR service_id = $2) "
	                "AND ended_at IS NULL RETURNING " PG_RIGHT_COLS, &q, &got, NULL);
	pg_rights_deliver(&got, rc == STORE_OK ? fn : NULL, arg);
	return rc;
}

/*
 * One transaction for the whole batch, the ids and times as two arrays. The
 * rows are locked in id order first, so two gateways flushing overlapping
 * batches wait for each other instead of deadlocking. No writers' lock:
 * last-seen is not a change followers replay.
 */
int
pg_touch(struct store *s, const int64_t *ids, const int64_t *seen, size_t n)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	char *a = malloc(2 + n * 21), *b = malloc(2 + n * 21);
	size_t la = 0, lb = 0;
	int rc;

	if (!a || !b) {
		free(a);
		free(b);
		return store_fail(s, STORE_UNAVAILABLE, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		la += (size_t)sprintf(a + la, "%c%lld", i ? ',' : '{', (long long)ids[i]);
		lb += (size_t)sprintf(b + lb, "%c%lld", i ? ',' : '{', (long long)seen[i]);
	}
	sprintf(a + la, "}");
	sprintf(b + lb, "}");
	pgq_text(&q, a);
	pgq_text(&q, b);
	if ((rc = pg_begin(p, 0)) == STORE_OK) {
		q.n = 1;
		rc = pg_run(p, "SELECT 1 FROM rights WHERE id = ANY ($1::bigint[]) AND ended_at IS NULL "
		            "ORDER BY id FOR NO KEY UPDATE", &q, NULL, "touch: lock");
		q.n = 2;
		if (rc == STORE_OK)
			rc = pg_run(p, "UPDATE rights r SET last_seen = t.seen FROM (SELECT id, "
			            "max(seen) AS seen FROM unnest($1::bigint[], $2::bigint[]) AS u (id, seen) "
			            "GROUP BY id) t WHERE r.id = t.id AND r.ended_at IS NULL "
			            "AND r.last_seen < t.seen", &q, NULL, "touch");
		rc = pg_finish(p, rc);
	}
	free(a);
	free(b);
	return rc;
}

/* One statement ends every right past expiry or idle: expiry wins when both hold. */
int
pg_sweep(struct store *s, int64_t now, store_right_fn fn, void *arg, int *n)
{
	struct pg_rights got = { 0 };
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, now);
	rc = pg_end_txn(pg_of(s), "UPDATE rights SET ended_at = $1, "
	                "end_reason = CASE WHEN expires_at <= $1 THEN 1 ELSE 2 END "
	                "WHERE id IN (SELECT r.id FROM rights r JOIN services v ON v.id = r.service_id "
	                "WHERE r.ended_at IS NULL AND (r.expires_at <= $1 "
	                "OR r.last_seen + 60 * v.max_interval_min <= $1)) "
	                "RETURNING " PG_RIGHT_COLS, &q, &got, n);
	pg_rights_deliver(&got, rc == STORE_OK ? fn : NULL, arg);
	return rc;
}

int
pg_code_put(struct store *s, const char *code_hash, int64_t right_id, int64_t expires_at)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_text(&q, code_hash);
	pgq_int(&q, right_id);
	pgq_int(&q, expires_at);
	rc = pg_run(pg_of(s), "INSERT INTO entry_codes (code_hash, right_id, expires_at) "
	            "SELECT $1, id, $3::bigint FROM rights WHERE id = $2 AND ended_at IS NULL",
	            &q, &n, "code put");
	if (rc == STORE_EXISTS)
		return store_fail(s, STORE_EXISTS, "entry code exists");
	if (rc == STORE_OK && n == 0)
		return store_fail(s, STORE_NOTFOUND, "right %lld is not live", (long long)right_id);
	return rc;
}

/*
 * The code's right into r; *known 0 when the code is unknown, *usable 0 when
 * it expired or its right is no longer usable at now. The code's row stays
 * locked until the transaction ends.
 */
static int
code_read(struct pgs *p, const char *code_hash, int64_t now, struct store_right *r,
          int *known, int *usable)
{
	struct pgq q = { .n = 0 };
	PGresult *res;
	int64_t right_id = 0, expires_at = 0;
	int rc;

	*known = *usable = 0;
	pgq_text(&q, code_hash);
	if ((rc = pg_exec(p, "SELECT right_id, expires_at FROM entry_codes WHERE code_hash = $1 "
	                  "FOR UPDATE", &q, &res, "code take")) != STORE_OK)
		return rc;
	if ((*known = PQntuples(res) == 1)) {
		right_id = pg_i64(res, 0, 0);
		expires_at = pg_i64(res, 0, 1);
	}
	PQclear(res);
	if (!*known || expires_at <= now)
		return STORE_OK;
	q.n = 0;
	pgq_int(&q, right_id);
	if ((rc = pg_exec(p, "SELECT " PG_RIGHT_COLS " FROM rights WHERE id = $1", &q, &res,
	                  "code take: right")) != STORE_OK)
		return rc;
	if (PQntuples(res) == 1) {
		pg_read_right(res, 0, 0, r);
		*usable = right_usable(r, now);
	}
	PQclear(res);
	return STORE_OK;
}

/* STORE_OK when r's service is still called service, else STORE_INVALID. */
static int
code_service(struct pgs *p, const struct store_right *r, const char *service)
{
	char name[NAME_MAX_LEN + 1] = "";
	struct pgq q = { .n = 0 };
	PGresult *res;
	int rc;

	pgq_int(&q, r->service_id);
	if ((rc = pg_exec(p, "SELECT name FROM services WHERE id = $1", &q, &res,
	                  "code take: service")) != STORE_OK)
		return rc;
	if (PQntuples(res) == 1)
		pg_text(res, 0, 0, name, sizeof name);
	PQclear(res);
	if (strcmp(name, service) != 0)
		return store_fail(&p->base, STORE_INVALID, "entry code of right %lld is for service %s, "
		                  "not %s", (long long)r->id, r->service_name, service);
	return STORE_OK;
}

/*
 * As sq_code_take (store.h): an unknown, expired or dead code is NOTFOUND
 * (and deleted); a good one from another address or at another door is
 * INVALID and stays; only a good one from its address at its door is deleted
 * and its right handed back.
 */
int
pg_code_take(struct store *s, const char *code_hash, const struct addr *ip, const char *service,
             int64_t now, struct store_right *r)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	char a[ADDR_STR_MAX];
	int rc, known, usable;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	if ((rc = code_read(p, code_hash, now, r, &known, &usable)) == STORE_OK && !known)
		rc = store_fail(s, STORE_NOTFOUND, "no such entry code");
	if (rc == STORE_OK && usable && !addr_eq(&r->ip, ip))
		rc = store_fail(s, STORE_INVALID, "entry code of right %lld was issued to %s",
		                (long long)r->id, addr_str(&r->ip, a, sizeof a));
	if (rc == STORE_OK && usable && service != NULL)
		rc = code_service(p, r, service);
	pgq_text(&q, code_hash);
	if (rc == STORE_OK)
		rc = pg_run(p, "DELETE FROM entry_codes WHERE code_hash = $1", &q, NULL, "code take");
	if ((rc = pg_finish(p, rc)) != STORE_OK)
		return rc;
	if (!usable)
		return store_fail(s, STORE_NOTFOUND, "entry code expired or its right ended");
	return STORE_OK;
}
