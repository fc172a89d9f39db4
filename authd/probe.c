#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "buf.h"
#include "gauge.h"
#include "log.h"

/*
 * The prober thread. Every RELOAD_MS it reads the services from the store
 * (new probes, edited settings, the live count); each probed service is
 * probed every interval_ms with its timeout; the verdicts go through the pure
 * rules of common/adaptive.c, and only a change (health, effective cap) is
 * written to the service row, logged, audited (health) and counted. The
 * probes of all services run at once, each a non-blocking state machine
 * (probe_io.c) in one poll set: a service that hangs until its timeout
 * delays no other service's probe.
 *
 * With several gateways on one store, only the holder of the store lease
 * "prober" probes and writes; the others follow the rows (their metrics show
 * the leader's verdicts), and take over LEASE_MS after it falls silent,
 * starting from the row's state.
 */

#define RELOAD_MS 1000
#define TICK_MS   20
#define LEASE_MS  5000       /* a silent leader is replaced after this long */

struct watched {
	int64_t id;
	char    name[NAME_MAX_LEN + 1];
	struct service_load load;
	struct probe_target target;
	int     cap, active, seen;
	struct health health;
	struct aimd aimd;
	int     written_health, written_cap;  /* what the row says, as far as we know */
	int64_t next_ms;                      /* when the next probe starts */
	int64_t started_ms;                   /* when the probe in flight started */
	struct probe_conn conn;               /* the probe in flight (conn.step != 0) */
	struct probe_target gtarget;          /* the gauge's endpoint; kind 0: no gauge */
	struct gauge_sel gsel;
	struct probe_conn gconn;              /* the gauge read in flight */
	char   *gpage;                        /* its page while in flight */
	double  gauge;                        /* the last value read */
	int64_t gauge_ms;                     /* when; 0: none, or the last read failed */
	int     gauge_failing;                /* logged once per run of failures */
	int64_t latency_us;                   /* last probe */
	unsigned long long went_down, went_up, cap_changes, probes, misses, gauge_fails;
};

struct prober {
	struct authd *a;
	pthread_t thread;
	pthread_mutex_t lock;                 /* w and n, for the metrics reader */
	int stop;
	struct watched *w;
	int n, cap;
	struct pollfd *pfd;                   /* the probes and gauge reads in flight, ... */
	int *pidx;                            /* ... and which each is (conn_of) */
	int pcap;
	int64_t next_reload_ms;
	int leader;                           /* 1 holds the "prober" lease, 0 not, -1 not asked */
	char holder[LEASE_HOLDER_MAX + 1];    /* host:pid */
};

static struct watched *
find(struct prober *p, int64_t id)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].id == id)
			return &p->w[i];
	return NULL;
}

/* A service seen for the first time: its row's verdict and effective cap are where we start. */
static void
watch_init(struct watched *w, const struct store_service *svc, int64_t now_ms)
{
	memset(w, 0, sizeof *w);
	w->id = svc->id;
	w->health.state = svc->health;
	w->written_health = svc->health;
	w->written_cap = svc->cap_effective;
	aimd_init(&w->aimd, svc->load.cap_min, svc->cap, (int64_t)svc->load.target_ms * 1000,
	          now_ms);
	if (svc->load.cap_mode == CAP_ADAPTIVE && svc->cap_effective >= 0) {
		w->aimd.effective = svc->cap_effective;     /* clamped by watch_update */
		w->aimd.slow_start = 0;                     /* it was learnt before */
	}
	w->next_ms = now_ms;
	w->conn.fd = -1;
	w->gconn.fd = -1;
}

/* Ends what is in flight for w (its probe and its gauge read). */
static void
watch_abort(struct watched *w)
{
	probe_abort(&w->conn);
	probe_abort(&w->gconn);
	free(w->gpage);
	w->gpage = NULL;
}

/* A follower takes the leader's verdict and cap from the row, keeping its counters. */
static void
watch_follow(struct watched *w, const struct store_service *svc)
{
	w->health.state = w->written_health = svc->health;
	w->health.misses = w->health.oks = 0;
	w->written_cap = svc->cap_effective;
	if (svc->load.cap_mode == CAP_ADAPTIVE && svc->cap_effective >= 0) {
		w->aimd.effective = svc->cap_effective;
		w->aimd.slow_start = 0;
	}
}

/* Settings as the row has them now (they may have been edited). */
static void
watch_update(struct watched *w, const struct store_service *svc)
{
	char err[160];

	snprintf(w->name, sizeof w->name, "%s", svc->name);
	w->load = svc->load;
	w->cap = svc->cap;
	w->active = svc->active;
	w->seen = 1;
	if (probe_parse(svc->load.probe, &w->target, err, sizeof err) == -1)
		w->target.kind = 0;
	/* The gauge is read for an adaptive cap only: it is a signal for nothing else. */
	if (svc->load.cap_mode != CAP_ADAPTIVE || !svc->load.gauge_url[0] ||
	    probe_parse(svc->load.gauge_url, &w->gtarget, err, sizeof err) == -1 ||
	    gauge_sel_parse(svc->load.gauge_metric, &w->gsel, err, sizeof err) == -1 ||
	    !(svc->load.gauge_target > 0))
		w->gtarget.kind = 0;
	aimd_bounds(&w->aimd, svc->load.cap_min, svc->cap, (int64_t)svc->load.target_ms * 1000);
}

static int
grow(struct prober *p)
{
	struct watched *nw;
	int ncap = p->cap ? 2 * p->cap : 8;

	if (p->n < p->cap)
		return 0;
	if ((nw = realloc(p->w, (size_t)ncap * sizeof *nw)) == NULL)
		return -1;
	p->w = nw;
	p->cap = ncap;
	return 0;
}

static int
reload_one(const struct store_service *svc, void *arg)
{
	struct prober *p = arg;
	struct watched *w;

	if (!svc->enabled || svc->load.probe[0] == '\0')
		return 0;
	if ((w = find(p, svc->id)) != NULL && p->leader != 1)
		watch_follow(w, svc);
	if (w == NULL) {
		if (grow(p) == -1)
			return 1;
		w = &p->w[p->n++];
		watch_init(w, svc, clock_mono_ms());
	}
	watch_update(w, svc);
	return 0;
}

/* Takes or renews the lease; logs when this gateway starts or stops probing. */
static void
lease(struct prober *p, struct store *st)
{
	struct timespec now;
	int held = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if (store_lease_take(st, "prober", p->holder, (int64_t)now.tv_sec * 1000 +
	                     now.tv_nsec / 1000000, LEASE_MS, &held) != STORE_OK) {
		log_warn("event=probe_lease_failed error=\"%s\"", store_error(st));
		held = 0;
	}
	if (held != p->leader)
		log_info("event=prober_%s holder=%s", held ? "leads" : "follows", p->holder);
	p->leader = held;
}

/* Rereads the services; drops the ones no longer probed. */
static void
reload(struct prober *p, struct store *st)
{
	int rc, k = 0;

	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->n; i++)
		p->w[i].seen = 0;
	rc = store_service_list(st, 0, reload_one, p);
	for (int i = 0; i < p->n; i++)
		if (p->w[i].seen || rc != STORE_OK)
			p->w[k++] = p->w[i];
		else
			watch_abort(&p->w[i]);
	p->n = k;
	pthread_mutex_unlock(&p->lock);
	if (rc != STORE_OK)
		log_warn("event=probe_reload_failed error=\"%s\"", store_error(st));
}

/* The log lines and the audit row of a published change. */
static void
announce(struct store *st, struct watched *w, int want_cap, int health_changed, int cap_changed,
         int64_t now)
{
	char detail[AUDIT_TEXT_MAX + 1];

	w->written_health = w->health.state;
	w->written_cap = want_cap;
	if (cap_changed)
		log_info("event=cap_effective service=%s cap_effective=%d cap=%d cap_min=%d "
		         "latency_ms=%.1f target_ms=%d gauge=%g gauge_target=%g active=%d", w->name,
		         want_cap, w->cap, w->load.cap_min, w->latency_us / 1e3, w->load.target_ms,
		         w->gauge_ms ? w->gauge : 0, w->load.gauge_target, w->active);
	if (!health_changed)
		return;
	log_info("event=service_%s service=%s probe=%s latency_ms=%.1f", health_str(w->health.state),
	         w->name, w->load.probe, w->latency_us / 1e3);
	snprintf(detail, sizeof detail, "probe=%.200s misses=%d answers=%d", w->load.probe,
	         w->load.down_after, w->load.up_after);
	if (store_audit(st, now, "prober", w->health.state == HEALTH_DOWN ? "service.down" :
	                "service.up", w->name, NULL, detail) != STORE_OK)
		log_warn("event=audit_failed action=service.health error=\"%s\"", store_error(st));
}

/*
 * Writes a changed verdict or effective cap to the row; logs and audits it.
 * A store connection is borrowed only here and for the reload, never while
 * probing.
 */
static void
publish(struct prober *p, struct watched *w, int health_changed, int cap_changed)
{
	int want_cap = w->load.cap_mode == CAP_ADAPTIVE ? w->aimd.effective : -1;
	char err[256];
	int64_t now = time(NULL);
	struct store *st;
	int rc;

	if (w->health.state == w->written_health && want_cap == w->written_cap)
		return;
	if ((st = dbpool_get(p->a->pool, err, sizeof err)) == NULL) {
		log_err("event=probe_write_failed service=%s error=\"%s\"", w->name, err);
		return;
	}
	rc = store_service_set_health(st, w->id, w->health.state, want_cap);
	if (rc != STORE_OK) {
		log_err("event=probe_write_failed service=%s error=\"%s\"", w->name, store_error(st));
		dbpool_put(p->a->pool, st, rc == STORE_UNAVAILABLE);
		return;
	}
	announce(st, w, want_cap, health_changed, cap_changed, now);
	dbpool_put(p->a->pool, st, 0);
}
/*
 * The load signal of one probe, in latency units: its latency, or the gauge
 * scaled to the latency target (gauge / gauge_target x target) when that is
 * larger, so the AIMD compares max(latency / target, gauge / gauge_target)
 * with its band. A gauge older than two intervals and a timeout (its reads
 * fail) is left out: the probe alone decides.
 */
static int64_t
load_signal(const struct watched *w, int64_t latency_us)
{
	double g;

	if (w->gtarget.kind == 0 || w->gauge_ms == 0 ||
	    clock_mono_ms() - w->gauge_ms > 2 * w->load.interval_ms + w->load.timeout_ms)
		return latency_us;
	g = w->gauge / w->load.gauge_target;
	if (g > 1000)
		g = 1000;                         /* far above the limit is above it */
	g *= (double)w->load.target_ms * 1000;
	return (int64_t)g > latency_us ? (int64_t)g : latency_us;
}

/* A gauge read of w has ended: its value, or a failure (logged once per run). */
static void
gauge_done(struct prober *p, struct watched *w)
{
	const char *body;
	size_t len = 0;
	double v = 0;
	int ok = w->gconn.ok && (body = probe_body(&w->gconn, &len)) != NULL &&
	         gauge_find(body, len, &w->gsel, &v) == 0;

	pthread_mutex_lock(&p->lock);
	if (ok) {
		w->gauge = v;
		w->gauge_ms = clock_mono_ms();
	} else {
		w->gauge_ms = 0;
		w->gauge_fails++;
	}
	pthread_mutex_unlock(&p->lock);
	if (!ok && !w->gauge_failing)
		log_warn("event=gauge_failed service=%s gauge=%s metric=%s why=\"%s\"", w->name,
		         w->load.gauge_url, w->load.gauge_metric, w->gconn.ok ?
		         "no such series with a finite value" : "no 2xx answer within the timeout");
	w->gauge_failing = !ok;
	free(w->gpage);
	w->gpage = NULL;
}

/* Starts a read of w's gauge with its probe, unless one is still out. */
static void
gauge_start(struct prober *p, struct watched *w)
{
	if (w->gtarget.kind == 0 || w->gconn.step != 0)
		return;
	if ((w->gpage = malloc(GAUGE_BODY_MAX)) == NULL)
		return;
	if (probe_fetch(&w->gconn, &w->gtarget, w->load.timeout_ms, w->gpage, GAUGE_BODY_MAX) ==
	    PROBE_MISS)
		gauge_done(p, w);
}

/*
 * A probe of w has ended (w->conn: its result and latency): the verdict and
 * the effective cap, then the row when either changed.
 */
static void
probe_done(struct prober *p, struct watched *w)
{
	int64_t lat = w->conn.latency_us;
	int ok = w->conn.ok, hc, cc = 0;

	pthread_mutex_lock(&p->lock);
	w->latency_us = lat;
	w->probes++;
	w->misses += !ok;
	if ((hc = health_step(&w->health, ok, w->load.down_after, w->load.up_after)) != 0) {
		if (w->health.state == HEALTH_DOWN)
			w->went_down++;
		else
			w->went_up++;
	}
	if (w->load.cap_mode == CAP_ADAPTIVE && w->health.state == HEALTH_UP) {
		aimd_sample(&w->aimd, load_signal(w, lat));
		if ((cc = aimd_decide(&w->aimd, w->active, clock_mono_ms())) != 0)
			w->cap_changes++;
	}
	/*
	 * A miss on an up service is confirmed at once (the next probe right
	 * after this one): down within interval + down_after * timeout.
	 */
	w->next_ms = !ok && w->health.state == HEALTH_UP ? clock_mono_ms() :
	             w->started_ms + w->load.interval_ms;
	pthread_mutex_unlock(&p->lock);
	publish(p, w, hc, cc);
}

/* Starts the probes that are due: one in flight per service at most. */
static void
start_due(struct prober *p)
{
	for (int i = 0; i < p->n; i++) {
		struct watched *w = &p->w[i];

		if (w->conn.step != 0 || w->target.kind == 0 || clock_mono_ms() < w->next_ms)
			continue;
		w->started_ms = clock_mono_ms();
		gauge_start(p, w);
		if (probe_start(&w->conn, &w->target, w->load.timeout_ms) == PROBE_MISS)
			probe_done(p, w);
	}
}

/* Connection j of the poll set: service j / 2's probe (even) or its gauge read (odd). */
static struct probe_conn *
conn_of(struct prober *p, int j)
{
	return j % 2 ? &p->w[j / 2].gconn : &p->w[j / 2].conn;
}

/* The poll set of the probes in flight; their number, or -1 out of memory. */
static int
poll_set(struct prober *p, int64_t *deadline_us)
{
	int k = 0;

	if (p->pcap < 2 * p->n) {
		struct pollfd *pf = realloc(p->pfd, (size_t)(2 * p->n) * sizeof *pf);
		int *pi = pf ? realloc(p->pidx, (size_t)(2 * p->n) * sizeof *pi) : NULL;
		if (pf)
			p->pfd = pf;
		if (pi == NULL)
			return -1;
		p->pidx = pi;
		p->pcap = 2 * p->n;
	}
	for (int j = 0; j < 2 * p->n; j++) {
		const struct probe_conn *c = conn_of(p, j);
		if (c->step == 0)
			continue;
		p->pfd[k] = (struct pollfd){ c->fd, probe_events(c), 0 };
		p->pidx[k++] = j;
		if (c->deadline_us < *deadline_us)
			*deadline_us = c->deadline_us;
	}
	return k;
}

/*
 * Waits up to wait_ms for the probes in flight (less when one's deadline
 * comes first) and ends those that answered, failed or ran out of time.
 */
static void
poll_probes(struct prober *p, int wait_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)wait_ms * 1000, left;
	int n = poll_set(p, &deadline), j;

	if (n == -1) {
		log_err("event=probe_failed error=\"out of memory\"");
		n = 0;
	}
	left = deadline - clock_mono_us();
	if (poll(p->pfd, (nfds_t)n, left > 0 ? (int)((left + 999) / 1000) : 0) < 0 &&
	    errno != EINTR)
		log_warn("event=probe_poll_failed error=\"%s\"", strerror(errno));
	for (int k = 0; k < n; k++) {
		j = p->pidx[k];
		if (probe_advance(conn_of(p, j), p->pfd[k].revents, clock_mono_us()) == PROBE_PENDING)
			continue;
		if (j % 2)
			gauge_done(p, &p->w[j / 2]);
		else
			probe_done(p, &p->w[j / 2]);
	}
}

static void
pass(struct prober *p)
{
	char err[256];
	struct store *st;
	int64_t now = clock_mono_ms();

	if (now >= p->next_reload_ms) {
		p->next_reload_ms = now + RELOAD_MS;
		if ((st = dbpool_get(p->a->pool, err, sizeof err)) == NULL) {
			log_err("event=probe_reload_failed error=\"%s\"", err);
		} else {
			lease(p, st);
			reload(p, st);
			dbpool_put(p->a->pool, st, 0);
		}
	}
	if (p->leader == 1) {
		start_due(p);
		return;
	}
	for (int i = 0; i < p->n; i++)           /* a follower does not probe */
		watch_abort(&p->w[i]);
}

static void *
prober_main(void *arg)
{
	struct prober *p = arg;
	int stop = 0;

	while (!stop) {
		pass(p);
		poll_probes(p, TICK_MS);
		pthread_mutex_lock(&p->lock);
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
	}
	for (int i = 0; i < p->n; i++)
		watch_abort(&p->w[i]);
	return NULL;
}

struct prober *
prober_start(struct authd *a, char *err, size_t errlen)
{
	struct prober *p = calloc(1, sizeof *p);
	char host[101];

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->a = a;
	p->leader = -1;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "gateway");
	host[sizeof host - 1] = '\0';
	snprintf(p->holder, sizeof p->holder, "%.100s:%ld", host, (long)getpid());
	pthread_mutex_init(&p->lock, NULL);
	if (pthread_create(&p->thread, NULL, prober_main, p) != 0) {
		snprintf(err, errlen, "cannot start the prober thread");
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void
prober_stop(struct prober *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	free(p->pfd);
	free(p->pidx);
	free(p->w);
	free(p);
}

static void
series(struct buf *b, struct prober *p, const char *name, const char *type, const char *help,
       int which)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (int i = 0; i < p->n; i++) {
		const struct watched *w = &p->w[i];
		switch (which) {
		case 2: buf_printf(b, "%s{service=\"%s\"} %.6f\n", name, w->name,
		                   w->latency_us / 1e6); break;
		case 3: buf_printf(b, "%s{service=\"%s\",to=\"down\"} %llu\n%s{service=\"%s\","
		                   "to=\"up\"} %llu\n", name, w->name, w->went_down, name, w->name,
		                   w->went_up); break;
		case 4: buf_printf(b, "%s{service=\"%s\"} %llu\n", name, w->name, w->cap_changes);
		        break;
		case 6: if (w->gtarget.kind != 0 && w->gauge_ms != 0)
		                buf_printf(b, "%s{service=\"%s\"} %g\n", name, w->name, w->gauge);
		        break;
		case 7: if (w->gtarget.kind != 0)
		                buf_printf(b, "%s{service=\"%s\"} %llu\n", name, w->name,
		                           w->gauge_fails);
		        break;
		default: buf_printf(b, "%s{service=\"%s\",result=\"ok\"} %llu\n%s{service=\"%s\","
		                    "result=\"miss\"} %llu\n", name, w->name, w->probes - w->misses,
		                    name, w->name, w->misses); break;
		}
	}
}

void
prober_metrics(struct prober *p, struct buf *b)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	series(b, p, "sekisho_service_probe_latency_seconds", "gauge",
	       "The last probe's latency (its timeout on a miss).", 2);
	series(b, p, "sekisho_service_health_transitions_total", "counter",
	       "Health changes seen by this gateway's prober.", 3);
	series(b, p, "sekisho_service_cap_changes_total", "counter",
	       "Effective cap changes decided by this gateway's prober.", 4);
	series(b, p, "sekisho_service_probes_total", "counter", "Probes by result.", 5);
	series(b, p, "sekisho_service_gauge", "gauge",
	       "The last value read from the service's own gauge (adaptive cap).", 6);
	series(b, p, "sekisho_service_gauge_failures_total", "counter",
	       "Reads of the service's gauge that gave no value.", 7);
	pthread_mutex_unlock(&p->lock);
}
