#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "buf.h"
#include "log.h"

/* Counters for GET /metrics (Prometheus text), and the small fixed routes. */

#define N_BUCKETS 14
#define END_REASONS (END_ROLLBACK + 1)
#define OUTCOMES (ADMIT_BAD_URL + 1)

struct histogram {
	atomic_ullong count[N_BUCKETS + 1];  /* the last one is +Inf */
	atomic_ullong sum_us;
};

static const double bucket_s[N_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

static atomic_ullong logins[LR_MAX];
static atomic_ullong admissions[OUTCOMES];
static atomic_ullong ended[END_REASONS];
static atomic_ullong sweeps_ok, sweeps_failed, csrf_rejected, queue_lapsed;
static atomic_ullong queue_admitted, queue_wait_s;
static struct histogram login_hist, admission_hist;

static void
observe(struct histogram *h, double s)
{
	int i = 0;

	while (i < N_BUCKETS && s > bucket_s[i])
		i++;
	atomic_fetch_add(&h->count[i], 1);
	atomic_fetch_add(&h->sum_us, (unsigned long long)(s * 1e6));
}

void
ametrics_login(int result, double seconds)
{
	if (result >= 0 && result < LR_MAX)
		atomic_fetch_add(&logins[result], 1);
	observe(&login_hist, seconds);
}

void
ametrics_admission(int outcome, double seconds)
{
	if (outcome >= 0 && outcome < OUTCOMES)
		atomic_fetch_add(&admissions[outcome], 1);
	if (outcome == ADMIT_OK)
		observe(&admission_hist, seconds);
}

void
ametrics_queue_lapsed(int n)
{
	atomic_fetch_add(&queue_lapsed, (unsigned long long)n);
}

void
ametrics_queue_wait(double seconds)
{
	atomic_fetch_add(&queue_admitted, 1);
	atomic_fetch_add(&queue_wait_s, (unsigned long long)seconds);
}

void
ametrics_sweep(int ok)
{
	atomic_fetch_add(ok ? &sweeps_ok : &sweeps_failed, 1);
}

void
ametrics_end(int reason)
{
	if (reason >= 0 && reason < END_REASONS)
		atomic_fetch_add(&ended[reason], 1);
}

void
ametrics_csrf_rejected(void)
{
	atomic_fetch_add(&csrf_rejected, 1);
}

static void
put_histogram(struct buf *b, const char *name, const char *help, struct histogram *h)
{
	unsigned long long cum = 0;

	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < N_BUCKETS; i++) {
		cum += atomic_load(&h->count[i]);
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_s[i], cum);
	}
	cum += atomic_load(&h->count[N_BUCKETS]);
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, cum,
	           name, atomic_load(&h->sum_us) / 1e6, name, cum);
}

static void
put_counters(struct buf *b)
{
	buf_puts(b, "# HELP sekisho_authd_logins_total Login attempts by result.\n"
	            "# TYPE sekisho_authd_logins_total counter\n");
	for (int i = 0; i < LR_MAX; i++)
		buf_printf(b, "sekisho_authd_logins_total{result=\"%s\"} %llu\n", ametrics_login_name(i),
		           atomic_load(&logins[i]));
	buf_puts(b, "# HELP sekisho_authd_admissions_total Admissions by result.\n"
	            "# TYPE sekisho_authd_admissions_total counter\n");
	for (int i = 0; i < OUTCOMES; i++)
		buf_printf(b, "sekisho_authd_admissions_total{result=\"%s\"} %llu\n",
		           admit_outcome_str(i), atomic_load(&admissions[i]));
	buf_puts(b, "# HELP sekisho_authd_rights_ended_total Rights ended by authd, by reason.\n"
	            "# TYPE sekisho_authd_rights_ended_total counter\n");
	for (int i = 1; i < END_REASONS; i++)
		buf_printf(b, "sekisho_authd_rights_ended_total{reason=\"%s\"} %llu\n",
		           end_reason_str(i), atomic_load(&ended[i]));
	buf_printf(b, "# HELP sekisho_authd_sweeps_total Sweeps by result.\n"
	              "# TYPE sekisho_authd_sweeps_total counter\n"
	              "sekisho_authd_sweeps_total{result=\"ok\"} %llu\n"
	              "sekisho_authd_sweeps_total{result=\"failed\"} %llu\n",
	           atomic_load(&sweeps_ok), atomic_load(&sweeps_failed));
	buf_printf(b, "# HELP sekisho_authd_csrf_rejected_total Forms refused by the CSRF check.\n"
	              "# TYPE sekisho_authd_csrf_rejected_total counter\n"
	              "sekisho_authd_csrf_rejected_total %llu\n", atomic_load(&csrf_rejected));
	buf_printf(b, "# HELP sekisho_authd_queue_lapsed_total Places in line that lapsed unpolled.\n"
	              "# TYPE sekisho_authd_queue_lapsed_total counter\n"
	              "sekisho_authd_queue_lapsed_total %llu\n", atomic_load(&queue_lapsed));
	buf_printf(b, "# HELP sekisho_authd_queue_admitted_total Users admitted after a wait in line.\n"
	              "# TYPE sekisho_authd_queue_admitted_total counter\n"
	              "sekisho_authd_queue_admitted_total %llu\n"
	              "# HELP sekisho_authd_queue_wait_seconds_total Their waits in line, summed.\n"
	              "# TYPE sekisho_authd_queue_wait_seconds_total counter\n"
	              "sekisho_authd_queue_wait_seconds_total %llu\n",
	           atomic_load(&queue_admitted), atomic_load(&queue_wait_s));
}

#define LINES_MAX 256           /* services shown in the queue gauge */

/* Places in line per service (names are [A-Za-z0-9._-]: no escaping needed). */
static void
put_queues(struct req *q, struct buf *b)
{
	struct store_line *lines;
	struct store *st = req_store(q);
	int n, rc;

	if (st == NULL || (lines = calloc(LINES_MAX, sizeof *lines)) == NULL)
		return;
	if ((rc = store_queue_lines(st, lines, LINES_MAX, &n)) != STORE_OK) {
		log_warn("event=metrics_queue_failed error=\"%s\"", store_error(st));
		q->st_broken = rc == STORE_UNAVAILABLE;
		free(lines);
		return;
	}
	buf_puts(b, "# HELP sekisho_authd_queue_length Places in each service's line.\n"
	            "# TYPE sekisho_authd_queue_length gauge\n");
	for (int i = 0; i < n; i++)
		buf_printf(b, "sekisho_authd_queue_length{service=\"%s\"} %d\n", lines[i].name,
		           lines[i].waiting);
	buf_puts(b, "# HELP sekisho_authd_queue_oldest_wait_seconds How long the first in each "
	            "service's line has waited (0: nobody waits).\n"
	            "# TYPE sekisho_authd_queue_oldest_wait_seconds gauge\n");
	for (int i = 0; i < n; i++)
		buf_printf(b, "sekisho_authd_queue_oldest_wait_seconds{service=\"%s\"} %lld\n",
		           lines[i].name, lines[i].oldest > 0 && q->now > lines[i].oldest ?
		           (long long)(q->now - lines[i].oldest) : 0LL);
	free(lines);
}

/* The requests waiting for a worker (http_defer), those the workers answer now, the workers alive. */
static void
workers_metrics(struct authd *a, struct buf *b)
{
	int queued = 0, running = 0, live = 0;

	if (a->workers != NULL)
		http_pool_counts(a->workers, &queued, &running, &live);
	buf_printf(b, "# HELP sekisho_authd_http_deferred Requests waiting for an HTTP worker.\n"
	              "# TYPE sekisho_authd_http_deferred gauge\n"
	              "sekisho_authd_http_deferred %d\n"
	              "# HELP sekisho_authd_http_workers_busy HTTP workers answering a request.\n"
	              "# TYPE sekisho_authd_http_workers_busy gauge\n"
	              "sekisho_authd_http_workers_busy %d\n"
	              "# HELP sekisho_authd_http_workers HTTP worker threads alive (http_workers at most).\n"
	              "# TYPE sekisho_authd_http_workers gauge\n"
	              "sekisho_authd_http_workers %d\n", queued, running, live);
}

static void
serve_metrics(struct req *q)
{
	struct buf b;
	int busy;

	buf_init(&b, 64 * 1024);
	put_counters(&b);
	put_histogram(&b, "sekisho_authd_login_seconds",
	              "POST /login from request to answer, password hash included.", &login_hist);
	put_histogram(&b, "sekisho_authd_admission_seconds",
	              "Successful admissions: store, ipfd acknowledgement and entry code.",
	              &admission_hist);
	put_queues(q, &b);
	ametrics_put_services(q, &b);
	prober_metrics(q->a->prober, &b);
	if (sem_getvalue(&q->a->hash_sem, &busy) == 0)
		buf_printf(&b, "# HELP sekisho_authd_hash_workers_free Password hash workers idle.\n"
		               "# TYPE sekisho_authd_hash_workers_free gauge\n"
		               "sekisho_authd_hash_workers_free %d\n", busy);
	buf_printf(&b, "# HELP sekisho_authd_login_line Logins in the login line not yet answered.\n"
	               "# TYPE sekisho_authd_login_line gauge\n"
	               "sekisho_authd_login_line %d\n", loginline_waiting(q->a->line));
	buf_printf(&b, "# HELP sekisho_authd_requests_in_flight Requests being answered.\n"
	               "# TYPE sekisho_authd_requests_in_flight gauge\n"
	               "sekisho_authd_requests_in_flight %d\n", atomic_load(&q->a->inflight));
	workers_metrics(q->a, &b);
	page_base_headers(q);
	http_add_header(q->r, "Cache-Control", "no-store");
	if (buf_failed(&b))
		http_reply(q->r, 500, "text/plain; charset=utf-8", "metrics too large\n", 18);
	else
		http_reply(q->r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
	buf_free(&b);
}

/*
 * 200 when the store answers and (when enabled) ipfd answers, else 503. The
 * store is asked for a right that cannot exist: "not found" proves it answers.
 */
static void
serve_healthz(struct req *q)
{
	char err[160], body[256];
	struct store_right r;
	struct ipc_stats is;
	struct store *st = req_store(q);
	int store_ok, fw_ok;

	store_ok = st != NULL && store_right_get(st, -1, &r) == STORE_NOTFOUND;
	if (st != NULL && !store_ok)
		q->st_broken = 1;
	fw_ok = fwc_status(q->a->fw, &is, err, sizeof err) == 0;
	snprintf(body, sizeof body, "store %s\nipfd %s\n", store_ok ? "ok" : "unavailable",
	         !fwc_enabled(q->a->fw) ? "disabled" : (fw_ok ? "ok" : "unavailable"));
	page_base_headers(q);
	http_add_header(q->r, "Cache-Control", "no-store");
	http_reply(q->r, store_ok && fw_ok ? 200 : 503, "text/plain; charset=utf-8", body,
	           strlen(body));
}

static void
serve_css(struct req *q)
{
	page_base_headers(q);
	http_add_header(q->r, "Cache-Control", "public, max-age=3600");
	http_reply(q->r, 200, "text/css; charset=utf-8", q->v->css, q->v->css_len);
}

const struct route ametrics_routes[] = {
	{ "GET", "/metrics",            ROUTE_NO_STORE, serve_metrics },
	{ "GET", "/healthz",            ROUTE_NO_STORE, serve_healthz },
	{ NULL, NULL, 0, NULL },
};

const struct route static_routes[] = {
	{ "GET", "/static/sekisho.css", ROUTE_NO_STORE | ROUTE_INLINE, serve_css },
	{ NULL, NULL, 0, NULL },
};
