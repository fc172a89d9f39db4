#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adaptive.h"
#include "authd.h"
#include "buf.h"
#include "log.h"
#include "svcstat.h"

/*
 * /metrics, per service and for ipfd. Per-service series come from one
 * table, svc_series: each row is one gauge with a service label, read from
 * the store's service list at scrape time. A new per-service gauge (queue
 * length, health, effective cap) is one function and one row there. Login
 * results per service are counted as they happen (svcstat).
 */

static struct svcstat svc_logins = { .cols = LR_MAX };
static const char *const login_result_names[LR_MAX] = {
	"admitted", "bad_credentials", "throttled", "cap_reached", "no_service",
	"unavailable", "bad_request", "forbidden", "queued", "wrong_family",
	"service_down", "rate_limited",
};

void
ametrics_service_login(const char *service, int result)
{
	svcstat_add(&svc_logins, service, result);
}

const char *
ametrics_login_name(int result)
{
	return result >= 0 && result < LR_MAX ? login_result_names[result] : "unknown";
}

static double v_active(const struct store_service *s) { return s->active; }
static double v_cap(const struct store_service *s) { return s->cap; }
static double v_enabled(const struct store_service *s) { return s->enabled; }
static double v_guards(const struct store_service *s) { return s->n_guards; }
static double v_up(const struct store_service *s) { return s->health == HEALTH_UP; }
static double v_cap_now(const struct store_service *s) { return service_cap_now(s); }
static double
v_free(const struct store_service *s)
{
	int cap = service_cap_now(s);

	return s->enabled && s->health == HEALTH_UP && cap > s->active ? cap - s->active : 0;
}

static const struct svc_series {
	const char *name;
	const char *help;
	double (*value)(const struct store_service *s);
} svc_series[] = {
	{ "sekisho_service_active", "Users admitted to the service now (live rights).", v_active },
	{ "sekisho_service_cap", "Users the service admits at once at most.", v_cap },
	{ "sekisho_service_free", "Places free now under the cap in force (0 when disabled, "
	  "down or full).", v_free },
	{ "sekisho_service_up", "1 unless the service's probe says down.", v_up },
	{ "sekisho_service_cap_effective",
	  "The cap admission compares against (adaptive: the AIMD cap).", v_cap_now },
	{ "sekisho_service_enabled", "1 when the service takes logins.", v_enabled },
	{ "sekisho_service_guards", "Guarded endpoints of the service.", v_guards },
};
#define N_SERIES ((int)(sizeof svc_series / sizeof svc_series[0]))

#define SVC_SCRAPE_MAX 1024   /* services listed on one page at most */

struct svc_list {
	struct store_service *v;
	int n;
};

static int
keep_service(const struct store_service *s, void *arg)
{
	struct svc_list *l = arg;

	if (l->n >= SVC_SCRAPE_MAX)
		return 1;            /* stop: the page stays bounded */
	l->v[l->n++] = *s;
	return 0;
}

/* Every row of svc_series for every service; nothing when the store does not answer. */
static void
put_service_gauges(struct req *q, struct buf *b)
{
	struct svc_list l = { NULL, 0 };
	struct store *st = req_store(q);
	int rc;

	buf_printf(b, "# HELP sekisho_service_scrape_ok 1 when the per-service gauges were read "
	              "from the store.\n# TYPE sekisho_service_scrape_ok gauge\n");
	if (st == NULL || (l.v = calloc(SVC_SCRAPE_MAX, sizeof *l.v)) == NULL) {
		buf_puts(b, "sekisho_service_scrape_ok 0\n");
		return;
	}
	rc = store_service_list(st, 0, keep_service, &l);
	if (rc != STORE_OK) {
		q->st_broken = rc == STORE_UNAVAILABLE;
		buf_puts(b, "sekisho_service_scrape_ok 0\n");
		free(l.v);
		return;
	}
	buf_puts(b, "sekisho_service_scrape_ok 1\n");
	for (int s = 0; s < N_SERIES; s++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", svc_series[s].name, svc_series[s].help,
		           svc_series[s].name);
		for (int i = 0; i < l.n; i++)
			buf_printf(b, "%s{service=\"%s\",id=\"%lld\"} %g\n", svc_series[s].name,
			           l.v[i].name, (long long)l.v[i].id, svc_series[s].value(&l.v[i]));
	}
	free(l.v);
}

/* ipfd's counters through authd: ipfd has no HTTP of its own. */
static void
put_ipfd(struct req *q, struct buf *b)
{
	struct ipc_stats is;
	char err[160];
	int up = fwc_enabled(q->a->fw) && fwc_status(q->a->fw, &is, err, sizeof err) == 0;

	buf_printf(b, "# HELP sekisho_ipfd_up 1 when ipfd answered authd's status request.\n"
	              "# TYPE sekisho_ipfd_up gauge\nsekisho_ipfd_up %d\n", up);
	if (!up)
		return;
#define IPFD_SERIES(n, type, help, v) \
	buf_printf(b, "# HELP sekisho_ipfd_" n " " help "\n# TYPE sekisho_ipfd_" n " " type \
	           "\nsekisho_ipfd_" n " %llu\n", (unsigned long long)(v))
	IPFD_SERIES("services", "gauge", "Services in ipfd's nftables table.", is.services);
	IPFD_SERIES("elements", "gauge", "Addresses held in the services' sets.", is.elements);
	IPFD_SERIES("batches_total", "counter", "Netlink batches committed.", is.batches);
	IPFD_SERIES("batch_failures_total", "counter", "Netlink batches the kernel refused.",
	            is.batch_errors);
	IPFD_SERIES("admits_total", "counter", "Addresses added for admissions.", is.admits);
	IPFD_SERIES("revokes_total", "counter", "Addresses removed for ended rights.", is.revokes);
	IPFD_SERIES("syncs_total", "counter", "Syncs from the store (one service or all).", is.syncs);
	IPFD_SERIES("rebuilds_total", "counter", "Full rebuilds of the table from the store.",
	            is.rebuilds);
	IPFD_SERIES("watch_repairs_total", "counter",
	            "Rebuilds because another process changed the table.", is.watch_repairs);
	IPFD_SERIES("last_sync_timestamp_seconds", "gauge", "Unix time of the last full sync.",
	            is.last_sync);
#undef IPFD_SERIES
}

void
ametrics_put_services(struct req *q, struct buf *b)
{
	svcstat_render(&svc_logins, b, "sekisho_service_logins_total",
	               "Portal logins for the service, by result (refusals by reason).", "result",
	               login_result_names);
	put_service_gauges(q, b);
	put_ipfd(q, b);
}
