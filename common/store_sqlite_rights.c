/*
 * SQLite backend: what changes access rights — admission, ending, last-seen,
 * the sweep — and the entry codes bound to them.
 *
 * Multi-statement writes run inside BEGIN IMMEDIATE. A write that is one
 * statement runs on its own: SQLite takes the write lock for it up front, which
 * is the same thing. Ending a right fires the schema's triggers, which free the
 * service's slot and append to the change log in the same transaction.
 */

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "right.h"
#include "store_sqlite_int.h"
#include "token.h"

struct admit_ctx {
	int64_t user_id, service_id, now;
	const struct addr *ip;
	int     cap, usage_min, interval_min, down, rate;
	char    user_name[NAME_MAX_LEN + 1];
	char    service_name[NAME_MAX_LEN + 1];
};

static const char SQL_ADMIT_SERVICE[] =
	"SELECT name, CASE WHEN cap_effective >= 0 AND cap_effective < cap THEN cap_effective "
	"ELSE cap END, max_usage_min, max_interval_min, health, rate_per_min FROM services "
	"WHERE id = ?1 AND enabled = 1";
static const char SQL_ADMIT_USER[] =
	"SELECT name FROM users WHERE id = ?1 AND disabled = 0";

/* Loads the enabled service and the enabled user; STORE_NOTFOUND if either is missing. */
static int
admit_load(struct sq *q, struct admit_ctx *c)
{
	sqlite3_stmt *st;
	int rc, row;

	if (!(st = sq_stmt(q, SQL_ADMIT_SERVICE)))
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, c->service_id);
	if ((rc = sq_step(q, st, "admit: service", &row)) != STORE_OK)
		return rc;
	if (row) {
		sq_col_text(st, 0, c->service_name, sizeof c->service_name);
		c->cap = sqlite3_column_int(st, 1);
		c->usage_min = sqlite3_column_int(st, 2);
		c->interval_min = sqlite3_column_int(st, 3);
		c->down = sqlite3_column_int(st, 4) == 1;
		c->rate = sqlite3_column_int(st, 5);
	}
	sqlite3_reset(st);
	if (!row)
		return store_fail(&q->base, STORE_NOTFOUND, "no such enabled service");
	if (!(st = sq_stmt(q, SQL_ADMIT_USER)))
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, c->user_id);
	if ((rc = sq_step(q, st, "admit: user", &row)) != STORE_OK)
		return rc;
	if (row)
		sq_col_text(st, 0, c->user_name, sizeof c->user_name);
	sqlite3_reset(st);
	return row ? STORE_OK : store_fail(&q->base, STORE_NOTFOUND, "no such enabled user");
}

/*
 * Ends the rights that are no longer usable by right_usable() (common/right.c):
 * expired (now >= expires_at) or idle (now >= last_seen + interval, ?3 being
 * now - interval). Expiry wins when both hold.
 */
static const char SQL_REAP_SERVICE[] =
	"UPDATE rights SET ended_at = ?2, "
	"end_reason = CASE WHEN expires_at <= ?2 THEN 1 ELSE 2 END "
	"WHERE id IN (SELECT id FROM rights WHERE service_id = ?1 AND ended_at IS NULL "
	"AND expires_at <= ?2 UNION ALL SELECT id FROM rights WHERE service_id = ?1 "
	"AND ended_at IS NULL AND last_seen <= ?3)";
static const char SQL_MINE_LIVE[] =
	"SELECT id, ip FROM rights WHERE user_id = ?1 AND service_id = ?2 AND ended_at IS NULL";
static const char SQL_REPLACE[] =
	"UPDATE rights SET ended_at = ?3, end_reason = 6 "
	"WHERE user_id = ?1 AND service_id = ?2 AND ended_at IS NULL";

/*
 * Ends the service's expired and idle rights and finds the user's own live
 * one (*held: how many; a->replaced, its id and IP), which is ended only
 * when the admission goes ahead (admit_replace).
 */
static int
admit_clear(struct sq *q, const struct admit_ctx *c, struct store_admission *a, int64_t *held)
{
	int64_t reap[] = { c->service_id, c->now, c->now - 60 * (int64_t)c->interval_min };
	int64_t mine[] = { c->user_id, c->service_id };
	sqlite3_stmt *st;
	int rc, row;

	*held = 0;
	if ((rc = sq_run(q, SQL_REAP_SERVICE, reap, 3, &a->reaped)) != STORE_OK)
		return rc;
	if (!(st = sq_stmt(q, SQL_MINE_LIVE)))
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, mine, 2);
	while ((rc = sq_step(q, st, "admit: own right", &row)) == STORE_OK && row) {
		a->replaced = 1;
		a->replaced_id = sqlite3_column_int64(st, 0);
		sq_col_addr(st, 1, &a->replaced_ip);
		(*held)++;
	}
	sqlite3_reset(st);
	return rc;
}

/* Ends the user's own live right found by admit_clear (end reason: replaced). */
static int
admit_replace(struct sq *q, const struct admit_ctx *c)
{
	int64_t mine[] = { c->user_id, c->service_id, c->now };

	return sq_run(q, SQL_REPLACE, mine, 3, NULL);
}

static const char SQL_ACTIVE[] = "SELECT active FROM services WHERE id = ?1";
static const char SQL_INSERT_RIGHT[] =
	"INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip, "
	"created_at, expires_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7) "
	"RETURNING id";

/* Inserts the new right described by c and fills a->right. */
static int
admit_insert(struct sq *q, const struct admit_ctx *c, struct store_admission *a)
{
	struct store_right *r = &a->right;
	sqlite3_stmt *st;
	int rc, row;

	if (random_hex(r->sid, sizeof r->sid, SID_HEX_LEN / 2) < 0)
		return store_fail(&q->base, STORE_UNAVAILABLE, "no randomness for a session id");
	r->user_id = c->user_id;
	r->service_id = c->service_id;
	snprintf(r->user_name, sizeof r->user_name, "%s", c->user_name);
	snprintf(r->service_name, sizeof r->service_name, "%s", c->service_name);
	r->ip = *c->ip;
	r->created_at = r->last_seen = c->now;
	r->expires_at = c->now + 60 * (int64_t)c->usage_min;
	r->idle_deadline = c->now + 60 * (int64_t)c->interval_min;
	if (!(st = sq_stmt(q, SQL_INSERT_RIGHT)))
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, r->sid);
	sqlite3_bind_int64(st, 2, r->user_id);
	sq_bind_text(st, 3, r->user_name);
	sqlite3_bind_int64(st, 4, r->service_id);
	sq_bind_text(st, 5, r->service_name);
	sq_bind_addr(st, 6, &r->ip);
	sqlite3_bind_int64(st, 7, r->created_at);
	sqlite3_bind_int64(st, 8, r->expires_at);
	if ((rc = sq_step(q, st, "admit: insert", &row)) == STORE_OK)
		r->id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc;
}

static const char SQL_RATE_PRUNE[] = "DELETE FROM admissions WHERE service_id = ?1 AND at <= ?2";
static const char SQL_RATE_COUNT[] = "SELECT count(*) FROM admissions WHERE service_id = ?1";
/* The admission whose leaving gives room: the (n - R + 1)th oldest (R lowered: not the oldest). */
static const char SQL_RATE_NEXT[] =
	"SELECT at FROM admissions WHERE service_id = ?1 ORDER BY at LIMIT 1 OFFSET ?2";
static const char SQL_RATE_ADD[] = "INSERT INTO admissions (service_id, at) VALUES (?1, ?2)";

/*
 * *room: the new admissions the service's rate still allows now (contract
 * 10): INT_MAX without a rate or for a replacement. *line: the same for the
 * users in line, who are all new (INT_MAX without a rate). When none,
 * a->rate_next is when enough admissions of the last 60 s have left the
 * window for one more (the oldest's leaving, unless the rate was lowered since).
 */
static int
rate_room(struct sq *q, const struct admit_ctx *c, struct store_admission *a, int *room,
          int *line)
{
	int64_t prune[] = { c->service_id, c->now - 60 }, n = 0, next[2], leaving = 0;
	int rc;

	*room = *line = INT_MAX;
	if (c->rate <= 0)
		return STORE_OK;
	if ((rc = sq_run(q, SQL_RATE_PRUNE, prune, 2, NULL)) != STORE_OK ||
	    (rc = sq_int(q, SQL_RATE_COUNT, &c->service_id, 1, &n)) != STORE_OK)
		return rc;
	*line = c->rate - (int)n;
	if (a->replaced)
		return STORE_OK;
	*room = *line;
	if (*room > 0)
		return STORE_OK;
	next[0] = c->service_id;
	next[1] = n - c->rate;
	if ((rc = sq_int(q, SQL_RATE_NEXT, next, 2, &leaving)) != STORE_OK)
		return rc;
	a->rate_next = leaving + 60;
	return STORE_OK;
}

/* Counts a new admission in the rate (contract 10); a replacement is not new. */
static int
rate_count(struct sq *q, const struct admit_ctx *c, const struct store_admission *a)
{
	int64_t add[] = { c->service_id, c->now };

	if (c->rate <= 0 || a->replaced)
		return STORE_OK;
	return sq_run(q, SQL_RATE_ADD, add, 2, NULL);
}

static const char SQL_TURNS[] =
	"UPDATE queue SET turn_at = ?3 WHERE turn_at IS NULL AND id IN "
	"(SELECT id FROM queue WHERE service_id = ?1 ORDER BY id LIMIT ?2)";

/*
 * Stamps the turn of the first places in line the service could admit now
 * (store.h, contract 6: turns): free slots under the cap in force (active
 * counts every live right, the caller's own too) within the rate's room.
 */
static int
queue_turns(struct sq *q, const struct admit_ctx *c, int64_t active, int line)
{
	int64_t k = c->cap - active, args[3] = { c->service_id, 0, c->now };

	if (line < k)
		k = line;
	if (k <= 0)
		return STORE_OK;
	args[1] = k;
	return sq_run(q, SQL_TURNS, args, 3, NULL);
}

/*
 * The admission's steps inside the caller's write transaction: load, reap,
 * find the user's own live right, count (the own right counted as free),
 * the rate's room, the line's turns; then decide(arg, a, room) says whether to replace and
 * insert (1) or deny (0: the own right stays live), or fails (a store_rc < 0
 * is never returned: -1 = error).
 * a->cap is the cap in force (cap_effective when the prober set a lower
 * one), so every caller's rule holds the line there. A down service is
 * refused before any write (STORE_DENIED with a->down set), whatever decide
 * would say. STORE_OK with *admitted set, or an error (the caller rolls back).
 */
int
sq_admit_steps(struct sq *q, int64_t user_id, int64_t service_id, const struct addr *ip,
               int64_t now, struct store_admission *a,
               int (*decide)(struct sq *, void *, const struct store_admission *, int room),
               void *arg, int *admitted)
{
	struct admit_ctx c = { .user_id = user_id, .service_id = service_id, .now = now, .ip = ip };
	int64_t active = 0, held = 0;
	int rc, go, room = INT_MAX, line;

	*admitted = 0;
	if ((rc = admit_load(q, &c)) != STORE_OK ||
	    (!c.down && (rc = admit_clear(q, &c, a, &held)) != STORE_OK) ||
	    (rc = sq_int(q, SQL_ACTIVE, &service_id, 1, &active)) != STORE_OK)
		return rc;
	a->cap = c.cap;
	a->active = (int)(active - held);     /* the own right is counted as free */
	if (c.down) {
		a->down = 1;
		return store_fail(&q->base, STORE_DENIED, "%s is unavailable (down)", c.service_name);
	}
	if ((rc = rate_room(q, &c, a, &room, &line)) != STORE_OK ||
	    (rc = queue_turns(q, &c, active, line)) != STORE_OK)
		return rc;
	if ((go = decide(q, arg, a, room)) < 0)
		return STORE_UNAVAILABLE;
	if (!go) {
		a->replaced = 0;
		a->replaced_id = 0;
		memset(&a->replaced_ip, 0, sizeof a->replaced_ip);
		a->active = (int)active;
		return store_fail(&q->base, STORE_DENIED, "%s is full (%d of %d)", c.service_name,
		                  a->active, c.cap);
	}
	if (room <= 0) {
		a->rate = 1;
		return store_fail(&q->base, STORE_DENIED, "%s: admission rate spent", c.service_name);
	}
	if ((held && (rc = admit_replace(q, &c)) != STORE_OK) ||
	    (rc = admit_insert(q, &c, a)) != STORE_OK || (rc = rate_count(q, &c, a)) != STORE_OK)
		return rc;
	a->active++;
	*admitted = 1;
	return STORE_OK;
}

/* store_admit's rule: a free slot under the cap. */
static int
under_cap(struct sq *q, void *arg, const struct store_admission *a, int room)
{
	(void)q;
	(void)arg;
	(void)room;                          /* the rate is checked after the cap */
	return a->active < a->cap;
}

/*
 * The admission, in one write transaction (see store.h). Writers are
 * serialised by the database lock, so the count read here cannot change
 * before the insert commits: the cap is exact across processes.
 */
int
sq_admit(struct store *s, int64_t user_id, int64_t service_id, const struct addr *ip,
         int64_t now, struct store_admission *a)
{
	struct sq *q = sq_of(s);
	int rc, admitted;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_admit_steps(q, user_id, service_id, ip, now, a, under_cap, NULL, &admitted);
	if (rc == STORE_OK && (rc = sq_commit(q)) == STORE_OK)
		return STORE_OK;
	sq_rollback(q);
	if (rc == STORE_DENIED) {
		struct store_admission kept = *a;
		memset(a, 0, sizeof *a);
		a->active = kept.active;
		a->cap = kept.cap;
		a->down = kept.down;
		a->rate = kept.rate;
		a->rate_next = kept.rate_next;
		return rc;
	}
	memset(a, 0, sizeof *a);
	return rc;
}

static const char SQL_END_ONE[] =
	"UPDATE rights SET ended_at = ?2, end_reason = ?3 "
	"WHERE id = ?1 AND ended_at IS NULL RETURNING " SQ_RIGHT_COLS;

int
sq_end(struct store *s, int64_t right_id, int reason, int64_t now, struct store_right *out)
{
	struct sq_rights rs = { 0 };
	int64_t args[] = { right_id, now, reason };
	int rc, n;

	rc = sq_end_txn(sq_of(s), SQL_END_ONE, args, 3, &rs, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "right %lld is not live", (long long)right_id);
	if (rc == STORE_OK && out)
		*out = rs.v[0];
	sq_rights_deliver(&rs, NULL, NULL);
	return rc;
}

static const char SQL_END_USER[] =
	"UPDATE rights SET ended_at = ?3, end_reason = ?4 "
	"WHERE user_id = ?1 AND (?2 = 0 OR service_id = ?2) AND ended_at IS NULL "
	"RETURNING " SQ_RIGHT_COLS;

int
sq_end_user(struct store *s, int64_t user_id, int64_t service_id, int reason, int64_t now,
            store_right_fn fn, void *arg)
{
	struct sq_rights rs = { 0 };
	int64_t args[] = { user_id, service_id, now, reason };
	int rc, n;

	if ((rc = sq_end_txn(sq_of(s), SQL_END_USER, args, 4, fn ? &rs : NULL, &n)) != STORE_OK)
		fn = NULL;
	sq_rights_deliver(&rs, fn, arg);
	return rc;
}

static const char SQL_TOUCH[] =
	"UPDATE rights SET last_seen = ?2 "
	"WHERE id = ?1 AND ended_at IS NULL AND last_seen < ?2";

int
sq_touch(struct store *s, const int64_t *ids, const int64_t *seen, size_t n)
{
	struct sq *q = sq_of(s);
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int64_t args[] = { ids[i], seen[i] };
		if ((rc = sq_run(q, SQL_TOUCH, args, 2, NULL)) != STORE_OK) {
			sq_rollback(q);
			return rc;
		}
	}
	return sq_commit(q);
}

/*
 * One statement ends every right past expiry or idle, the complement of
 * right_usable() (common/right.c): expiry wins when both hold. The rights
 * are collected from RETURNING and handed to fn once the
 * transaction has committed.
 */
static const char SQL_SWEEP[] =
	"UPDATE rights SET ended_at = ?1, "
	"end_reason = CASE WHEN expires_at <= ?1 THEN 1 ELSE 2 END "
	"WHERE id IN (SELECT s.id FROM rights s JOIN services v ON v.id = s.service_id "
	"WHERE s.ended_at IS NULL AND (s.expires_at <= ?1 "
	"OR s.last_seen + 60 * v.max_interval_min <= ?1)) "
	"RETURNING " SQ_RIGHT_COLS;

int
sq_sweep(struct store *s, int64_t now, store_right_fn fn, void *arg, int *n)
{
	struct sq_rights rs = { 0 };
	int rc;

	if ((rc = sq_end_txn(sq_of(s), SQL_SWEEP, &now, 1, fn ? &rs : NULL, n)) != STORE_OK)
		fn = NULL;
	sq_rights_deliver(&rs, fn, arg);
	return rc;
}

static const char SQL_CODE_PUT[] =
	"INSERT INTO entry_codes (code_hash, right_id, expires_at) "
	"SELECT ?1, id, ?3 FROM rights WHERE id = ?2 AND ended_at IS NULL";

int
sq_code_put(struct store *s, const char *code_hash, int64_t right_id, int64_t expires_at)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, SQL_CODE_PUT, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, code_hash);
	sqlite3_bind_int64(st, 2, right_id);
	sqlite3_bind_int64(st, 3, expires_at);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = store_fail(s, STORE_EXISTS, "entry code exists");
	else if (rc != SQLITE_DONE)
		rc = sq_fail(q, rc, "code put");
	else if (sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "right %lld is not live", (long long)right_id);
	else
		rc = STORE_OK;
	return sq_finish(q, rc);
}

static const char SQL_CODE_GET[] =
	"SELECT right_id, expires_at FROM entry_codes WHERE code_hash = ?1";
static const char SQL_CODE_DEL[] = "DELETE FROM entry_codes WHERE code_hash = ?1";
static const char SQL_RIGHT_BY_ID[] =
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE id = ?1";
static const char SQL_SERVICE_NAME[] = "SELECT name FROM services WHERE id = ?1";

/* Runs a statement whose only parameter ?1 is the code hash; *row says whether it gave one. */
static int
code_stmt(struct sq *q, const char *sql, const char *code_hash, sqlite3_stmt **st, int *row)
{
	if (!(*st = sq_stmt(q, sql)))
		return STORE_UNAVAILABLE;
	sq_bind_text(*st, 1, code_hash);
	return sq_step(q, *st, "code take", row);
}

/*
 * The code's right into r when the code is still good at now: *usable 0 when
 * the code is unknown (*known 0), expired, or its right is no longer live.
 */
static int
code_read(struct sq *q, const char *code_hash, int64_t now, struct store_right *r,
          int *known, int *usable)
{
	sqlite3_stmt *st;
	int64_t right_id = 0, expires_at = 0;
	int rc, row;

	*known = *usable = 0;
	if ((rc = code_stmt(q, SQL_CODE_GET, code_hash, &st, &row)) == STORE_OK && row) {
		right_id = sqlite3_column_int64(st, 0);
		expires_at = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != STORE_OK || !row)
		return rc;
	*known = 1;
	if (expires_at <= now)
		return STORE_OK;
	if (!(st = sq_stmt(q, SQL_RIGHT_BY_ID)))
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, right_id);
	if ((rc = sq_step(q, st, "code take: right", &row)) == STORE_OK && row)
		sq_read_right(st, 0, r);
	sqlite3_reset(st);
	*usable = rc == STORE_OK && row && right_usable(r, now);
	return rc;
}

/* STORE_OK when the right's service is still called service, else STORE_INVALID. */
static int
code_service(struct sq *q, const struct store_right *r, const char *service)
{
	char name[NAME_MAX_LEN + 1] = "";
	sqlite3_stmt *st = sq_stmt(q, SQL_SERVICE_NAME);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, r->service_id);
	if ((rc = sq_step(q, st, "code take: service", &row)) == STORE_OK && row)
		sq_col_text(st, 0, name, sizeof name);
	sqlite3_reset(st);
	if (rc == STORE_OK && strcmp(name, service) != 0)
		rc = store_fail(&q->base, STORE_INVALID, "entry code of right %lld is for service %s, "
		                "not %s", (long long)r->id, r->service_name, service);
	return rc;
}

/*
 * A code that is unknown, expired or whose right ended is NOTFOUND (and
 * deleted: it can never become good). A good code redeemed from another
 * address or through another service's door is INVALID and stays for its
 * owner (r is filled, for the log). Only a good code at the right door from
 * the right address is deleted and its right handed back.
 */
int
sq_code_take(struct store *s, const char *code_hash, const struct addr *ip, const char *service,
             int64_t now, struct store_right *r)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, known, usable, row;
	char a[ADDR_STR_MAX];

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = code_read(q, code_hash, now, r, &known, &usable)) != STORE_OK)
		goto fail;
	if (!known) {
		rc = store_fail(s, STORE_NOTFOUND, "no such entry code");
		goto fail;
	}
	if (usable && !addr_eq(&r->ip, ip)) {
		rc = store_fail(s, STORE_INVALID, "entry code of right %lld was issued to %s",
		                (long long)r->id, addr_str(&r->ip, a, sizeof a));
		goto fail;
	}
	if (usable && service != NULL && (rc = code_service(q, r, service)) != STORE_OK)
		goto fail;
	rc = code_stmt(q, SQL_CODE_DEL, code_hash, &st, &row);
	sqlite3_reset(st);
	if (rc != STORE_OK || (rc = sq_commit(q)) != STORE_OK)
		goto fail;
	if (!usable)
		return store_fail(s, STORE_NOTFOUND, "entry code expired or its right ended");
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}
