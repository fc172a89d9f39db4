/*
 * SQLite backend: the waiting room (store.h, contract 6). store_queue_admit
 * is one write transaction around the admission's own steps
 * (sq_admit_steps), so the place, the count and the new right are decided
 * under the database's write lock together. A down service gives no place:
 * the transaction rolls back (a held place stays until it lapses).
 */

#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

struct qctx {
	int64_t mine;                        /* the caller's place id, 0 when none */
	struct store_place *pl;
};

static const char SQL_LAPSE[] =
	"DELETE FROM queue WHERE service_id = ?1 AND last_poll <= ?2";
static const char SQL_MINE[] =
	"SELECT id FROM queue WHERE service_id = ?1 AND user_id = ?2";
static const char SQL_JOINED[] = "SELECT joined_at FROM queue WHERE id = ?1";
static const char SQL_TURN[] = "SELECT coalesce(turn_at, 0) FROM queue WHERE id = ?1";
static const char SQL_WAITING[] = "SELECT count(*) FROM queue WHERE service_id = ?1";
static const char SQL_RANK[] =
	"SELECT count(*) FROM queue WHERE service_id = ?1 AND id <= ?2";
static const char SQL_DEPARTED[] =
	"SELECT count(*) FROM rights WHERE ended_at > ?2 AND service_id = ?1";
static const char SQL_POLL[] = "UPDATE queue SET last_poll = ?2 WHERE id = ?1";
static const char SQL_JOIN[] =
	"INSERT INTO queue (service_id, user_id, joined_at, last_poll) VALUES (?1, ?2, ?3, ?3)";
static const char SQL_GONE[] = "DELETE FROM queue WHERE id = ?1";

/*
 * Admit when the caller ranks within the free slots, which the admission
 * rate bounds (room: what it allows now), or holds a right already and its
 * replacement stays under the cap in force: a holder passes the line, never
 * the cap (over a lowered effective cap it keeps its right and waits).
 */
static int
within_free(struct sq *q, void *arg, const struct store_admission *a, int room)
{
	struct qctx *c = arg;
	int free = a->cap - a->active;

	(void)q;
	if (a->replaced)
		return a->active < a->cap;
	return c->pl->position <= (room < free ? room : free);
}

/* Lapses, then the caller's place (c->mine), the line's length and the caller's rank. */
static int
queue_read(struct sq *q, int64_t user_id, int64_t service_id, int64_t now,
           const struct store_queue_rules *rules, struct qctx *c)
{
	int64_t lapse[] = { service_id, now - rules->lapse_s }, mine[] = { service_id, user_id };
	int64_t waiting = 0, rank[] = { service_id, 0 }, pos = 0;
	int rc;

	if ((rc = sq_run(q, SQL_LAPSE, lapse, 2, &c->pl->lapsed)) != STORE_OK)
		return rc;
	rc = sq_int(q, SQL_MINE, mine, 2, &c->mine);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if ((rc = sq_int(q, SQL_WAITING, &service_id, 1, &waiting)) != STORE_OK)
		return rc;
	c->pl->waiting = (int)waiting;
	c->pl->joined_at = now;
	if (c->mine == 0) {
		c->pl->position = (int)waiting + 1;
		return STORE_OK;
	}
	rank[1] = c->mine;
	if ((rc = sq_int(q, SQL_RANK, rank, 2, &pos)) != STORE_OK ||
	    (rc = sq_int(q, SQL_JOINED, &c->mine, 1, &c->pl->joined_at)) != STORE_OK)
		return rc;
	c->pl->position = (int)pos;
	return STORE_OK;
}

/* Not admitted: keep the place fresh or add one (bounded). STORE_QUEUED or STORE_DENIED. */
static int
queue_hold(struct sq *q, int64_t user_id, int64_t service_id, int64_t now,
           const struct store_queue_rules *rules, struct qctx *c)
{
	int64_t poll[] = { c->mine, now }, join[] = { service_id, user_id, now };
	int64_t window[] = { service_id, now - rules->window_s }, dep = 0;
	int rc;

	if ((rc = sq_int(q, SQL_DEPARTED, window, 2, &dep)) != STORE_OK)
		return rc;
	c->pl->departures = (int)dep;
	if (c->mine != 0)
		rc = sq_run(q, SQL_POLL, poll, 2, NULL);
	else if (c->pl->waiting >= rules->max) {
		c->pl->position = 0;
		return store_fail(&q->base, STORE_DENIED, "the queue is full (%d waiting)",
		                  c->pl->waiting);
	} else if ((rc = sq_run(q, SQL_JOIN, join, 3, NULL)) == STORE_OK) {
		c->pl->waiting++;
		c->pl->joined = 1;
	}
	return rc == STORE_OK ? STORE_QUEUED : rc;
}

int
sq_queue_admit(struct store *s, int64_t user_id, int64_t service_id, const struct addr *ip,
               int64_t now, const struct store_queue_rules *rules, struct store_admission *a,
               struct store_place *pl)
{
	struct sq *q = sq_of(s);
	struct qctx c = { 0, pl };
	int rc, admitted = 0, reaped;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = queue_read(q, user_id, service_id, now, rules, &c)) == STORE_OK)
		rc = sq_admit_steps(q, user_id, service_id, ip, now, a, within_free, &c, &admitted);
	if ((rc == STORE_OK || rc == STORE_DENIED) && c.mine != 0) {
		int turn = sq_int(q, SQL_TURN, &c.mine, 1, &pl->turn_at);   /* stamped by the steps */
		if (turn != STORE_OK)
			rc = turn;
	}
	if (rc == STORE_OK && admitted) {
		if (c.mine != 0 && (rc = sq_run(q, SQL_GONE, &c.mine, 1, NULL)) == STORE_OK)
			pl->waiting--;
		pl->position = 0;
	} else if (rc == STORE_DENIED && a->down) {
		sq_rollback(q);                  /* refused before the line: nothing written */
		memset(pl, 0, sizeof *pl);
		return rc;
	} else if (rc == STORE_DENIED) {
		reaped = a->reaped;
		memset(&a->right, 0, sizeof a->right);
		a->reaped = reaped;
		rc = queue_hold(q, user_id, service_id, now, rules, &c);
	}
	if (rc == STORE_OK || rc == STORE_QUEUED || rc == STORE_DENIED) {
		int commit = sq_commit(q);
		if (commit != STORE_OK) {
			memset(a, 0, sizeof *a);
			memset(pl, 0, sizeof *pl);
			return commit;
		}
		return rc;
	}
	sq_rollback(q);
	memset(a, 0, sizeof *a);
	memset(pl, 0, sizeof *pl);
	return rc;
}

int
sq_queue_leave(struct store *s, int64_t user_id, int64_t service_id, int *n)
{
	static const char one[] = "DELETE FROM queue WHERE user_id = ?1 AND service_id = ?2";
	static const char all[] = "DELETE FROM queue WHERE user_id = ?1";
	struct sq *q = sq_of(s);
	int64_t args[] = { user_id, service_id };
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_run(q, service_id ? one : all, args, service_id ? 2 : 1, n);
	return sq_finish(q, rc);
}

int
sq_queue_len(struct store *s, int64_t service_id, int *n, int64_t *oldest)
{
	static const char sql[] =
		"SELECT count(*), coalesce(min(joined_at), 0) FROM queue WHERE service_id = ?1";
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, service_id);
	if ((rc = sq_step(q, st, "queue length", &row)) == STORE_OK && row) {
		*n = sqlite3_column_int(st, 0);
		*oldest = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc;
}

static void
qplace_read(sqlite3_stmt *st, struct store_qplace *p)
{
	memset(p, 0, sizeof *p);
	p->user_id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, p->user_name, sizeof p->user_name);
	p->joined_at = sqlite3_column_int64(st, 2);
	p->last_poll = sqlite3_column_int64(st, 3);
	p->turn_at = sqlite3_column_int64(st, 4);   /* NULL reads 0 */
}

int
sq_queue_places(struct store *s, int64_t service_id, struct store_qplace *out, int max, int *n)
{
	static const char sql[] =
		"SELECT q.user_id, u.name, q.joined_at, q.last_poll, q.turn_at FROM queue q "
		"JOIN users u ON u.id = q.user_id WHERE q.service_id = ?1 ORDER BY q.id LIMIT ?2";
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc = STORE_OK, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, service_id);
	sqlite3_bind_int(st, 2, max);
	while (*n < max && (rc = sq_step(q, st, "queue places", &row)) == STORE_OK && row) {
		qplace_read(st, &out[*n]);
		out[*n].position = *n + 1;
		(*n)++;
	}
	sqlite3_reset(st);
	return rc;
}

/* The removed places, collected while the transaction is open, delivered after commit. */
struct gone { struct store_qplace *v; int n, cap; };

static int
gone_add(struct gone *g, sqlite3_stmt *st)
{
	if (g->n == g->cap) {
		int cap = g->cap ? 2 * g->cap : 16;
		struct store_qplace *nv = realloc(g->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return -1;
		g->v = nv;
		g->cap = cap;
	}
	qplace_read(st, &g->v[g->n++]);
	return 0;
}

/*
 * A read first: at nearly every call nothing has lapsed, and then no write
 * lock is taken (this runs before each admission through the waiting room).
 */
int
sq_queue_lapse(struct store *s, int64_t service_id, int64_t now, int lapse_s,
               int (*fn)(const struct store_qplace *, void *), void *arg, int *n)
{
	static const char any[] =
		"SELECT 1 FROM queue WHERE service_id = ?1 AND last_poll <= ?2 LIMIT 1";
	static const char sql[] =
		"DELETE FROM queue WHERE service_id = ?1 AND last_poll <= ?2 RETURNING user_id, "
		"(SELECT u.name FROM users u WHERE u.id = queue.user_id), joined_at, last_poll, "
		"turn_at";
	struct sq *q = sq_of(s);
	struct gone g = { NULL, 0, 0 };
	int64_t args[] = { service_id, now - lapse_s }, one;
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_int(q, any, args, 2, &one)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if ((rc = sq_begin_stmt(q, sql, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, service_id);
	sqlite3_bind_int64(st, 2, now - lapse_s);
	while ((rc = sq_step(q, st, "queue lapse", &row)) == STORE_OK && row)
		if (gone_add(&g, st) == -1) {
			rc = store_fail(s, STORE_UNAVAILABLE, "out of memory");
			break;
		}
	sqlite3_reset(st);
	if ((rc = sq_finish(q, rc)) == STORE_OK) {
		*n = g.n;
		for (int i = 0; fn && i < g.n; i++)
			if (fn(&g.v[i], arg) != 0)
				break;
	}
	free(g.v);
	return rc;
}
