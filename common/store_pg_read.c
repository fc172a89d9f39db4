/*
 * PostgreSQL backend: reading rights, the snapshot followers start from and
 * the change log they follow.
 */

#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

/* Calls fn on rows [from, to) of res (PG_RIGHT_COLS) until it returns non-zero. */
static int
rights_each(const PGresult *res, int from, int to, store_right_fn fn, void *arg)
{
	struct store_right r;

	for (int i = from; fn && i < to; i++) {
		pg_read_right(res, i, 0, &r);
		if (fn(&r, arg))
			return 1;
	}
	return 0;
}

int
pg_right_get(struct store *s, int64_t id, const char *sid, struct store_right *r)
{
	struct pgq q = { .n = 0 };
	PGresult *res;
	int rc;

	if (sid)
		pgq_text(&q, sid);
	else
		pgq_int(&q, id);
	rc = pg_exec(pg_of(s), sid ? "SELECT " PG_RIGHT_COLS " FROM rights WHERE sid = $1"
	                           : "SELECT " PG_RIGHT_COLS " FROM rights WHERE id = $1",
	             &q, &res, "right get");
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(res) == 1)
		pg_read_right(res, 0, 0, r);
	else
		rc = store_fail(s, STORE_NOTFOUND, "no such right");
	PQclear(res);
	return rc;
}

/* One statement: id = ANY of an array parameter, written as text ({1,2,3}). */
int
pg_rights_get(struct store *s, const int64_t *ids, size_t n, store_right_fn fn, void *arg)
{
	struct pgq q = { .n = 0 };
	char *a = malloc(2 + n * 21);
	size_t len = 0;
	PGresult *res;
	int rc;

	if (a == NULL)
		return store_fail(s, STORE_UNAVAILABLE, "out of memory");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(a + len, "%c%lld", i ? ',' : '{', (long long)ids[i]);
	sprintf(a + len, "}");
	pgq_text(&q, a);
	rc = pg_exec(pg_of(s), "SELECT " PG_RIGHT_COLS " FROM rights WHERE id = ANY ($1::bigint[]) "
	             "ORDER BY id", &q, &res, "rights get");
	free(a);
	if (rc == STORE_OK)
		rights_each(res, 0, PQntuples(res), fn, arg);
	PQclear(res);
	return rc;
}

static int
rights_query(struct pgs *p, const char *sql, const struct pgq *q, store_right_fn fn, void *arg)
{
	PGresult *res;
	int rc = pg_exec(p, sql, q, &res, "rights");

	if (rc == STORE_OK)
		rights_each(res, 0, PQntuples(res), fn, arg);
	PQclear(res);
	return rc;
}

int
pg_right_list(struct store *s, int64_t service_id, int64_t user_id, store_right_fn fn, void *arg)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, service_id);
	pgq_int(&q, user_id);
	return rights_query(pg_of(s), "SELECT " PG_RIGHT_COLS " FROM rights WHERE ended_at IS NULL "
	                    "AND ($1::bigint = 0 OR service_id = $1) "
	                    "AND ($2::bigint = 0 OR user_id = $2) ORDER BY id", &q, fn, arg);
}

int
pg_ip_rights(struct store *s, int64_t service_id, const struct addr *ip, store_right_fn fn,
             void *arg)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, service_id);
	pgq_addr(&q, ip);
	return rights_query(pg_of(s), "SELECT " PG_RIGHT_COLS " FROM rights WHERE service_id = $1 "
	                    "AND ip = $2 AND ended_at IS NULL ORDER BY id", &q, fn, arg);
}

/* First row of res (sorted by service_id in column 4) with service_id >= id. */
static int
rights_from(const PGresult *res, int64_t id)
{
	int lo = 0, hi = PQntuples(res);

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (pg_i64(res, mid, 4) < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Hands each service and, after each enabled one, its usable rights to the callbacks. */
static void
snap_deliver(const struct store_service *v, size_t n, const PGresult *rights,
             store_service_fn svc_fn, store_right_fn right_fn, void *arg)
{
	for (size_t i = 0; i < n; i++) {
		int from, to;
		if (svc_fn && svc_fn(&v[i], arg))
			return;
		if (!right_fn || !v[i].enabled)
			continue;
		from = rights_from(rights, v[i].id);
		for (to = from; to < PQntuples(rights) && pg_i64(rights, to, 4) == v[i].id; to++)
			;
		if (rights_each(rights, from, to, right_fn, arg))
			return;
	}
}

/*
 * What has committed is published first (so a quiet store's snapshot is at
 * its last entry), then one REPEATABLE READ transaction reads the feed
 * position, the services and the rights in one snapshot. Every entry numbered up to *seq was
 * committed before its number was (feed_publish()), so the snapshot includes
 * it; an entry the snapshot includes but that is not numbered yet gets a
 * number above *seq and is applied again, which does no harm (store.h,
 * contract 3 and 4). The callbacks run after the transaction ends.
 */
int
pg_snapshot(struct store *s, int64_t now, store_service_fn svc_fn, store_right_fn right_fn,
            void *arg, int64_t *seq)
{
	struct pgs *p = pg_of(s);
	struct store_service *v = NULL;
	PGresult *res = NULL, *rights = NULL;
	struct pgq q = { .n = 0 };
	size_t n = 0;
	int rc;

	if ((rc = pg_run(p, "SELECT feed_publish()", NULL, NULL, "snapshot: publish")) != STORE_OK ||
	    (rc = pg_run(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL,
	                 "snapshot")) != STORE_OK)
		return rc;
	p->in_txn = 1;
	if ((rc = pg_exec(p, "SELECT seq FROM feed", NULL, &res, "snapshot: seq")) == STORE_OK)
		*seq = pg_i64(res, 0, 0);
	PQclear(res);
	if (rc == STORE_OK &&
	    (rc = pg_exec(p, "SELECT " PG_SERVICE_COLS " FROM services ORDER BY name", NULL, &res,
	                  "snapshot: services")) == STORE_OK) {
		rc = pg_services_load(p, res, &v, &n);
		PQclear(res);
	}
	pgq_int(&q, now);
	if (rc == STORE_OK)
		rc = pg_exec(p, "SELECT " PG_RIGHT_COLS " FROM rights WHERE ended_at IS NULL "
		             "AND expires_at > $1 AND last_seen + 60 * coalesce((SELECT "
		             "v.max_interval_min FROM services v WHERE v.id = rights.service_id), 0) > $1 "
		             "ORDER BY service_id, id", &q, &rights, "snapshot: rights");
	if ((rc = pg_finish(p, rc)) == STORE_OK)
		snap_deliver(v, n, rights, svc_fn, right_fn, arg);
	PQclear(rights);
	free(v);
	return rc;
}

/*
 * Publishes what has committed unnumbered, then reads (feed_read(), one
 * round trip, outside any transaction): committed entries only, gap-free, a
 * later publication always numbered higher (docs/scaleout.md).
 */
int
pg_changes(struct store *s, int64_t after, int max,
           int (*fn)(const struct store_change *, void *), void *arg)
{
	struct pgq q = { .n = 0 };
	struct store_change c;
	PGresult *res;
	int rc;

	pgq_int(&q, after);
	pgq_int(&q, max);
	rc = pg_exec(pg_of(s), "SELECT seq, kind, service_id, right_id FROM feed_read($1, $2)",
	             &q, &res, "changes");
	for (int i = 0; rc == STORE_OK && i < PQntuples(res); i++) {
		c = (struct store_change){ .seq = pg_i64(res, i, 0), .kind = (int)pg_i64(res, i, 1),
		                           .service_id = pg_i64(res, i, 2),
		                           .right_id = pg_i64(res, i, 3) };
		if (fn && fn(&c, arg))
			break;
	}
	PQclear(res);
	return rc;
}
