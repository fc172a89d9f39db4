/*
 * SQLite backend: services and their guarded endpoints. The schema's triggers
 * log every insert, update and delete of a service for followers.
 */

#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

static const char SQL_GUARDS[] =
	"SELECT ip, port FROM guards WHERE service_id = ?1 ORDER BY pos";

static int
guards_load(struct sq *q, struct store_service *v)
{
	sqlite3_stmt *st = sq_stmt(q, SQL_GUARDS);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, v->id);
	v->n_guards = 0;
	while ((rc = sq_step(q, st, "guards", &row)) == STORE_OK && row && v->n_guards < GUARDS_MAX) {
		struct guard *g = &v->guards[v->n_guards++];
		sq_col_addr(st, 0, &g->addr);
		g->port = (uint16_t)sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	return rc;
}

static void
service_read(sqlite3_stmt *st, struct store_service *v)
{
	memset(v, 0, sizeof *v);
	v->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, v->name, sizeof v->name);
	sq_col_text(st, 2, v->url, sizeof v->url);
	sq_col_text(st, 3, v->entry_url, sizeof v->entry_url);
	v->max_usage_min = sqlite3_column_int(st, 4);
	v->max_interval_min = sqlite3_column_int(st, 5);
	v->cap = sqlite3_column_int(st, 6);
	v->admin_id = sqlite3_column_int64(st, 7);
	sq_col_text(st, 8, v->admin_name, sizeof v->admin_name);
	v->enabled = sqlite3_column_int(st, 9);
	v->active = sqlite3_column_int(st, 10);
	v->created_at = sqlite3_column_int64(st, 11);
	v->updated_at = sqlite3_column_int64(st, 12);
	sq_col_text(st, 13, v->load.probe, sizeof v->load.probe);
	v->load.interval_ms = sqlite3_column_int(st, 14);
	v->load.timeout_ms = sqlite3_column_int(st, 15);
	v->load.down_after = sqlite3_column_int(st, 16);
	v->load.up_after = sqlite3_column_int(st, 17);
	v->load.cap_mode = sqlite3_column_int(st, 18);
	v->load.cap_min = sqlite3_column_int(st, 19);
	v->load.target_ms = sqlite3_column_int(st, 20);
	v->health = sqlite3_column_int(st, 21);
	v->cap_effective = sqlite3_column_int(st, 22);
	v->queue.mode = sqlite3_column_int(st, 23);
	v->queue.max = sqlite3_column_int(st, 24);
	v->queue.lapse_s = sqlite3_column_int(st, 25);
	v->queue.rate_per_min = sqlite3_column_int(st, 26);
	sq_col_text(st, 27, v->load.gauge_url, sizeof v->load.gauge_url);
	sq_col_text(st, 28, v->load.gauge_metric, sizeof v->load.gauge_metric);
	v->load.gauge_target = (double)sqlite3_column_int64(st, 29) / 1000;
}

/*
 * Reads every row of st first and only then the guards, so no two statements
 * of this connection are stepped at once.
 */
int
sq_services_load(struct sq *q, sqlite3_stmt *st, struct store_service **out, size_t *n)
{
	struct store_service *v = NULL, *nv;
	size_t cap = 0;
	int rc, row;

	*n = 0;
	while ((rc = sq_step(q, st, "services", &row)) == STORE_OK && row) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			if (!(nv = realloc(v, cap * sizeof *v))) {
				rc = store_fail(&q->base, STORE_UNAVAILABLE, "store: out of memory");
				break;
			}
			v = nv;
		}
		service_read(st, &v[(*n)++]);
	}
	sqlite3_reset(st);
	for (size_t i = 0; rc == STORE_OK && i < *n; i++)
		rc = guards_load(q, &v[i]);
	if (rc != STORE_OK) {
		free(v);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

static const char SQL_SERVICE_BY_NAME[] =
	"SELECT " SQ_SERVICE_COLS " FROM services WHERE name = ?1";
static const char SQL_SERVICE_BY_ID[] =
	"SELECT " SQ_SERVICE_COLS " FROM services WHERE id = ?1";

int
sq_service_get(struct store *s, const char *name, int64_t id, struct store_service *svc)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, name ? SQL_SERVICE_BY_NAME : SQL_SERVICE_BY_ID);
	struct store_service *v;
	size_t n;
	int rc;

	if (!st)
		return STORE_UNAVAILABLE;
	if (name)
		sq_bind_text(st, 1, name);
	else
		sqlite3_bind_int64(st, 1, id);
	if ((rc = sq_services_load(q, st, &v, &n)) != STORE_OK)
		return rc;
	if (n == 1)
		*svc = v[0];
	free(v);
	return n == 1 ? STORE_OK : store_fail(s, STORE_NOTFOUND, "no such service");
}

static const char SQL_SERVICE_LIST[] =
	"SELECT " SQ_SERVICE_COLS " FROM services WHERE ?1 = 0 OR admin_id = ?1 ORDER BY name";

int
sq_service_list(struct store *s, int64_t admin_id, store_service_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_SERVICE_LIST);
	struct store_service *v;
	size_t n;
	int rc;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, admin_id);
	if ((rc = sq_services_load(q, st, &v, &n)) != STORE_OK)
		return rc;
	for (size_t i = 0; fn && i < n; i++)
		if (fn(&v[i], arg))
			break;
	free(v);
	return STORE_OK;
}

static const char SQL_GUARDS_DEL[] = "DELETE FROM guards WHERE service_id = ?1";
static const char SQL_GUARD_ADD[] =
	"INSERT INTO guards (service_id, pos, ip, port) VALUES (?1, ?2, ?3, ?4)";

/* Replaces the service's guards with svc's. */
static int
guards_store(struct sq *q, int64_t id, const struct store_service *svc)
{
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_run(q, SQL_GUARDS_DEL, &id, 1, NULL)) != STORE_OK)
		return rc;
	for (int i = 0; i < svc->n_guards; i++) {
		if (!(st = sq_stmt(q, SQL_GUARD_ADD)))
			return STORE_UNAVAILABLE;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, i);
		sq_bind_addr(st, 3, &svc->guards[i].addr);
		sqlite3_bind_int(st, 4, svc->guards[i].port);
		rc = sq_step(q, st, "guard add", &row);
		sqlite3_reset(st);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static const char SQL_GUARD_CLASH[] =
	"SELECT s.name, g.port FROM guards g JOIN services s ON s.id = g.service_id "
	"WHERE g.ip = ?1 AND g.service_id <> ?2 AND (?3 = 0 OR g.port = 0 OR g.port = ?3) "
	"ORDER BY s.name LIMIT 1";

/* Refuses (STORE_INVALID) a guard of svc that a service other than id already guards. */
static int
guards_clash(struct sq *q, int64_t id, const struct store_service *svc)
{
	char mine[GUARD_STR_MAX], theirs[GUARD_STR_MAX], name[NAME_MAX_LEN + 1];
	struct guard other;
	sqlite3_stmt *st;
	int rc = STORE_OK, row = 0;

	for (int i = 0; rc == STORE_OK && !row && i < svc->n_guards; i++) {
		if (!(st = sq_stmt(q, SQL_GUARD_CLASH)))
			return STORE_UNAVAILABLE;
		sq_bind_addr(st, 1, &svc->guards[i].addr);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int(st, 3, svc->guards[i].port);
		if ((rc = sq_step(q, st, "guard clash", &row)) == STORE_OK && row) {
			sq_col_text(st, 0, name, sizeof name);
			other.addr = svc->guards[i].addr;
			other.port = (uint16_t)sqlite3_column_int(st, 1);
			rc = store_fail(&q->base, STORE_INVALID, "guard %s overlaps %s, which service "
			                "%s guards: two services may not guard the same endpoint",
			                guard_str(&svc->guards[i], mine, sizeof mine),
			                guard_str(&other, theirs, sizeof theirs), name);
		}
		sqlite3_reset(st);
	}
	return rc;
}

/*
 * Only root sets or changes guards: for anyone else the stored guards of
 * svc->id must be the ones svc carries.
 */
static int
guards_unchanged(struct sq *q, const struct store_service *svc, int actor_role)
{
	struct store_service old;
	int rc;

	if (actor_role == ROLE_ROOT)
		return STORE_OK;
	memset(&old, 0, sizeof old);
	old.id = svc->id;
	if ((rc = guards_load(q, &old)) != STORE_OK)
		return rc;
	if (!store_guards_same(&old, svc))
		return store_fail(&q->base, STORE_INVALID, "only root may set or change the "
		                  "guarded endpoints of a service");
	return STORE_OK;
}

static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE id = ?1";

static int
admin_exists(struct sq *q, int64_t admin_id)
{
	int64_t one;
	int rc = sq_int(q, SQL_USER_EXISTS, &admin_id, 1, &one);

	if (rc == STORE_NOTFOUND)
		return store_fail(&q->base, STORE_NOTFOUND, "no such admin user %lld",
		                  (long long)admin_id);
	return rc;
}

/* Binds the editable fields of svc to ?1..?9 in the order both statements below use. */
static void
bind_service(sqlite3_stmt *st, const struct store_service *svc, int64_t now)
{
	sq_bind_text(st, 1, svc->name);
	sq_bind_text(st, 2, svc->url);
	sq_bind_text(st, 3, svc->entry_url);
	sqlite3_bind_int(st, 4, svc->max_usage_min);
	sqlite3_bind_int(st, 5, svc->max_interval_min);
	sqlite3_bind_int(st, 6, svc->cap);
	sqlite3_bind_int64(st, 7, svc->admin_id);
	sqlite3_bind_int(st, 8, svc->enabled != 0);
	sqlite3_bind_int64(st, 9, now);
}

/* Steps an insert/update of a service; a taken name is STORE_EXISTS. */
static int
service_write(struct sq *q, sqlite3_stmt *st, const char *name, int64_t *id)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && id)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return store_fail(&q->base, STORE_EXISTS, "service %s exists", name);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(q, rc, "service write");
	return STORE_OK;
}

static const char SQL_SERVICE_ADD[] =
	"INSERT INTO services (name, url, entry_url, max_usage_min, max_interval_min, cap, "
	"admin_id, enabled, created_at, updated_at) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id";

int
sq_service_add(struct store *s, const struct store_service *svc, int actor_role, int64_t now,
               int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int64_t new_id = 0;
	int rc;

	(void)actor_role;    /* store.c refuses a non-root's guards on a new service */
	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = admin_exists(q, svc->admin_id)) != STORE_OK)
		goto fail;
	if (!(st = sq_stmt(q, SQL_SERVICE_ADD))) {
		rc = STORE_UNAVAILABLE;
		goto fail;
	}
	bind_service(st, svc, now);
	if ((rc = service_write(q, st, svc->name, &new_id)) != STORE_OK ||
	    (rc = guards_clash(q, new_id, svc)) != STORE_OK ||
	    (rc = guards_store(q, new_id, svc)) != STORE_OK ||
	    (rc = sq_commit(q)) != STORE_OK)
		goto fail;
	if (id)
		*id = new_id;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_END_SERVICE[] =
	"UPDATE rights SET ended_at = ?2, end_reason = ?3 "
	"WHERE service_id = ?1 AND ended_at IS NULL";
static const char SQL_SERVICE_UPDATE[] =
	"UPDATE services SET name = ?1, url = ?2, entry_url = ?3, max_usage_min = ?4, "
	"max_interval_min = ?5, cap = ?6, admin_id = ?7, enabled = ?8, updated_at = ?9 "
	"WHERE id = ?10";

int
sq_service_update(struct store *s, const struct store_service *svc, int actor_role, int64_t now)
{
	struct sq *q = sq_of(s);
	int64_t end[] = { svc->id, now, END_SERVICE_DISABLED };
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = admin_exists(q, svc->admin_id)) != STORE_OK ||
	    (rc = guards_unchanged(q, svc, actor_role)) != STORE_OK)
		goto fail;
	if (!svc->enabled && (rc = sq_run(q, SQL_END_SERVICE, end, 3, NULL)) != STORE_OK)
		goto fail;
	if (!(st = sq_stmt(q, SQL_SERVICE_UPDATE))) {
		rc = STORE_UNAVAILABLE;
		goto fail;
	}
	bind_service(st, svc, now);
	sqlite3_bind_int64(st, 10, svc->id);
	if ((rc = service_write(q, st, svc->name, NULL)) != STORE_OK)
		goto fail;
	if (sqlite3_changes(q->db) == 0) {
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)svc->id);
		goto fail;
	}
	if ((rc = guards_clash(q, svc->id, svc)) != STORE_OK ||
	    (rc = guards_store(q, svc->id, svc)) != STORE_OK || (rc = sq_commit(q)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_SERVICE_DEL[] = "DELETE FROM services WHERE id = ?1";

/* The ended rights stay, with the service's id and name, for audit. */
int
sq_service_del(struct store *s, int64_t id, int64_t now)
{
	struct sq *q = sq_of(s);
	int64_t end[] = { id, now, END_SERVICE_DELETED };
	int rc, n = 0;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = sq_run(q, SQL_END_SERVICE, end, 3, NULL)) != STORE_OK ||
	    (rc = sq_run(q, SQL_SERVICE_DEL, &id, 1, &n)) != STORE_OK)
		goto fail;
	if (n == 0) {
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
		goto fail;
	}
	if ((rc = sq_commit(q)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_SET_LOAD[] =
	"UPDATE services SET probe = ?2, probe_interval_ms = ?3, probe_timeout_ms = ?4, "
	"probe_down_after = ?5, probe_up_after = ?6, cap_mode = ?7, cap_min = ?8, "
	"latency_target_ms = ?9, gauge_url = ?10, gauge_metric = ?11, gauge_target_milli = ?12, "
	"cap_effective = CASE WHEN ?7 = 0 THEN -1 ELSE cap_effective END, "
	"health = CASE WHEN ?2 = '' THEN 0 ELSE health END WHERE id = ?1";

int
sq_service_set_load(struct store *s, int64_t id, const struct service_load *l)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, SQL_SET_LOAD, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, l->probe);
	sqlite3_bind_int(st, 3, l->interval_ms);
	sqlite3_bind_int(st, 4, l->timeout_ms);
	sqlite3_bind_int(st, 5, l->down_after);
	sqlite3_bind_int(st, 6, l->up_after);
	sqlite3_bind_int(st, 7, l->cap_mode);
	sqlite3_bind_int(st, 8, l->cap_min);
	sqlite3_bind_int(st, 9, l->target_ms);
	sq_bind_text(st, 10, l->gauge_url);
	sq_bind_text(st, 11, l->gauge_metric);
	sqlite3_bind_int64(st, 12, (int64_t)(l->gauge_target * 1000 + 0.5));
	rc = sq_step(q, st, "service set load", &(int){ 0 });
	sqlite3_reset(st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return sq_finish(q, rc);
}

static const char SQL_SET_HEALTH[] =
	"UPDATE services SET health = ?2, cap_effective = ?3 WHERE id = ?1";

int
sq_service_set_health(struct store *s, int64_t id, int health, int cap_effective)
{
	struct sq *q = sq_of(s);
	int64_t args[] = { id, health, cap_effective };
	int rc, n = 0;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_run(q, SQL_SET_HEALTH, args, 3, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return sq_finish(q, rc);
}

static const char SQL_LEASE[] =
	"INSERT INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?3 + ?4) "
	"ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
	"expires_ms = excluded.expires_ms WHERE leases.holder = excluded.holder "
	"OR leases.expires_ms <= ?3 RETURNING 1";

int
sq_lease_take(struct store *s, const char *name, const char *holder, int64_t now_ms,
              int ttl_ms, int *held)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, row = 0;

	if ((rc = sq_begin_stmt(q, SQL_LEASE, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, name);
	sq_bind_text(st, 2, holder);
	sqlite3_bind_int64(st, 3, now_ms);
	sqlite3_bind_int(st, 4, ttl_ms);
	rc = sq_step(q, st, "lease", &row);
	sqlite3_reset(st);
	*held = rc == STORE_OK && row;
	return sq_finish(q, rc);
}

static const char SQL_SET_QUEUE[] =
	"UPDATE services SET queue_mode = ?2, queue_max = ?3, queue_lapse_s = ?4, "
	"rate_per_min = ?5 WHERE id = ?1";

int
sq_service_set_queue(struct store *s, int64_t id, const struct service_queue *sqv)
{
	int64_t args[] = { id, sqv->mode, sqv->max, sqv->lapse_s, sqv->rate_per_min };
	struct sq *q = sq_of(s);
	int rc, n = 0;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_run(q, SQL_SET_QUEUE, args, 5, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return sq_finish(q, rc);
}
