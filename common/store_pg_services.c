/*
 * PostgreSQL backend: services and their guarded endpoints. The schema's
 * triggers log every insert, update and delete of a service for followers.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"

static void
service_read(const PGresult *r, int row, struct store_service *v)
{
	memset(v, 0, sizeof *v);
	v->id = pg_i64(r, row, 0);
	pg_text(r, row, 1, v->name, sizeof v->name);
	pg_text(r, row, 2, v->url, sizeof v->url);
	pg_text(r, row, 3, v->entry_url, sizeof v->entry_url);
	v->max_usage_min = (int)pg_i64(r, row, 4);
	v->max_interval_min = (int)pg_i64(r, row, 5);
	v->cap = (int)pg_i64(r, row, 6);
	v->admin_id = pg_i64(r, row, 7);
	pg_text(r, row, 8, v->admin_name, sizeof v->admin_name);
	v->enabled = (int)pg_i64(r, row, 9);
	v->active = (int)pg_i64(r, row, 10);
	v->created_at = pg_i64(r, row, 11);
	v->updated_at = pg_i64(r, row, 12);
	pg_text(r, row, 13, v->load.probe, sizeof v->load.probe);
	v->load.interval_ms = (int)pg_i64(r, row, 14);
	v->load.timeout_ms = (int)pg_i64(r, row, 15);
	v->load.down_after = (int)pg_i64(r, row, 16);
	v->load.up_after = (int)pg_i64(r, row, 17);
	v->load.cap_mode = (int)pg_i64(r, row, 18);
	v->load.cap_min = (int)pg_i64(r, row, 19);
	v->load.target_ms = (int)pg_i64(r, row, 20);
	v->health = (int)pg_i64(r, row, 21);
	v->cap_effective = (int)pg_i64(r, row, 22);
	v->queue.mode = (int)pg_i64(r, row, 23);
	v->queue.max = (int)pg_i64(r, row, 24);
	v->queue.lapse_s = (int)pg_i64(r, row, 25);
	v->queue.rate_per_min = (int)pg_i64(r, row, 26);
	pg_text(r, row, 27, v->load.gauge_url, sizeof v->load.gauge_url);
	pg_text(r, row, 28, v->load.gauge_metric, sizeof v->load.gauge_metric);
	v->load.gauge_target = (double)pg_i64(r, row, 29) / 1000;
}

/* "{id,id,...}" of v[0..n-1], for one guards query over them all; NULL when out of memory. */
static char *
id_array(const struct store_service *v, size_t n)
{
	size_t cap = 3 + n * 21, len = 1;
	char *a = malloc(cap);

	if (!a)
		return NULL;
	a[0] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(a + len, cap - len, "%s%" PRId64, i ? "," : "", v[i].id);
	snprintf(a + len, cap - len, "}");
	return a;
}

/* Fills the guards of v[0..n-1] with one query. */
static int
guards_load(struct pgs *p, struct store_service *v, size_t n)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	char *ids;
	size_t k = 0;
	int rc;

	if (n == 0)
		return STORE_OK;
	if (!(ids = id_array(v, n)))
		return store_fail(&p->base, STORE_UNAVAILABLE, "out of memory");
	pgq_text(&q, ids);
	rc = pg_exec(p, "SELECT service_id, ip, port FROM guards WHERE service_id = ANY ($1::bigint[]) "
	             "ORDER BY service_id, pos", &q, &r, "guards");
	free(ids);
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		int64_t id = pg_i64(r, i, 0);
		if (v[k].id != id)
			for (k = 0; k < n && v[k].id != id; k++)
				;
		if (k == n) {
			k = 0;
			continue;
		}
		if (v[k].n_guards < GUARDS_MAX) {
			struct guard *g = &v[k].guards[v[k].n_guards++];
			pg_addr(r, i, 1, &g->addr);
			g->port = (uint16_t)pg_i64(r, i, 2);
		}
	}
	PQclear(r);
	return rc;
}

int
pg_services_load(struct pgs *p, PGresult *res, struct store_service **out, size_t *n)
{
	size_t rows = (size_t)PQntuples(res);
	struct store_service *v = rows ? calloc(rows, sizeof *v) : NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (rows && !v)
		return store_fail(&p->base, STORE_UNAVAILABLE, "out of memory");
	for (size_t i = 0; i < rows; i++)
		service_read(res, (int)i, &v[i]);
	if ((rc = guards_load(p, v, rows)) != STORE_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n = rows;
	return STORE_OK;
}

/* Runs a services query and hands each row, with its guards, to fn. */
static int
services_each(struct pgs *p, const char *sql, const struct pgq *q, store_service_fn fn,
              void *arg, size_t *found)
{
	struct store_service *v;
	PGresult *r;
	size_t n = 0;
	int rc;

	if ((rc = pg_exec(p, sql, q, &r, "services")) != STORE_OK)
		return rc;
	rc = pg_services_load(p, r, &v, &n);
	PQclear(r);
	for (size_t i = 0; rc == STORE_OK && fn && i < n; i++)
		if (fn(&v[i], arg))
			break;
	free(v);
	if (found)
		*found = n;
	return rc;
}

static int
copy_service(const struct store_service *v, void *arg)
{
	*(struct store_service *)arg = *v;
	return 1;
}

int
pg_service_get(struct store *s, const char *name, int64_t id, struct store_service *svc)
{
	struct pgq q = { .n = 0 };
	size_t n = 0;
	int rc;

	if (name)
		pgq_text(&q, name);
	else
		pgq_int(&q, id);
	rc = services_each(pg_of(s), name ? "SELECT " PG_SERVICE_COLS " FROM services WHERE name = $1"
	                                  : "SELECT " PG_SERVICE_COLS " FROM services WHERE id = $1",
	                   &q, copy_service, svc, &n);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service");
	return rc;
}

int
pg_service_list(struct store *s, int64_t admin_id, store_service_fn fn, void *arg)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, admin_id);
	return services_each(pg_of(s), "SELECT " PG_SERVICE_COLS " FROM services "
	                     "WHERE $1 = 0 OR admin_id = $1 ORDER BY name", &q, fn, arg, NULL);
}

/* Replaces the guards of service id with svc's, in the caller's transaction. */
static int
guards_store(struct pgs *p, int64_t id, const struct store_service *svc)
{
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, id);
	if ((rc = pg_run(p, "DELETE FROM guards WHERE service_id = $1", &q, NULL, "guards del")))
		return rc;
	for (int i = 0; i < svc->n_guards; i++) {
		q.n = 1;
		pgq_int(&q, i);
		pgq_addr(&q, &svc->guards[i].addr);
		pgq_int(&q, svc->guards[i].port);
		if ((rc = pg_run(p, "INSERT INTO guards (service_id, pos, ip, port) "
		                 "VALUES ($1, $2, $3, $4)", &q, NULL, "guard add")) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static int
admin_exists(struct pgs *p, int64_t admin_id)
{
	struct store_user u;
	int rc = pg_user_get(&p->base, NULL, admin_id, &u);

	if (rc == STORE_NOTFOUND)
		return store_fail(&p->base, STORE_NOTFOUND, "no such admin user %lld",
		                  (long long)admin_id);
	return rc;
}

/* Refuses (STORE_INVALID) a guard of svc that a service other than id already guards. */
static int
guards_clash(struct pgs *p, int64_t id, const struct store_service *svc)
{
	char mine[GUARD_STR_MAX], theirs[GUARD_STR_MAX], name[NAME_MAX_LEN + 1];
	struct guard other;
	struct pgq q;
	PGresult *r;
	int rc = STORE_OK, rows = 0;

	for (int i = 0; rc == STORE_OK && rows == 0 && i < svc->n_guards; i++) {
		q.n = 0;
		pgq_addr(&q, &svc->guards[i].addr);
		pgq_int(&q, id);
		pgq_int(&q, svc->guards[i].port);
		if ((rc = pg_exec(p, "SELECT s.name, g.port FROM guards g JOIN services s "
		                  "ON s.id = g.service_id WHERE g.ip = $1 AND g.service_id <> $2 "
		                  "AND ($3 = 0 OR g.port = 0 OR g.port = $3) ORDER BY s.name LIMIT 1",
		                  &q, &r, "guard clash")) != STORE_OK)
			return rc;
		if ((rows = PQntuples(r)) > 0) {
			pg_text(r, 0, 0, name, sizeof name);
			other.addr = svc->guards[i].addr;
			other.port = (uint16_t)pg_i64(r, 0, 1);
			rc = store_fail(&p->base, STORE_INVALID, "guard %s overlaps %s, which service "
			                "%s guards: two services may not guard the same endpoint",
			                guard_str(&svc->guards[i], mine, sizeof mine),
			                guard_str(&other, theirs, sizeof theirs), name);
		}
		PQclear(r);
	}
	return rc;
}

/* Only root sets or changes guards: for anyone else the stored ones must be svc's. */
static int
guards_unchanged(struct pgs *p, const struct store_service *svc, int actor_role)
{
	struct store_service old;
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	if (actor_role == ROLE_ROOT)
		return STORE_OK;
	pgq_int(&q, svc->id);
	if ((rc = pg_exec(p, "SELECT ip, port FROM guards WHERE service_id = $1 ORDER BY pos",
	                  &q, &r, "guards")) != STORE_OK)
		return rc;
	memset(&old, 0, sizeof old);
	for (int i = 0; i < PQntuples(r) && old.n_guards < GUARDS_MAX; i++) {
		pg_addr(r, i, 0, &old.guards[old.n_guards].addr);
		old.guards[old.n_guards++].port = (uint16_t)pg_i64(r, i, 1);
	}
	PQclear(r);
	if (!store_guards_same(&old, svc))
		return store_fail(&p->base, STORE_INVALID, "only root may set or change the "
		                  "guarded endpoints of a service");
	return STORE_OK;
}

/* The editable fields of svc as $1..$9, in the order both statements below use. */
static void
bind_service(struct pgq *q, const struct store_service *svc, int64_t now)
{
	pgq_text(q, svc->name);
	pgq_text(q, svc->url);
	pgq_text(q, svc->entry_url);
	pgq_int(q, svc->max_usage_min);
	pgq_int(q, svc->max_interval_min);
	pgq_int(q, svc->cap);
	pgq_int(q, svc->admin_id);
	pgq_int(q, svc->enabled != 0);
	pgq_int(q, now);
}

/* A non-root's guards on a new service are refused by store.c before this. */
int
pg_service_add(struct store *s, const struct store_service *svc, int actor_role, int64_t now,
               int64_t *id)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	PGresult *r = NULL;
	int64_t new_id = 0;
	int rc;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	bind_service(&q, svc, now);
	if ((rc = admin_exists(p, svc->admin_id)) == STORE_OK)
		rc = pg_exec(p, "INSERT INTO services (name, url, entry_url, max_usage_min, "
		             "max_interval_min, cap, admin_id, enabled, created_at, updated_at) "
		             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
		             &q, &r, "service add");
	if (rc == STORE_EXISTS)
		rc = store_fail(s, STORE_EXISTS, "service %s exists", svc->name);
	(void)actor_role;
	if (rc == STORE_OK) {
		new_id = pg_i64(r, 0, 0);
		if ((rc = guards_clash(p, new_id, svc)) == STORE_OK)
			rc = guards_store(p, new_id, svc);
	}
	PQclear(r);
	if ((rc = pg_finish(p, rc)) == STORE_OK && id)
		*id = new_id;
	return rc;
}

/* Ends the live rights of service id with reason, in the caller's transaction. */
static int
end_service(struct pgs *p, int64_t id, int64_t now, int reason)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, id);
	pgq_int(&q, now);
	pgq_int(&q, reason);
	return pg_run(p, "UPDATE rights SET ended_at = $2, end_reason = $3 "
	              "WHERE service_id = $1 AND ended_at IS NULL", &q, NULL, "end service rights");
}

int
pg_service_update(struct store *s, const struct store_service *svc, int actor_role, int64_t now)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	bind_service(&q, svc, now);
	pgq_int(&q, svc->id);
	if ((rc = admin_exists(p, svc->admin_id)) == STORE_OK)
		rc = guards_unchanged(p, svc, actor_role);
	if (rc == STORE_OK && !svc->enabled)
		rc = end_service(p, svc->id, now, END_SERVICE_DISABLED);
	if (rc == STORE_OK)
		rc = pg_run(p, "UPDATE services SET name = $1, url = $2, entry_url = $3, "
		            "max_usage_min = $4, max_interval_min = $5, cap = $6, admin_id = $7, "
		            "enabled = $8, updated_at = $9 WHERE id = $10", &q, &n, "service update");
	if (rc == STORE_EXISTS)
		rc = store_fail(s, STORE_EXISTS, "service %s exists", svc->name);
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)svc->id);
	if (rc == STORE_OK)
		rc = guards_clash(p, svc->id, svc);
	if (rc == STORE_OK)
		rc = guards_store(p, svc->id, svc);
	return pg_finish(p, rc);
}

/* The ended rights stay, with the service's id and name, for audit. */
int
pg_service_del(struct store *s, int64_t id, int64_t now)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	pgq_int(&q, id);
	if ((rc = end_service(p, id, now, END_SERVICE_DELETED)) == STORE_OK)
		rc = pg_run(p, "DELETE FROM services WHERE id = $1", &q, &n, "service del");
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return pg_finish(p, rc);
}

int
pg_service_set_load(struct store *s, int64_t id, const struct service_load *l)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_int(&q, id);
	pgq_text(&q, l->probe);
	pgq_int(&q, l->interval_ms);
	pgq_int(&q, l->timeout_ms);
	pgq_int(&q, l->down_after);
	pgq_int(&q, l->up_after);
	pgq_int(&q, l->cap_mode);
	pgq_int(&q, l->cap_min);
	pgq_int(&q, l->target_ms);
	pgq_text(&q, l->gauge_url);
	pgq_text(&q, l->gauge_metric);
	pgq_int(&q, (int64_t)(l->gauge_target * 1000 + 0.5));
	rc = pg_run(pg_of(s), "UPDATE services SET probe = $2, probe_interval_ms = $3, "
	            "probe_timeout_ms = $4, probe_down_after = $5, probe_up_after = $6, "
	            "cap_mode = $7, cap_min = $8, latency_target_ms = $9, gauge_url = $10, "
	            "gauge_metric = $11, gauge_target_milli = $12, "
	            "cap_effective = CASE WHEN $7 = 0 THEN -1 ELSE cap_effective END, "
	            "health = CASE WHEN $2 = '' THEN 0 ELSE health END WHERE id = $1",
	            &q, &n, "service set load");
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return rc;
}

int
pg_service_set_health(struct store *s, int64_t id, int health, int cap_effective)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_int(&q, id);
	pgq_int(&q, health);
	pgq_int(&q, cap_effective);
	rc = pg_run(pg_of(s), "UPDATE services SET health = $2, cap_effective = $3 WHERE id = $1",
	            &q, &n, "service set health");
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return rc;
}

int
pg_lease_take(struct store *s, const char *name, const char *holder, int64_t now_ms,
              int ttl_ms, int *held)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_text(&q, name);
	pgq_text(&q, holder);
	pgq_int(&q, now_ms);
	pgq_int(&q, ttl_ms);
	rc = pg_exec(pg_of(s), "INSERT INTO leases (name, holder, expires_ms) "
	             "VALUES ($1, $2, $3::bigint + $4::bigint) ON CONFLICT (name) DO UPDATE "
	             "SET holder = excluded.holder, expires_ms = excluded.expires_ms "
	             "WHERE leases.holder = excluded.holder OR leases.expires_ms <= $3::bigint "
	             "RETURNING 1", &q, &r, "lease");
	if (rc != STORE_OK)
		return rc;
	*held = PQntuples(r) == 1;
	PQclear(r);
	return STORE_OK;
}

int
pg_service_set_queue(struct store *s, int64_t id, const struct service_queue *sqv)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_int(&q, id);
	pgq_int(&q, sqv->mode);
	pgq_int(&q, sqv->max);
	pgq_int(&q, sqv->lapse_s);
	pgq_int(&q, sqv->rate_per_min);
	rc = pg_run(pg_of(s), "UPDATE services SET queue_mode = $2, queue_max = $3, "
	            "queue_lapse_s = $4, rate_per_min = $5 WHERE id = $1", &q, &n,
	            "service set queue");
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service %lld", (long long)id);
	return rc;
}
