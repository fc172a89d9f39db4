/*
 * SQLite backend: reading rights, the snapshot followers start from and the
 * change log they replay after it.
 */

#include <stdlib.h>

#include "store_sqlite_int.h"

static const char SQL_RIGHT_ID[] =
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE id = ?1";
static const char SQL_RIGHT_SID[] =
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE sid = ?1";

int
sq_right_get(struct store *s, int64_t id, const char *sid, struct store_right *r)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, sid ? SQL_RIGHT_SID : SQL_RIGHT_ID);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	if (sid)
		sq_bind_text(st, 1, sid);
	else
		sqlite3_bind_int64(st, 1, id);
	if ((rc = sq_step(q, st, "right get", &row)) == STORE_OK && row)
		sq_read_right(st, 0, r);
	sqlite3_reset(st);
	if (rc == STORE_OK && !row)
		rc = store_fail(s, STORE_NOTFOUND, "no such right");
	return rc;
}

/*
 * In process there is no round trip to save: the prepared statement by id,
 * once per id, inside one read transaction so all are read at one moment.
 */
int
sq_rights_get(struct store *s, const int64_t *ids, size_t n, store_right_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	struct store_right r;
	int rc;

	if ((rc = sq_begin(q, 0)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		rc = sq_right_get(s, ids[i], NULL, &r);
		if (rc == STORE_NOTFOUND)
			rc = STORE_OK;
		else if (rc == STORE_OK && fn && fn(&r, arg))
			break;
	}
	return sq_finish(q, rc);
}

/* Steps st, calling fn on each right until fn returns non-zero (then *stop = 1). */
static int
each_right(struct sq *q, sqlite3_stmt *st, store_right_fn fn, void *arg, int *stop)
{
	struct store_right r;
	int rc, row;

	while ((rc = sq_step(q, st, "right list", &row)) == STORE_OK && row) {
		sq_read_right(st, 0, &r);
		if (fn && fn(&r, arg)) {
			*stop = 1;
			break;
		}
	}
	sqlite3_reset(st);
	return rc;
}

static const char *const SQL_LIVE[] = {
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE ended_at IS NULL ORDER BY id",
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE ended_at IS NULL "
	"AND service_id = ?1 ORDER BY id",
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE ended_at IS NULL "
	"AND user_id = ?2 ORDER BY id",
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE ended_at IS NULL "
	"AND service_id = ?1 AND user_id = ?2 ORDER BY id",
};

int
sq_right_list(struct store *s, int64_t service_id, int64_t user_id,
              store_right_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_LIVE[(service_id != 0) | (user_id != 0) << 1]);
	int stop = 0;

	if (!st)
		return STORE_UNAVAILABLE;
	if (service_id)
		sqlite3_bind_int64(st, 1, service_id);
	if (user_id)
		sqlite3_bind_int64(st, 2, user_id);
	return each_right(q, st, fn, arg, &stop);
}

static const char SQL_IP_RIGHTS[] =   /* index rights_live_ip */
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE service_id = ?1 AND ip = ?2 "
	"AND ended_at IS NULL ORDER BY id";

int
sq_ip_rights(struct store *s, int64_t service_id, const struct addr *ip, store_right_fn fn,
             void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_IP_RIGHTS);
	int stop = 0;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, service_id);
	sq_bind_addr(st, 2, ip);
	return each_right(q, st, fn, arg, &stop);
}

static const char SQL_LAST_SEQ[] =
	"SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)";
static const char SQL_SNAP_SERVICES[] =
	"SELECT " SQ_SERVICE_COLS " FROM services ORDER BY name";
static const char SQL_SNAP_RIGHTS[] =
	"SELECT " SQ_RIGHT_COLS " FROM rights WHERE service_id = ?1 AND ended_at IS NULL "
	"AND expires_at > ?2 AND last_seen > ?3 ORDER BY id";

/*
 * The usable rights of one service, the rule of right_usable() (common/right.c)
 * in SQL: not ended, now < expires_at, now < last_seen + interval (?3 is now -
 * interval).
 */
static int
snap_rights(struct sq *q, const struct store_service *v, int64_t now,
            store_right_fn fn, void *arg, int *stop)
{
	int64_t args[] = { v->id, now, now - 60 * (int64_t)v->max_interval_min };
	sqlite3_stmt *st = sq_stmt(q, SQL_SNAP_RIGHTS);

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, args, 3);
	return each_right(q, st, fn, arg, stop);
}

/*
 * One read transaction: its first read fixes the snapshot, so the sequence
 * number, the services and the rights all describe the same commit.
 */
int
sq_snapshot(struct store *s, int64_t now, store_service_fn svc_fn, store_right_fn right_fn,
            void *arg, int64_t *seq)
{
	struct sq *q = sq_of(s);
	struct store_service *v = NULL;
	size_t n = 0, i;
	sqlite3_stmt *st;
	int rc, stop = 0;

	if ((rc = sq_begin(q, 0)) != STORE_OK)
		return rc;
	if ((rc = sq_int(q, SQL_LAST_SEQ, NULL, 0, seq)) != STORE_OK)
		goto done;
	if (!(st = sq_stmt(q, SQL_SNAP_SERVICES))) {
		rc = STORE_UNAVAILABLE;
		goto done;
	}
	if ((rc = sq_services_load(q, st, &v, &n)) != STORE_OK)
		goto done;
	for (i = 0; i < n && !stop; i++) {
		if (svc_fn && svc_fn(&v[i], arg))
			break;
		if (right_fn && v[i].enabled &&
		    (rc = snap_rights(q, &v[i], now, right_fn, arg, &stop)) != STORE_OK)
			break;
	}
done:
	free(v);
	if (rc == STORE_OK)
		return sq_commit(q);
	sq_rollback(q);
	return rc;
}

static const char SQL_CHANGES[] =
	"SELECT seq, kind, service_id, right_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";

int
sq_changes(struct store *s, int64_t after, int max,
           int (*fn)(const struct store_change *, void *), void *arg)
{
	struct sq *q = sq_of(s);
	struct store_change c;
	int64_t args[] = { after, max };
	sqlite3_stmt *st = sq_stmt(q, SQL_CHANGES);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, args, 2);
	while ((rc = sq_step(q, st, "changes", &row)) == STORE_OK && row) {
		c.seq = sqlite3_column_int64(st, 0);
		c.kind = sqlite3_column_int(st, 1);
		c.service_id = sqlite3_column_int64(st, 2);
		c.right_id = sqlite3_column_int64(st, 3);
		if (fn && fn(&c, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}
