#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "adaptive.h"
#include "addr.h"
#include "ctl.h"
#include "service_rules.h"

static int
set_url(const char *opt, const char *v, int allow_empty, char *dst)
{
	char err[256];

	if (v[0] == '\0' && allow_empty) {
		dst[0] = '\0';
		return CTL_OK;
	}
	if (strlen(v) > URL_MAX_LEN)
		return ctl_usage("--%s: URL longer than %d bytes", opt, URL_MAX_LEN);
	if (url_valid(v, err, sizeof err) == -1)
		return ctl_usage("--%s: %s", opt, err);
	memcpy(dst, v, strlen(v) + 1);
	return CTL_OK;
}

/* --guard values replace the list (in order, no duplicates); --no-guards empties it. */
static int
set_guards(struct ctl *c, struct store_service *svc)
{
	const char *v[GUARDS_MAX];
	struct guard g[GUARDS_MAX];
	char err[256];
	int n = ctl_opt_all(c, "guard", v, GUARDS_MAX);

	if (n > GUARDS_MAX)
		return ctl_usage("at most %d --guard endpoints per service", GUARDS_MAX);
	if (n > 0 && ctl_flag(c, "no-guards"))
		return ctl_usage("--guard and --no-guards contradict each other");
	if (n == 0 && !ctl_flag(c, "no-guards"))
		return CTL_OK;
	for (int i = 0; i < n; i++) {
		if (guard_parse(v[i], &g[i], err, sizeof err) == -1)
			return ctl_usage("--guard: %s", err);
		for (int j = 0; j < i; j++)
			if (addr_eq(&g[i].addr, &g[j].addr) && g[i].port == g[j].port)
				return ctl_usage("--guard %s given twice", v[i]);
	}
	memcpy(svc->guards, g, (size_t)n * sizeof g[0]);
	svc->n_guards = n;
	return CTL_OK;
}

/* The admin must exist and pass service_admin_check (the store's rule and words). */
static int
set_admin(struct ctl *c, struct store_service *svc)
{
	const char *name = ctl_opt(c, "admin");
	struct store_user u;
	char err[256];
	int rc;

	if (name == NULL)
		return CTL_OK;
	if ((rc = ctl_get_user(c, name, &u)) != CTL_OK)
		return rc;
	if (service_admin_check(&u, svc->admin_id, err, sizeof err) != STORE_OK)
		return ctl_fail("%s", err);
	svc->admin_id = u.id;
	snprintf(svc->admin_name, sizeof svc->admin_name, "%s", u.name);
	return CTL_OK;
}

/* A whole number option held to rule (service_rules.h), with the rule's message. */
static int
set_number(struct ctl *c, const char *opt, int (*rule)(long long, char *, size_t), int *dst)
{
	const char *v = ctl_opt(c, opt);
	char err[256];
	long long n;

	if (v == NULL)
		return CTL_OK;
	if (parse_int(v, INT_MIN, INT_MAX, &n) == -1)
		return ctl_usage("--%s: \"%s\" is not an integer", opt, v);
	if (rule(n, err, sizeof err) != STORE_OK)
		return ctl_usage("--%s: %s", opt, err);
	*dst = (int)n;
	return CTL_OK;
}

/* Applies every given option to svc, checking each. */
static int
service_apply(struct ctl *c, struct store_service *svc)
{
	const char *v;
	int rc;

	if ((v = ctl_opt(c, "url")) != NULL && (rc = set_url("url", v, 0, svc->url)) != CTL_OK)
		return rc;
	if ((v = ctl_opt(c, "entry-url")) != NULL &&
	    (rc = set_url("entry-url", v, 1, svc->entry_url)) != CTL_OK)
		return rc;
	if ((rc = set_number(c, "max-usage", service_usage_check, &svc->max_usage_min)) != CTL_OK ||
	    (rc = set_number(c, "max-interval", service_interval_check,
	                     &svc->max_interval_min)) != CTL_OK ||
	    (rc = set_number(c, "cap", service_cap_check, &svc->cap)) != CTL_OK ||
	    (rc = set_guards(c, svc)) != CTL_OK)
		return rc;
	if (ctl_flag(c, "enable") && ctl_flag(c, "disable"))
		return ctl_usage("--enable and --disable contradict each other");
	if (ctl_flag(c, "enable") || ctl_flag(c, "disable"))
		svc->enabled = ctl_flag(c, "enable");
	return set_admin(c, svc);
}

int
ctl_service_add(struct ctl *c)
{
	static const char *const required[] = { "url", "max-usage", "max-interval", "cap", "admin" };
	struct store_service svc;
	struct service_queue q = { QUEUE_DEFAULT, 0, 0, 0 };
	char err[512] = "";
	int64_t id;
	int rc, nq;

	if (!name_valid(c->pos[0]))
		return ctl_fail("invalid service name \"%s\" (1..%d of A-Z a-z 0-9 . _ -)", c->pos[0],
		                NAME_MAX_LEN);
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (ctl_opt(c, required[i]) == NULL)
			return ctl_usage("service add: --%s is required", required[i]);
	memset(&svc, 0, sizeof svc);
	snprintf(svc.name, sizeof svc.name, "%s", c->pos[0]);
	svc.enabled = 1;
	if ((rc = service_apply(c, &svc)) != CTL_OK || (rc = ctl_queue_opts(c, &q, &nq)) != CTL_OK)
		return rc;
	rc = store_service_add(c->s, &svc, ROLE_ROOT, c->now, &id, err, sizeof err);
	if (rc == STORE_EXISTS)
		return ctl_fail("service %s already exists", svc.name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "service add", err);
	if ((rc = ctl_audit(c, "service.add", svc.name, svc.admin_name, "cap=%d max_usage=%d "
	                    "max_interval=%d guards=%d", svc.cap, svc.max_usage_min,
	                    svc.max_interval_min, svc.n_guards)) != CTL_OK)
		return rc;
	svc.id = id;
	if (nq > 0 && (rc = ctl_queue_apply(c, &svc, &q)) != CTL_OK)
		return rc;
	ctl_fw_sync(c, id);
	printf("added service %s (cap %d, admin %s)\n", svc.name, svc.cap, svc.admin_name);
	return CTL_OK;
}

static void
guards_text(const struct store_service *svc, char *out, size_t n)
{
	char g[GUARD_STR_MAX];
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < svc->n_guards && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "",
		                        guard_str(&svc->guards[i], g, sizeof g));
	if (svc->n_guards == 0)
		snprintf(out, n, "(none)");
}

void
ctl_service_json(struct out *o, const struct store_service *svc)
{
	char g[GUARD_STR_MAX];

	ctl_json_obj(o, NULL);
	ctl_json_str(o, "name", svc->name);
	ctl_json_str(o, "url", svc->url);
	ctl_json_str(o, "entry_url", svc->entry_url);
	ctl_json_int(o, "max_usage_min", svc->max_usage_min);
	ctl_json_int(o, "max_interval_min", svc->max_interval_min);
	ctl_json_int(o, "cap", svc->cap);
	ctl_json_int(o, "active", svc->active);
	ctl_json_int(o, "cap_now", service_cap_now(svc));
	ctl_json_str(o, "cap_mode", svc->load.cap_mode == CAP_ADAPTIVE ? "adaptive" : "fixed");
	ctl_json_int(o, "cap_min", svc->load.cap_min);
	ctl_json_str(o, "probe", svc->load.probe);
	ctl_json_str(o, "gauge", svc->load.gauge_url);
	ctl_json_str(o, "gauge_metric", svc->load.gauge_metric);
	ctl_json_str(o, "health", ctl_health_str(svc));
	ctl_queue_json(o, svc);
	ctl_json_str(o, "admin", svc->admin_name);
	ctl_json_bool(o, "enabled", svc->enabled);
	ctl_json_arr(o, "guards");
	for (int i = 0; i < svc->n_guards; i++)
		ctl_json_str(o, NULL, guard_str(&svc->guards[i], g, sizeof g));
	ctl_json_end(o, ']');
	ctl_json_int(o, "created_at", svc->created_at);
	ctl_json_int(o, "updated_at", svc->updated_at);
	ctl_json_end(o, '}');
}

static int
list_one(const struct store_service *svc, void *arg)
{
	struct out *o = arg;
	char use[32];

	if (o->json) {
		ctl_service_json(o, svc);
		return 0;
	}
	snprintf(use, sizeof use, "%d/%d", svc->active, service_cap_now(svc));
	ctl_out_text(o, "%-32s %-15s %-8s %-6s %-32s %s\n", svc->name, use,
	         svc->enabled ? "enabled" : "disabled", ctl_health_str(svc), svc->admin_name,
	         svc->url);
	return 0;
}

int
ctl_service_list(struct ctl *c)
{
	struct out o;
	int rc;

	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, "services");
	} else {
		ctl_out_text(&o, "%-32s %-15s %-8s %-6s %-32s %s\n", "NAME", "ACTIVE/CAP", "STATE",
		             "HEALTH", "ADMIN", "URL");
	}
	if ((rc = store_service_list(c->s, 0, list_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "service list", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

/* The load lines of service show: probe, health, cap mode and the cap in force. */
static void
load_text(struct out *o, const struct store_service *svc)
{
	const struct service_load *l = &svc->load;

	if (l->probe[0])
		ctl_out_text(o, "probe:         %s every %d ms, timeout %d ms, down after %d, up after "
		             "%d\nhealth:        %s\n", l->probe, l->interval_ms, l->timeout_ms,
		             l->down_after, l->up_after, ctl_health_str(svc));
	else
		ctl_out_text(o, "probe:         none\n");
	if (l->cap_mode == CAP_ADAPTIVE)
		ctl_out_text(o, "cap mode:      adaptive (AIMD from %d to %d, target %d ms): "
		             "effective cap %d\n", l->cap_min, svc->cap, l->target_ms,
		             service_cap_now(svc));
	else
		ctl_out_text(o, "cap mode:      fixed\n");
	if (l->gauge_url[0])
		ctl_out_text(o, "gauge:         %s %s, target %g\n", l->gauge_url, l->gauge_metric,
		             l->gauge_target);
}

int
ctl_service_show(struct ctl *c)
{
	struct store_service svc;
	struct out o;
	char g[GUARDS_MAX * (GUARD_STR_MAX + 2)], t1[32], t2[32];
	int rc;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_service_json(&o, &svc);
		return ctl_out_flush(&o);
	}
	guards_text(&svc, g, sizeof g);
	ctl_out_text(&o, "name:          %s\nurl:           %s\nentry url:     %s\n"
	         "max usage:     %d min\nmax interval:  %d min\ncap:           %d (%d in use)\n"
	         "admin:         %s\nstate:         %s\nguards:        %s\n"
	         "created:       %s\nupdated:       %s\n", svc.name, svc.url,
	         svc.entry_url[0] ? svc.entry_url : "(default: /_sekisho/enter on the url's origin)",
	         svc.max_usage_min, svc.max_interval_min, svc.cap, svc.active, svc.admin_name,
	         svc.enabled ? "enabled" : "disabled", g, ctl_time(svc.created_at, t1, sizeof t1),
	         ctl_time(svc.updated_at, t2, sizeof t2));
	load_text(&o, &svc);
	ctl_queue_text(&o, &svc);
	return ctl_out_flush(&o);
}

/*
 * The audit rows of an edit, named as the admin pages name the same acts:
 * service.enable / service.disable when the state changed, service.edit when
 * anything else was given.
 */
static int
edit_audit(struct ctl *c, const struct store_service *svc, int was_enabled, int active, int nq)
{
	int flags = ctl_flag(c, "enable") + ctl_flag(c, "disable") + nq, rc;

	if (svc->enabled != was_enabled &&
	    (rc = ctl_audit(c, svc->enabled ? "service.enable" : "service.disable", svc->name, NULL,
	                    "ended=%d", svc->enabled ? 0 : active)) != CTL_OK)
		return rc;
	if (c->nopt == flags)
		return CTL_OK;
	return ctl_audit(c, "service.edit", svc->name, NULL, "cap=%d max_usage=%d max_interval=%d "
	                 "guards=%d", svc->cap, svc->max_usage_min, svc->max_interval_min,
	                 svc->n_guards);
}

int
ctl_service_edit(struct ctl *c)
{
	struct store_service svc;
	struct service_queue q;
	char err[512] = "";
	int rc, was_enabled, active, nq;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	if (c->nopt == 0)
		return ctl_usage("service edit: nothing to change (try sekishoctl -h)");
	was_enabled = svc.enabled;
	active = svc.active;
	q = svc.queue;
	if ((rc = service_apply(c, &svc)) != CTL_OK || (rc = ctl_queue_opts(c, &q, &nq)) != CTL_OK)
		return rc;
	if (c->nopt > nq &&
	    (rc = store_service_update(c->s, &svc, ROLE_ROOT, c->now, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "service edit", err);
	if ((rc = edit_audit(c, &svc, was_enabled, active, nq)) != CTL_OK)
		return rc;
	if (nq > 0 && (rc = ctl_queue_apply(c, &svc, &q)) != CTL_OK)
		return rc;
	ctl_fw_sync(c, svc.id);
	printf("updated service %s%s\n", svc.name,
	       was_enabled && !svc.enabled ? " (disabled: its rights ended)" : "");
	return CTL_OK;
}

int
ctl_service_del(struct ctl *c)
{
	struct store_service svc;
	char err[512] = "";
	int rc;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	if ((rc = store_service_del(c->s, svc.id, c->now, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "service del", err);
	rc = ctl_audit(c, "service.del", svc.name, NULL, "ended=%d", svc.active);
	if (rc != CTL_OK)
		return rc;
	ctl_fw_sync(c, svc.id);
	printf("deleted service %s (%d rights ended)\n", svc.name, svc.active);
	return CTL_OK;
}
