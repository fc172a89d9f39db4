#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "adaptive.h"
#include "ctl.h"
#include "gauge.h"

/*
 * sekishoctl service load: how a service's load is watched (docs/adaptive.md).
 * Options not given keep their current value; the store checks the result
 * (service_load_check) and says what is wrong.
 */

struct load_opt {
	const char *name;
	size_t off;
};

static const struct load_opt load_opts[] = {
	{ "interval-ms", offsetof(struct service_load, interval_ms) },
	{ "timeout-ms",  offsetof(struct service_load, timeout_ms) },
	{ "down-after",  offsetof(struct service_load, down_after) },
	{ "up-after",    offsetof(struct service_load, up_after) },
	{ "cap-min",     offsetof(struct service_load, cap_min) },
	{ "target-ms",   offsetof(struct service_load, target_ms) },
};

/* --gauge URL, --gauge-metric SERIES, --gauge-target X, or --no-gauge (all three). */
static int
gauge_apply(struct ctl *c, struct service_load *l)
{
	const char *v;

	if (ctl_flag(c, "no-gauge")) {
		if (ctl_opt(c, "gauge") || ctl_opt(c, "gauge-metric") || ctl_opt(c, "gauge-target"))
			return ctl_usage("--no-gauge contradicts the other --gauge options");
		memset(l->gauge_url, 0, sizeof l->gauge_url);
		memset(l->gauge_metric, 0, sizeof l->gauge_metric);
		l->gauge_target = 0;
		return CTL_OK;
	}
	if ((v = ctl_opt(c, "gauge")) != NULL) {
		if (strlen(v) > PROBE_URL_MAX)
			return ctl_usage("--gauge: longer than %d bytes", PROBE_URL_MAX);
		snprintf(l->gauge_url, sizeof l->gauge_url, "%s", v);
	}
	if ((v = ctl_opt(c, "gauge-metric")) != NULL) {
		if (strlen(v) > GAUGE_METRIC_MAX)
			return ctl_usage("--gauge-metric: longer than %d bytes", GAUGE_METRIC_MAX);
		snprintf(l->gauge_metric, sizeof l->gauge_metric, "%s", v);
	}
	if ((v = ctl_opt(c, "gauge-target")) != NULL &&
	    parse_decimal(v, 0, GAUGE_TARGET_MAX, &l->gauge_target) == -1)
		return ctl_usage("--gauge-target: \"%s\" is not a number from 0 to %g", v,
		                 GAUGE_TARGET_MAX);
	return CTL_OK;
}

static int
load_apply(struct ctl *c, struct service_load *l)
{
	const char *v;
	long long n;
	int rc;

	if ((v = ctl_opt(c, "probe")) != NULL && ctl_flag(c, "no-probe"))
		return ctl_usage("--probe and --no-probe contradict each other");
	if (v != NULL) {
		if (strlen(v) > PROBE_URL_MAX)
			return ctl_usage("--probe: longer than %d bytes", PROBE_URL_MAX);
		snprintf(l->probe, sizeof l->probe, "%s", v);
	}
	if (ctl_flag(c, "no-probe"))
		l->probe[0] = '\0';
	if ((rc = gauge_apply(c, l)) != CTL_OK)
		return rc;
	if ((v = ctl_opt(c, "cap-mode")) != NULL) {
		if (strcmp(v, "fixed") == 0)
			l->cap_mode = CAP_FIXED;
		else if (strcmp(v, "adaptive") == 0)
			l->cap_mode = CAP_ADAPTIVE;
		else
			return ctl_usage("--cap-mode: \"%s\" is not fixed or adaptive", v);
	}
	for (size_t i = 0; i < sizeof load_opts / sizeof load_opts[0]; i++) {
		if ((v = ctl_opt(c, load_opts[i].name)) == NULL)
			continue;
		if (parse_int(v, 1, INT_MAX, &n) == -1)
			return ctl_usage("--%s: \"%s\" is not a positive integer", load_opts[i].name, v);
		*(int *)((char *)l + load_opts[i].off) = (int)n;
	}
	return CTL_OK;
}

int
ctl_service_load(struct ctl *c)
{
	struct store_service svc;
	struct service_load l;
	char err[512] = "";
	int rc;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	if (c->nopt == 0)
		return ctl_usage("service load: nothing to change (try sekishoctl -h)");
	l = svc.load;
	if ((rc = load_apply(c, &l)) != CTL_OK)
		return rc;
	if ((rc = store_service_set_load(c->s, svc.id, &l, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "service load", err);
	if ((rc = store_service_get_id(c->s, svc.id, &svc)) != STORE_OK)
		return ctl_store_fail(c, rc, "service load", NULL);
	l = svc.load;
	if ((rc = ctl_audit(c, "service.load", svc.name, NULL, "probe=%.200s mode=%s cap_min=%d "
	                    "target_ms=%d interval_ms=%d timeout_ms=%d down_after=%d up_after=%d "
	                    "gauge=%.200s gauge_metric=%.200s gauge_target=%g",
	                    l.probe[0] ? l.probe : "none", l.cap_mode ? "adaptive" : "fixed",
	                    l.cap_min, l.target_ms, l.interval_ms, l.timeout_ms, l.down_after,
	                    l.up_after, l.gauge_url[0] ? l.gauge_url : "none", l.gauge_metric,
	                    l.gauge_target)) != CTL_OK)
		return rc;
	printf("service %s: probe %s, cap %s\n", svc.name, l.probe[0] ? l.probe : "none",
	       l.cap_mode == CAP_ADAPTIVE ? "adaptive" : "fixed");
	return CTL_OK;
}

/* "up", "down" or "-" (no probe) for listings. */
const char *
ctl_health_str(const struct store_service *svc)
{
	return svc->load.probe[0] ? health_str(svc->health) : "-";
}
