#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "admission.h"
#include "ctl.h"

static void
right_json(struct out *o, const struct store_right *r)
{
	char ip[ADDR_STR_MAX];

	ctl_json_obj(o, NULL);
	ctl_json_int(o, "id", r->id);
	ctl_json_str(o, "user", r->user_name);
	ctl_json_str(o, "service", r->service_name);
	ctl_json_str(o, "ip", addr_str(&r->ip, ip, sizeof ip));
	ctl_json_int(o, "created_at", r->created_at);
	ctl_json_int(o, "expires_at", r->expires_at);
	ctl_json_int(o, "last_seen", r->last_seen);
	ctl_json_int(o, "idle_deadline", r->idle_deadline);
	ctl_json_end(o, '}');
}

static int
list_one(const struct store_right *r, void *arg)
{
	struct out *o = arg;
	char ip[ADDR_STR_MAX], t1[32], t2[32], t3[32];

	if (o->json) {
		right_json(o, r);
		return 0;
	}
	ctl_out_text(o, "%-8" PRId64 " %-20s %-20s %-39s %-19s %-19s %s\n", r->id, r->user_name,
	         r->service_name, addr_str(&r->ip, ip, sizeof ip),
	         ctl_time(r->created_at, t1, sizeof t1), ctl_time(r->last_seen, t2, sizeof t2),
	         ctl_time(r->expires_at < r->idle_deadline ? r->expires_at : r->idle_deadline,
	                  t3, sizeof t3));
	return 0;
}

int
ctl_right_list(struct ctl *c)
{
	const char *name = ctl_opt(c, "service");
	struct store_service svc;
	struct out o;
	int rc;

	svc.id = 0;
	if (name != NULL && (rc = ctl_get_service(c, name, &svc)) != CTL_OK)
		return rc;
	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, c->legacy_session ? "sessions" : "rights");
	} else {
		ctl_out_text(&o, "%-8s %-20s %-20s %-39s %-19s %-19s %s\n", "ID", "USER", "SERVICE", "IP",
		         "SINCE", "LAST SEEN", "ENDS BY");
	}
	if ((rc = store_right_list(c->s, svc.id, 0, list_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "right list", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

int
ctl_right_revoke(struct ctl *c)
{
	struct store_right r;
	char ip[ADDR_STR_MAX];
	long long id;
	int rc;

	if (parse_int(c->pos[0], 1, INT64_MAX, &id) == -1)
		return ctl_usage("right revoke: \"%s\" is not a right id", c->pos[0]);
	rc = store_end(c->s, id, END_REVOKED, c->now, &r);
	if (rc == STORE_NOTFOUND)
		return ctl_fail("no live right %lld", id);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "right revoke", NULL);
	addr_str(&r.ip, ip, sizeof ip);
	rc = ctl_audit(c, "right.revoke", r.service_name, r.user_name, "right=%lld ip=%s", id, ip);
	if (rc != CTL_OK)
		return rc;
	ctl_fw_revoke(c, id);
	printf("revoked right %lld (%s on %s from %s)\n", id, r.user_name, r.service_name, ip);
	return CTL_OK;
}

/* The checks the portal makes before admitting, with the CLI's words. */
static int
grant_lookup(struct ctl *c, struct store_user *u, struct store_service *svc, struct addr *ip)
{
	int rc;

	if ((rc = ctl_get_user(c, c->pos[0], u)) != CTL_OK ||
	    (rc = ctl_get_service(c, c->pos[1], svc)) != CTL_OK)
		return rc;
	if (addr_parse(c->pos[2], ip) == -1)
		return ctl_usage("grant: \"%s\" is not an IP address", c->pos[2]);
	if (u->disabled)
		return ctl_fail("user %s is disabled", u->name);
	if (!svc->enabled)
		return ctl_fail("service %s is disabled", svc->name);
	return CTL_OK;
}

/* The firewall side of the admission (common/admission.c) through sekishoctl's ipfd connection. */
struct grant_fw {
	struct ctl *c;
	int revoke_failed;                   /* a revoke did not reach ipfd */
};

static int
grant_fw_admit(void *arg, int64_t right_id, char *err, size_t errlen)
{
	struct grant_fw *g = arg;

	return ctl_fw_admit(g->c, right_id, err, errlen);
}

static void
grant_fw_revoke(void *arg, int64_t right_id)
{
	struct grant_fw *g = arg;
	char err[256];

	if (ctl_fw_revoke_fresh(g->c, right_id, err, sizeof err) == -1)
		g->revoke_failed = 1;
}

static void
grant_fw_sync(void *arg, int64_t service_id)
{
	struct grant_fw *g = arg;

	ctl_fw_sync(g->c, service_id);
}

/* Says how the grant went, in one line for a failure. */
static int
grant_report(const struct store_user *u, const struct store_service *svc,
             const struct admission *a, const struct grant_fw *g)
{
	const struct store_admission *m = &a->adm;
	char ips[ADDR_STR_MAX], t[32];

	switch (a->outcome) {
	case ADMISSION_OK:
		break;
	case ADMISSION_DENIED:
		ctl_fail("cap reached: %s %d/%d", svc->name, m->active, m->cap);
		return CTL_DENIED;
	case ADMISSION_UNAVAILABLE:
		ctl_fail("service unavailable: %s is down (its probe)", svc->name);
		return CTL_DENIED;
	case ADMISSION_RATE:
		ctl_fail("admission rate reached: %s admits %d new users a minute; room again at %s",
		         svc->name, svc->queue.rate_per_min, ctl_time(m->rate_next, t, sizeof t));
		return CTL_DENIED;
	case ADMISSION_FW_DOWN:
		return ctl_fail("ipfd did not confirm the admission (%s); right %" PRId64 " rolled back%s",
		                a->why + (strncmp(a->why, "ipfd: ", 6) == 0 ? 6 : 0), m->right.id,
		                g->revoke_failed ? " in the store; ipfd drops its address at its next "
		                                   "sync" : "");
	case ADMISSION_FORBIDDEN:
		ctl_fail("grant: %s is not on the access list of %s", u->name, svc->name);
		return CTL_DENIED;
	case ADMISSION_NOTFOUND:
		return ctl_fail("grant: user %s or service %s is gone or disabled", u->name, svc->name);
	case ADMISSION_REPLACED:
		return ctl_fail("grant: right %" PRId64 " was replaced by a concurrent admission of %s "
		                "to %s before ipfd confirmed it; that one holds the access",
		                m->right.id, u->name, svc->name);
	default:
		return ctl_fail("grant: store unavailable: %s", a->why);
	}
	addr_str(&m->right.ip, ips, sizeof ips);
	printf("granted right %" PRId64 ": %s on %s from %s until %s (%d/%d in use)", m->right.id,
	       u->name, svc->name, ips, ctl_time(m->right.expires_at, t, sizeof t), m->active, m->cap);
	if (m->replaced)
		printf("; replaced right %" PRId64, m->replaced_id);
	printf("\n");
	return CTL_OK;
}

int
ctl_grant(struct ctl *c)
{
	struct grant_fw g = { c, 0 };
	const struct admission_fw fw = { grant_fw_admit, grant_fw_revoke, grant_fw_sync, &g };
	struct store_user u;
	struct store_service svc;
	struct admission a;
	struct addr ip;
	int rc;

	if ((rc = grant_lookup(c, &u, &svc, &ip)) != CTL_OK)
		return rc;
	admission_run(c->s, &fw, u.id, svc.id, &ip, c->now, &a);
	if (a.outcome != ADMISSION_NOTFOUND && a.outcome != ADMISSION_STORE_DOWN &&
	    admission_audit(c->s, c->now, CTL_ACTOR, c->by, u.name, svc.name, &ip, &a) != STORE_OK)
		return ctl_store_fail(c, STORE_UNAVAILABLE, "audit", NULL);
	return grant_report(&u, &svc, &a, &g);
}
