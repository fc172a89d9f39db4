/*
 * The store's front: bounds every argument, then dispatches to the backend
 * through struct store_ops. Nothing here knows SQL. This file: opening,
 * users, services, admission, the waiting room, audit and stats; the rest of
 * the front is store_rights.c, store_session.c, store_keys.c, store_acl.c,
 * store_guard.c and store_queue.c.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "adaptive.h"
#include "store.h"
#include "service_rules.h"
#include "store_int.h"

static const struct migration *override_m;
static int override_n;

const char *
store_rc_str(int rc)
{
	static const char *const words[] = {
		[STORE_OK] = "ok", [STORE_DENIED] = "denied", [STORE_NOTFOUND] = "not found",
		[STORE_EXISTS] = "exists", [STORE_INVALID] = "invalid",
		[STORE_UNAVAILABLE] = "unavailable", [STORE_QUEUED] = "queued",
	};

	if (rc < 0 || rc > STORE_QUEUED)
		return "unknown";
	return words[rc];
}

const char *
role_str(int role)
{
	switch (role) {
	case ROLE_USER:  return "user";
	case ROLE_ADMIN: return "admin";
	case ROLE_ROOT:  return "root";
	}
	return "unknown";
}

int
role_parse(const char *s)
{
	for (int r = ROLE_USER; r <= ROLE_ROOT; r++)
		if (s && strcmp(s, role_str(r)) == 0)
			return r;
	return -1;
}

int
name_valid(const char *s)
{
	size_t n;

	if (!s || s[0] == '.' || s[0] == '-')
		return 0;
	for (n = 0; s[n]; n++) {
		char c = s[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok || n >= NAME_MAX_LEN)
			return 0;
	}
	return n > 0;
}

const char *
end_reason_str(int reason)
{
	static const char *const words[] = {
		[END_NONE] = "none", [END_EXPIRED] = "expired", [END_IDLE] = "idle",
		[END_LOGOUT] = "logout", [END_RELEASED] = "released", [END_REVOKED] = "revoked",
		[END_REPLACED] = "replaced", [END_SERVICE_DELETED] = "service-deleted",
		[END_SERVICE_DISABLED] = "service-disabled", [END_USER_DISABLED] = "user-disabled",
		[END_ROLLBACK] = "rollback",
	};

	if (reason < 0 || reason > END_ROLLBACK)
		return "unknown";
	return words[reason];
}

int
store_fail(struct store *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
store_error(struct store *s)
{
	return s ? s->err : "no store";
}

/* Copies the connection's last error to a caller's buffer when rc is a failure. */
static int
report(struct store *s, int rc, char *err, size_t errlen)
{
	if (rc != STORE_OK && err && errlen > 0)
		snprintf(err, errlen, "%s", s->err);
	return rc;
}

/* Starts each call with an empty error so a stale one is never reported. */
static void
clear(struct store *s)
{
	s->err[0] = '\0';
}

/* The same two for the front's other files. */
int
store_report(struct store *s, int rc, char *err, size_t errlen)
{
	return report(s, rc, err, errlen);
}

void
store_clear(struct store *s)
{
	clear(s);
}

int
store_text_ok(const char *t, size_t max)
{
	return t && strnlen(t, max + 1) <= max;
}

/* A hash key (code or login id): 1..CODE_HASH_LEN lowercase hex digits. */
int
store_hash_ok(const char *h)
{
	size_t n;

	if (!h)
		return 0;
	for (n = 0; h[n]; n++)
		if (n >= CODE_HASH_LEN || !((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
			return 0;
	return n > 0;
}

int
store_addr_ok(const struct addr *a)
{
	return a && (a->family == AF_INET || a->family == AF_INET6);
}

const struct migration *
store_migrations(int *n)
{
	if (override_m) {
		*n = override_n;
		return override_m;
	}
	*n = n_migrations;
	return migrations;
}

void
store_set_migrations(const struct migration *m, int n)
{
	override_m = m;
	override_n = m ? n : 0;
}

int
store_schema_version(void)
{
	int n;
	const struct migration *m = store_migrations(&n);

	return n > 0 ? m[n - 1].version : 0;
}

struct store *
store_open(const struct conf_db *db, int flags, char *err, size_t errlen)
{
	struct store *s;

	if ((flags & STORE_OPEN_READONLY) && (flags & (STORE_OPEN_CREATE | STORE_OPEN_MIGRATE))) {
		snprintf(err, errlen, "a read-only store can be neither created nor migrated");
		return NULL;
	}
	if (!db->url[0] && !db->path[0]) {
		snprintf(err, errlen, "db.path is empty");
		return NULL;
	}
	s = db->url[0] ? store_pg_open(db, flags, err, errlen) : store_sqlite_open(db, flags, err, errlen);
	if (s != NULL && store_forbid_load(s, db, err, errlen) == -1) {
		store_close(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

int
store_version(struct store *s)
{
	return s->ops->version(s);
}

unsigned
store_epoch(struct store *s)
{
	return s->epoch;
}

int
store_maintain(struct store *s)
{
	clear(s);
	return s->ops->maintain(s);
}

int
store_user_add(struct store *s, const char *name, int role, const char *pwhash,
               int64_t now, int64_t *id, char *err, size_t errlen)
{
	clear(s);
	if (!name_valid(name))
		return report(s, store_fail(s, STORE_INVALID, "invalid user name"), err, errlen);
	if (role < ROLE_USER || role > ROLE_ROOT)
		return report(s, store_fail(s, STORE_INVALID, "invalid role"), err, errlen);
	if (!store_text_ok(pwhash, HASH_MAX_LEN) || !pwhash[0])
		return report(s, store_fail(s, STORE_INVALID, "invalid password hash"), err, errlen);
	return report(s, s->ops->user_add(s, name, role, pwhash, now, id), err, errlen);
}

int
store_user_get(struct store *s, const char *name, struct store_user *u)
{
	clear(s);
	if (!name_valid(name))
		return store_fail(s, STORE_NOTFOUND, "no such user");
	return s->ops->user_get(s, name, 0, u);
}

int
store_user_get_id(struct store *s, int64_t id, struct store_user *u)
{
	clear(s);
	return s->ops->user_get(s, NULL, id, u);
}

int
store_user_list(struct store *s, int (*fn)(const struct store_user *, void *), void *arg)
{
	clear(s);
	return s->ops->user_list(s, fn, arg);
}

int
store_user_set_password(struct store *s, int64_t id, const char *pwhash)
{
	clear(s);
	if (!store_text_ok(pwhash, HASH_MAX_LEN) || !pwhash[0])
		return store_fail(s, STORE_INVALID, "invalid password hash");
	return s->ops->user_set_password(s, id, pwhash);
}

int
store_user_rehash(struct store *s, int64_t id, const char *old_hash, const char *new_hash)
{
	clear(s);
	if (!store_text_ok(new_hash, HASH_MAX_LEN) || !new_hash[0] || !store_text_ok(old_hash, HASH_MAX_LEN))
		return store_fail(s, STORE_INVALID, "invalid password hash");
	return s->ops->user_rehash(s, id, old_hash, new_hash);
}

int
store_user_set_role(struct store *s, int64_t id, int role, char *err, size_t errlen)
{
	clear(s);
	if (role < ROLE_USER || role > ROLE_ROOT)
		return report(s, store_fail(s, STORE_INVALID, "invalid role"), err, errlen);
	return report(s, s->ops->user_set_role(s, id, role), err, errlen);
}

int
store_user_set_disabled(struct store *s, int64_t id, int disabled, int64_t now,
                        char *err, size_t errlen)
{
	clear(s);
	return report(s, s->ops->user_set_disabled(s, id, disabled != 0, now), err, errlen);
}

int
store_user_del(struct store *s, int64_t id, int64_t now, char *err, size_t errlen)
{
	clear(s);
	return report(s, s->ops->user_del(s, id, now), err, errlen);
}

/*
 * The editable fields of a service, bounded, and the rules of service_rules.h
 * (service_id: the one updated, 0 for a new one). 0, or a store_rc with s->err.
 */
static int
service_check(struct store *s, const struct store_service *v, int64_t service_id)
{
	char msg[sizeof s->err];
	int rc;

	if (!name_valid(v->name))
		return store_fail(s, STORE_INVALID, "invalid service name");
	if (!store_text_ok(v->url, URL_MAX_LEN) || !v->url[0])
		return store_fail(s, STORE_INVALID, "service url missing or longer than %d", URL_MAX_LEN);
	if (!store_text_ok(v->entry_url, URL_MAX_LEN))
		return store_fail(s, STORE_INVALID, "entry url longer than %d", URL_MAX_LEN);
	if ((rc = service_limits_check(v, s->err, sizeof s->err)) != STORE_OK)
		return rc;
	if (v->n_guards < 0 || v->n_guards > GUARDS_MAX)
		return store_fail(s, STORE_INVALID, "at most %d guarded endpoints", GUARDS_MAX);
	for (int i = 0; i < v->n_guards; i++)
		if (!store_addr_ok(&v->guards[i].addr))
			return store_fail(s, STORE_INVALID, "guard %d has no address", i + 1);
	if ((rc = store_guards_check(s, v)) != STORE_OK)
		return rc;
	if ((rc = service_admin_verify(s, v->admin_id, service_id, msg, sizeof msg)) != STORE_OK)
		return store_fail(s, rc, "%s", msg);
	return STORE_OK;
}

static int
actor_ok(int actor_role)
{
	return actor_role == ROLE_ADMIN || actor_role == ROLE_ROOT;
}

int
store_service_add(struct store *s, const struct store_service *svc, int actor_role,
                  int64_t now, int64_t *id, char *err, size_t errlen)
{
	int rc;

	clear(s);
	if (!actor_ok(actor_role))
		return report(s, store_fail(s, STORE_INVALID, "only admins and root register "
		                            "services"), err, errlen);
	if ((rc = service_check(s, svc, 0)) != STORE_OK)
		return report(s, rc, err, errlen);
	if (svc->n_guards > 0 && actor_role != ROLE_ROOT)
		return report(s, store_fail(s, STORE_INVALID, "only root may set the guarded "
		                            "endpoints of a service"), err, errlen);
	return report(s, s->ops->service_add(s, svc, actor_role, now, id), err, errlen);
}

int
store_service_get(struct store *s, const char *name, struct store_service *svc)
{
	clear(s);
	if (!name_valid(name))
		return store_fail(s, STORE_NOTFOUND, "no such service");
	return s->ops->service_get(s, name, 0, svc);
}

int
store_service_get_id(struct store *s, int64_t id, struct store_service *svc)
{
	clear(s);
	return s->ops->service_get(s, NULL, id, svc);
}

int
store_service_list(struct store *s, int64_t admin_id,
                   int (*fn)(const struct store_service *, void *), void *arg)
{
	clear(s);
	return s->ops->service_list(s, admin_id, fn, arg);
}

int
store_service_update(struct store *s, const struct store_service *svc, int actor_role,
                     int64_t now, char *err, size_t errlen)
{
	int rc;

	clear(s);
	if (!actor_ok(actor_role))
		return report(s, store_fail(s, STORE_INVALID, "only admins and root change "
		                            "services"), err, errlen);
	if ((rc = service_check(s, svc, svc->id)) != STORE_OK)
		return report(s, rc, err, errlen);
	return report(s, s->ops->service_update(s, svc, actor_role, now), err, errlen);
}

int
store_service_del(struct store *s, int64_t id, int64_t now, char *err, size_t errlen)
{
	clear(s);
	return report(s, s->ops->service_del(s, id, now), err, errlen);
}

int
store_service_set_load(struct store *s, int64_t id, const struct service_load *load,
                       char *err, size_t errlen)
{
	struct service_load l = *load;
	struct store_service svc;
	char why[200];
	int rc;

	clear(s);
	if ((rc = s->ops->service_get(s, NULL, id, &svc)) != STORE_OK)
		return report(s, rc, err, errlen);
	if ((rc = service_load_check(&l, svc.cap, why, sizeof why)) != STORE_OK)
		return report(s, store_fail(s, rc, "%s", why), err, errlen);
	return report(s, s->ops->service_set_load(s, id, &l), err, errlen);
}

int
store_service_set_health(struct store *s, int64_t id, int health, int cap_effective)
{
	clear(s);
	if ((health != HEALTH_UP && health != HEALTH_DOWN) || cap_effective < -1)
		return store_fail(s, STORE_INVALID, "bad health %d or effective cap %d", health,
		                  cap_effective);
	return s->ops->service_set_health(s, id, health, cap_effective);
}

int
store_lease_take(struct store *s, const char *name, const char *holder, int64_t now_ms,
                 int ttl_ms, int *held)
{
	clear(s);
	*held = 0;
	if (!name_valid(name) || holder[0] == '\0' || strlen(holder) > LEASE_HOLDER_MAX ||
	    ttl_ms <= 0)
		return store_fail(s, STORE_INVALID, "bad lease %s for %s", name, holder);
	return s->ops->lease_take(s, name, holder, now_ms, ttl_ms, held);
}

int
store_admit(struct store *s, int64_t user_id, int64_t service_id,
            const struct addr *ip, int64_t now, struct store_admission *a)
{
	clear(s);
	memset(a, 0, sizeof *a);
	if (!store_addr_ok(ip))
		return store_fail(s, STORE_INVALID, "admission without a client address");
	return s->ops->admit(s, user_id, service_id, ip, now, a);
}

int
store_queue_admit(struct store *s, int64_t user_id, int64_t service_id, const struct addr *ip,
                  int64_t now, const struct store_queue_rules *rules, struct store_admission *a,
                  struct store_place *pl)
{
	clear(s);
	memset(a, 0, sizeof *a);
	memset(pl, 0, sizeof *pl);
	if (!store_addr_ok(ip))
		return store_fail(s, STORE_INVALID, "admission without a client address");
	if (rules->lapse_s < 1 || rules->lapse_s > 86400 || rules->max < 1 ||
	    rules->max > QUEUE_MAX_PLACES || rules->window_s < 1 || rules->window_s > 86400)
		return store_fail(s, STORE_INVALID, "queue rules out of range");
	return s->ops->queue_admit(s, user_id, service_id, ip, now, rules, a, pl);
}

int
store_queue_leave(struct store *s, int64_t user_id, int64_t service_id, int *n)
{
	int dummy;

	clear(s);
	return s->ops->queue_leave(s, user_id, service_id, n ? n : &dummy);
}

int
store_queue_len(struct store *s, int64_t service_id, int *n, int64_t *oldest)
{
	clear(s);
	*n = 0;
	*oldest = 0;
	return s->ops->queue_len(s, service_id, n, oldest);
}

struct lines { struct store_line *v; int max, n; };

static int
note_line(const struct store_service *svc, void *arg)
{
	struct lines *l = arg;

	if (l->n == l->max)
		return 1;
	l->v[l->n].service_id = svc->id;
	snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", svc->name);
	l->n++;
	return 0;
}

/* Services first, then each line: a callback never calls into the store it runs in. */
int
store_queue_lines(struct store *s, struct store_line *out, int max, int *n)
{
	struct lines l = { out, max, 0 };
	int rc;

	*n = 0;
	if ((rc = store_service_list(s, 0, note_line, &l)) != STORE_OK)
		return rc;
	for (int i = 0; i < l.n; i++)
		if ((rc = store_queue_len(s, out[i].service_id, &out[i].waiting,
		                          &out[i].oldest)) != STORE_OK)
			return rc;
	*n = l.n;
	return STORE_OK;
}

int
store_audit(struct store *s, int64_t now, const char *actor, const char *action,
            const char *service, const char *target, const char *detail)
{
	clear(s);
	if (!store_text_ok(actor, NAME_MAX_LEN) || !actor[0] || !store_text_ok(action, 31) || !action[0])
		return store_fail(s, STORE_INVALID, "audit: actor or action missing or too long");
	if ((service && !store_text_ok(service, NAME_MAX_LEN)) || (target && !store_text_ok(target, NAME_MAX_LEN)))
		return store_fail(s, STORE_INVALID, "audit: service or target too long");
	if (detail && !store_text_ok(detail, AUDIT_TEXT_MAX))
		return store_fail(s, STORE_INVALID, "audit: detail longer than %d", AUDIT_TEXT_MAX);
	return s->ops->audit(s, now, actor, action, service ? service : "",
	                     target ? target : "", detail ? detail : "");
}

int
store_audit_list(struct store *s, const struct store_audit_filter *f,
                 int (*fn)(const struct store_audit *, void *), void *arg)
{
	clear(s);
	if (f->limit < 1 || f->limit > 1000)
		return store_fail(s, STORE_INVALID, "audit: limit must be 1..1000");
	if ((f->service && !store_text_ok(f->service, NAME_MAX_LEN)) ||
	    (f->user && !store_text_ok(f->user, NAME_MAX_LEN)))
		return store_fail(s, STORE_INVALID, "audit: filter name too long");
	return s->ops->audit_list(s, f, fn, arg);
}

int
store_stats(struct store *s, struct store_stats *st)
{
	clear(s);
	memset(st, 0, sizeof *st);
	return s->ops->stats(s, st);
}
