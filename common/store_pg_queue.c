/*
 * PostgreSQL backend: the waiting room (store.h, contract 6). The decision
 * is one round trip to queue_admit() (sql/pg/013_queue_turn.sql), which
 * takes the same locks as admit() (the writers' lock shared, then the service
 * row), so FIFO and
 * the reserved slots are exact across every gateway.
 */

#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"
#include "token.h"

enum { Q_ADMITTED = 0, Q_FULL = 1, Q_NOTFOUND = 2, Q_QUEUED = 3, Q_DOWN = 4 };

static void
place_read(const PGresult *r, struct store_place *pl)
{
	pl->position = (int)pg_i64(r, 0, 11);
	pl->waiting = (int)pg_i64(r, 0, 12);
	pl->lapsed = (int)pg_i64(r, 0, 13);
	pl->departures = (int)pg_i64(r, 0, 14);
	pl->joined_at = pg_i64(r, 0, 15);
	pl->joined = (int)pg_i64(r, 0, 16);
	pl->turn_at = pg_i64(r, 0, 17);
}

int
pg_queue_admit(struct store *s, int64_t user_id, int64_t service_id, const struct addr *ip,
               int64_t now, const struct store_queue_rules *rules, struct store_admission *a,
               struct store_place *pl)
{
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
	pgq_int(&q, rules->lapse_s);
	pgq_int(&q, rules->max);
	pgq_int(&q, rules->window_s);
	rc = pg_exec(pg_of(s), "SELECT rc, right_id, reaped, replaced_id, replaced_ip, active, "
	             "cap, user_name, service_name, expires_at, idle_deadline, q_position, "
	             "q_waiting, q_lapsed, q_departures, q_joined, q_new, q_turn "
	             "FROM queue_admit($1, $2, $3, $4, $5, $6, $7, $8)", &q, &r, "queue_admit");
	if (rc != STORE_OK)
		return rc;
	verdict = (int)pg_i64(r, 0, 0);
	if (verdict == Q_NOTFOUND) {
		PQclear(r);
		return store_fail(s, STORE_NOTFOUND, "no such enabled service or user");
	}
	a->right.user_id = user_id;
	a->right.service_id = service_id;
	pg_admit_read(r, ip, now, sid, a);
	place_read(r, pl);
	PQclear(r);
	if (verdict == Q_ADMITTED || a->reaped > 0)   /* else the log did not grow */
		pg_ring(pg_of(s));
	if (verdict == Q_ADMITTED)
		return STORE_OK;
	memset(&a->right, 0, sizeof a->right);
	if ((a->down = verdict == Q_DOWN)) {
		memset(pl, 0, sizeof *pl);
		return store_fail(s, STORE_DENIED, "the service is unavailable (down)");
	}
	if (verdict == Q_FULL)
		return store_fail(s, STORE_DENIED, "the queue is full (%d waiting)", pl->waiting);
	return STORE_QUEUED;
}

int
pg_queue_leave(struct store *s, int64_t user_id, int64_t service_id, int *n)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, user_id);
	pgq_int(&q, service_id);
	return pg_run(pg_of(s), "DELETE FROM queue WHERE user_id = $1 AND ($2 = 0 OR service_id = $2)",
	              &q, n, "queue leave");
}

int
pg_queue_len(struct store *s, int64_t service_id, int *n, int64_t *oldest)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, service_id);
	rc = pg_exec(pg_of(s), "SELECT count(*), coalesce(min(joined_at), 0) FROM queue "
	             "WHERE service_id = $1", &q, &r, "queue length");
	if (rc != STORE_OK)
		return rc;
	*n = (int)pg_i64(r, 0, 0);
	*oldest = pg_i64(r, 0, 1);
	PQclear(r);
	return STORE_OK;
}

static void
qplace_read(const PGresult *r, int row, struct store_qplace *p)
{
	memset(p, 0, sizeof *p);
	p->user_id = pg_i64(r, row, 0);
	pg_text(r, row, 1, p->user_name, sizeof p->user_name);
	p->joined_at = pg_i64(r, row, 2);
	p->last_poll = pg_i64(r, row, 3);
	p->turn_at = pg_i64(r, row, 4);                 /* NULL reads 0 */
}

int
pg_queue_places(struct store *s, int64_t service_id, struct store_qplace *out, int max, int *n)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, service_id);
	pgq_int(&q, max);
	rc = pg_exec(pg_of(s), "SELECT q.user_id, u.name, q.joined_at, q.last_poll, q.turn_at "
	             "FROM queue q "
	             "JOIN users u ON u.id = q.user_id WHERE q.service_id = $1 ORDER BY q.id "
	             "LIMIT $2", &q, &r, "queue places");
	if (rc != STORE_OK)
		return rc;
	for (*n = 0; *n < PQntuples(r) && *n < max; (*n)++) {
		qplace_read(r, *n, &out[*n]);
		out[*n].position = *n + 1;
	}
	PQclear(r);
	return STORE_OK;
}

/* One statement (autocommit), so fn sees the places after the commit. */
int
pg_queue_lapse(struct store *s, int64_t service_id, int64_t now, int lapse_s,
               int (*fn)(const struct store_qplace *, void *), void *arg, int *n)
{
	struct pgq q = { .n = 0 };
	struct store_qplace p;
	PGresult *r;
	int rc;

	pgq_int(&q, service_id);
	pgq_int(&q, now - lapse_s);
	rc = pg_exec(pg_of(s), "WITH gone AS (DELETE FROM queue WHERE service_id = $1 "
	             "AND last_poll <= $2 RETURNING id, user_id, joined_at, last_poll, turn_at) "
	             "SELECT g.user_id, coalesce(u.name, ''), g.joined_at, g.last_poll, g.turn_at "
	             "FROM gone g "
	             "LEFT JOIN users u ON u.id = g.user_id ORDER BY g.id", &q, &r, "queue lapse");
	if (rc != STORE_OK)
		return rc;
	*n = PQntuples(r);
	for (int i = 0; fn && i < *n; i++) {
		qplace_read(r, i, &p);
		if (fn(&p, arg) != 0)
			break;
	}
	PQclear(r);
	return STORE_OK;
}
