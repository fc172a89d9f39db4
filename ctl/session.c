#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
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
ctl_session_list(struct ctl *c)
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
		ctl_json_arr(&o, "sessions");
	} else {
		ctl_out_text(&o, "%-8s %-20s %-20s %-39s %-19s %-19s %s\n", "ID", "USER", "SERVICE", "IP",
		         "SINCE", "LAST SEEN", "ENDS BY");
	}
	if ((rc = store_right_list(c->s, svc.id, 0, list_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "session list", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

int
ctl_session_revoke(struct ctl *c)
{
	struct store_right r;
	char ip[ADDR_STR_MAX];
	long long id;
	int rc;

	if (parse_int(c->pos[0], 1, INT64_MAX, &id) == -1)
		return ctl_usage("session revoke: \"%s\" is not a session id", c->pos[0]);
	rc = store_end(c->s, id, END_REVOKED, c->now, &r);
	if (rc == STORE_NOTFOUND)
		return ctl_fail("no live session %lld", id);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "session revoke", NULL);
	addr_str(&r.ip, ip, sizeof ip);
	rc = ctl_audit(c, "session.revoke", r.service_name, r.user_name, "right=%lld ip=%s", id, ip);
	if (rc != CTL_OK)
		return rc;
	ctl_fw_revoke(c, id);
	printf("revoked session %lld (%s on %s from %s)\n", id, r.user_name, r.service_name, ip);
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

static int
grant_denied(struct ctl *c, const struct store_service *svc, const struct store_admission *a)
{
	int active = a->cap > 0 ? a->active : svc->active, cap = a->cap > 0 ? a->cap : svc->cap;

	ctl_audit(c, "deny", svc->name, c->pos[0], "cap=%d active=%d", cap, active);
	ctl_fail("cap reached: %s %d/%d", svc->name, active, cap);
	return CTL_DENIED;
}

/* ipfd did not confirm: the new right is ended again, nobody is admitted (fail closed). */
static int
grant_rollback(struct ctl *c, const struct store_admission *a, const char *why)
{
	int rc = store_end(c->s, a->right.id, END_ROLLBACK, c->now, NULL);

	ctl_audit(c, "grant.rollback", a->right.service_name, a->right.user_name, "right=%" PRId64,
	          a->right.id);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return ctl_fail("ipfd did not confirm (%s) and ending right %" PRId64 " failed: %s", why,
		                a->right.id, store_error(c->s));
	return ctl_fail("ipfd did not confirm the admission (%s); right %" PRId64 " rolled back",
	                why, a->right.id);
}

int
ctl_grant(struct ctl *c)
{
	struct store_user u;
	struct store_service svc;
	struct store_admission a;
	struct addr ip;
	char ips[ADDR_STR_MAX], t[32], err[256];
	int rc;

	if ((rc = grant_lookup(c, &u, &svc, &ip)) != CTL_OK)
		return rc;
	memset(&a, 0, sizeof a);
	rc = store_admit(c->s, u.id, svc.id, &ip, c->now, &a);
	if (rc == STORE_DENIED)
		return grant_denied(c, &svc, &a);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "grant", NULL);
	if (ctl_fw_admit(c, a.right.id, err, sizeof err) == -1)
		return grant_rollback(c, &a, err);
	if (a.replaced)
		ctl_fw_revoke(c, a.replaced_id);
	addr_str(&ip, ips, sizeof ips);
	rc = ctl_audit(c, "grant", svc.name, u.name, "right=%" PRId64 " ip=%s replaced=%" PRId64,
	               a.right.id, ips, a.replaced ? a.replaced_id : 0);
	if (rc != CTL_OK)
		return rc;
	printf("granted session %" PRId64 ": %s on %s from %s until %s (%d/%d in use)", a.right.id,
	       u.name, svc.name, ips, ctl_time(a.right.expires_at, t, sizeof t), a.active, a.cap);
	if (a.replaced)
		printf("; replaced session %" PRId64, a.replaced_id);
	printf("\n");
	return CTL_OK;
}
