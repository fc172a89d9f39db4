/*
 * Store benchmark: store_admit throughput and latency with 1, 8 and 32
 * threads (each its own connection, distinct users, a cap nobody reaches) on
 * one service, 8 threads on 8 services, flat out and paced; two gateways
 * against one at the store: a gateway is a pool of GW_POOL connections
 * admitting flat out, either all to one service or each gateway to its own
 * GW_POOL services, and the ratio of the aggregate admissions/s of two
 * gateways to one's (same run); then store_snapshot and store_sweep over
 * 100 000 rights. On
 * SQLite the paced pair shows where WAL checkpoints land: on commits (no
 * store_maintain) or in a housekeeping thread. Every figure is the median of
 * RUNS runs, each on a fresh database in $TMPDIR (default /tmp).
 * With --pg, the same on PostgreSQL 15: a private cluster on a unix socket
 * (tests/lib/pgcluster.c, fsync on, default settings), a fresh database per
 * run (store_maintain does nothing there).
 * Usage: bench_store [--pg] [--gateways] [admissions-per-run] [rights]
 * (--gateways: the gateway pairs only).
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../tests/lib/pgcluster.h"
#include "addr.h"
#include "store.h"

#define RUNS      5
#define THREADS   8
#define THREADS_MAX 32   /* the most sessions a plan runs */
#define GW_POOL   4      /* connections of one gateway admitting at once */
#define T0        1700000000LL
#define USAGE_MIN 600

struct bench {
	char dir[200];
	struct conf_db db;
	struct pgc *pg;              /* NULL: SQLite in dir */
};

/* How one admission run goes: threads, admissions per second (0 = flat out), upkeep. */
struct plan {
	const char *label;
	int threads;
	int n;
	int rate;
	int maintain_ms;             /* store_maintain period on its own connection, 0 = never */
	int services;                /* 0: one service for all; else thread i admits to service i % services */
};

struct worker {
	const struct bench *b;
	const struct plan *p;
	pthread_barrier_t *go;
	int64_t service_id;
	const int64_t *users;
	int n;
	double *lat_us;
	int failed;
};

struct maintainer {
	const struct bench *b;
	int period_ms;
	volatile int stop;
	int failed;
};

#define PACED_N    2000
#define PACED_RATE 500

/*
 * What PostgreSQL's busy backends are doing, sampled every SAMPLE_US from
 * pg_stat_activity during a run: on a CPU (or waiting for one), waiting for a
 * row lock (the feed row before schema 011, a service row), for NOTIFY's
 * lock (global to the server, held through commit), for the writers'
 * advisory lock, for the WAL to reach the disk, or anything else.
 */
enum { W_CPU, W_ROW, W_NOTIFY, W_ADVISORY, W_WAL, W_OTHER, W_N };
static const char *const wait_names[W_N] = { "cpu", "row lock", "notify lock", "advisory",
                                             "wal flush", "other" };
#define SAMPLE_US 2000

struct result {
	double per_s, p50, p99, p999, max;
	long waits[W_N];             /* PostgreSQL only: samples by kind */
};

struct sampler {
	const char *url;
	volatile int stop;
	long n[W_N];
};

static double
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static struct pgc *running;     /* stopped at exit, also after die() */

static void
stop_cluster(void)
{
	if (running)
		pgc_stop(running);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, why);
	exit(1);
}

static struct store *
open_store(const struct bench *b, int flags)
{
	char err[256];
	struct store *s = store_open(&b->db, flags, err, sizeof err);

	if (!s)
		die("open", err);
	return s;
}

/* Removes the SQLite files, or points db.url at a new, empty PostgreSQL database. */
static void
remove_db(struct bench *b)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char path[512], err[256];

	if (b->pg) {
		if (pgc_createdb(b->pg->url, b->db.url, sizeof b->db.url, err, sizeof err) != 0)
			die("createdb", err);
		return;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", b->db.path, sfx[i]);
		unlink(path);
	}
}

/* A fresh database with a root, services with a cap nobody reaches, and n users. */
static struct store *
fresh(struct bench *b, int n, int services, int64_t *svc, int64_t *users)
{
	char name[NAME_MAX_LEN + 1], err[256];
	struct store_service v = { .url = "http://bench.example/", .max_usage_min = USAGE_MIN,
	                           .max_interval_min = USAGE_MIN, .cap = 1000000, .enabled = 1 };
	struct store *s;

	remove_db(b);
	s = open_store(b, STORE_OPEN_CREATE);
	if (store_user_add(s, "root", ROLE_ROOT, "$x$", T0, &v.admin_id, err, sizeof err))
		die("root", err);
	for (int i = 0; i < services; i++) {
		snprintf(v.name, sizeof v.name, "svc%d", i);
		if (store_service_add(s, &v, ROLE_ROOT, T0, &svc[i], err, sizeof err))
			die("service", err);
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "user%d", i);
		if (store_user_add(s, name, ROLE_USER, "$x$", T0, &users[i], err, sizeof err))
			die("user", err);
	}
	return s;
}

static void *
admit_worker(void *arg)
{
	struct worker *w = arg;
	struct store *s = open_store(w->b, 0);
	struct store_admission a;
	struct addr ip = { .family = AF_INET, .bytes = { 10 } };
	double t, start;

	pthread_barrier_wait(w->go);
	start = clock_us();
	for (int i = 0; i < w->n; i++) {
		ip.bytes[2] = (uint8_t)(i >> 8);
		ip.bytes[3] = (uint8_t)i;
		if (w->p->rate && (t = start + i * 1e6 / w->p->rate - clock_us()) > 0)
			usleep((useconds_t)t);
		t = clock_us();
		w->failed += store_admit(s, w->users[i], w->service_id, &ip, T0, &a) != STORE_OK;
		w->lat_us[i] = clock_us() - t;
	}
	store_close(s);
	return NULL;
}

static void *
maintain_loop(void *arg)
{
	struct maintainer *m = arg;
	struct store *s = open_store(m->b, 0);

	while (!m->stop) {
		m->failed += store_maintain(s) != STORE_OK;
		usleep((useconds_t)m->period_ms * 1000);
	}
	store_close(s);
	return NULL;
}

/* One run of plan p: admissions of distinct users spread over its threads. */
static int
wait_kind(const char *type, const char *event)
{
	if (!*type)
		return W_CPU;
	if (strcmp(type, "Lock") == 0)
		return strcmp(event, "object") == 0 ? W_NOTIFY : strcmp(event, "advisory") == 0
		       ? W_ADVISORY : strcmp(event, "transactionid") == 0 || strcmp(event, "tuple") == 0
		       ? W_ROW : W_OTHER;
	return strstr(event, "WAL") ? W_WAL : W_OTHER;
}

static void *
sample_loop(void *arg)
{
	struct sampler *m = arg;
	PGconn *c = PQconnectdb(m->url);

	while (!m->stop && PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "SELECT coalesce(wait_event_type, ''), coalesce(wait_event, '') "
		                     "FROM pg_stat_activity WHERE backend_type = 'client backend' "
		                     "AND state = 'active' AND pid <> pg_backend_pid()");
		for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
			m->n[wait_kind(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1))]++;
		PQclear(r);
		usleep(SAMPLE_US);
	}
	PQfinish(c);
	return NULL;
}

static struct result
admit_run(struct bench *b, const struct plan *p)
{
	int n = p->n, per = n / p->threads, failed = 0;
	int64_t *users = calloc((size_t)n, sizeof *users), svc[THREADS_MAX];
	int nsvc = p->services > 0 ? p->services : 1;
	double *lat = calloc((size_t)n, sizeof *lat), t;
	struct worker w[THREADS_MAX];
	struct maintainer m = { .b = b, .period_ms = p->maintain_ms };
	pthread_t th[THREADS_MAX], mt;
	pthread_barrier_t go;
	struct result r;
	struct sampler smp = { .url = b->db.url };
	pthread_t st;

	if (!users || !lat)
		die("admit", "out of memory");
	store_close(fresh(b, n, nsvc, svc, users));
	if (p->maintain_ms)
		pthread_create(&mt, NULL, maintain_loop, &m);
	pthread_barrier_init(&go, NULL, (unsigned)p->threads + 1);
	for (int i = 0; i < p->threads; i++) {
		w[i] = (struct worker){ .b = b, .p = p, .go = &go, .service_id = svc[i % nsvc],
		                        .users = users + i * per, .n = per, .lat_us = lat + i * per };
		pthread_create(&th[i], NULL, admit_worker, &w[i]);
	}
	pthread_barrier_wait(&go);   /* every worker has its connection */
	if (b->pg)
		pthread_create(&st, NULL, sample_loop, &smp);
	t = clock_us();
	for (int i = 0; i < p->threads; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].failed;
	}
	t = clock_us() - t;
	m.stop = smp.stop = 1;
	if (b->pg)
		pthread_join(st, NULL);
	if (p->maintain_ms)
		pthread_join(mt, NULL);
	pthread_barrier_destroy(&go);
	if (failed || m.failed)
		die("admit", "some admissions or checkpoints failed");
	n = per * p->threads;
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	r = (struct result){ n / (t / 1e6), lat[n / 2], lat[n * 99 / 100], lat[n * 999 / 1000],
	                     lat[n - 1], { 0 } };
	memcpy(r.waits, smp.n, sizeof r.waits);
	free(users);
	free(lat);
	return r;
}

static struct result
admit_median(struct bench *b, const struct plan *p)
{
	double v[5][RUNS];
	long waits[W_N] = { 0 };
	struct result r;

	for (int i = 0; i < RUNS; i++) {
		r = admit_run(b, p);
		v[0][i] = r.per_s;
		v[1][i] = r.p50;
		v[2][i] = r.p99;
		v[3][i] = r.p999;
		v[4][i] = r.max;
		for (int j = 0; j < W_N; j++)
			waits[j] += r.waits[j];
	}
	r = (struct result){ median(v[0], RUNS), median(v[1], RUNS), median(v[2], RUNS),
	                     median(v[3], RUNS), median(v[4], RUNS), { 0 } };
	memcpy(r.waits, waits, sizeof r.waits);
	return r;
}

/*
 * Plans p[0] (one gateway) and p[1] (two) run alternately, RUNS times each,
 * so both see the same load on a shared machine: their medians go to r[0]
 * and r[1], the median of the RUNS ratios two / one is returned.
 */
static double
gw_pairs(struct bench *b, const struct plan *p, struct result *r)
{
	double v[2][5][RUNS], ratio[RUNS];
	long waits[2][W_N] = { { 0 } };

	for (int i = 0; i < RUNS; i++) {
		for (int k = 0; k < 2; k++) {
			struct result x = admit_run(b, &p[k]);
			v[k][0][i] = x.per_s;
			v[k][1][i] = x.p50;
			v[k][2][i] = x.p99;
			v[k][3][i] = x.p999;
			v[k][4][i] = x.max;
			for (int j = 0; j < W_N; j++)
				waits[k][j] += x.waits[j];
		}
		ratio[i] = v[1][0][i] / v[0][0][i];
	}
	for (int k = 0; k < 2; k++) {
		r[k] = (struct result){ median(v[k][0], RUNS), median(v[k][1], RUNS),
		                        median(v[k][2], RUNS), median(v[k][3], RUNS),
		                        median(v[k][4], RUNS), { 0 } };
		memcpy(r[k].waits, waits[k], sizeof r[k].waits);
	}
	return median(ratio, RUNS);
}

static int
count(const void *x, void *arg)
{
	(void)x;
	++*(long *)arg;
	return 0;
}

static int
count_right(const struct store_right *r, void *arg)
{
	return count(r, arg);
}

static int
count_service(const struct store_service *v, void *arg)
{
	(void)v;
	(void)arg;
	return 0;
}

/* n live rights: n / 10 users, each admitted to ten services. */
static struct store *
fill(struct bench *b, int n)
{
	int nu = n / 10;
	int64_t *users = calloc((size_t)nu, sizeof *users), svc[10];
	struct store_admission a;
	struct addr ip = { .family = AF_INET, .bytes = { 10 } };
	struct store *s;

	if (!users)
		die("fill", "out of memory");
	s = fresh(b, nu, 10, svc, users);
	for (int i = 0; i < nu; i++)
		for (int k = 0; k < 10; k++) {
			ip.bytes[2] = (uint8_t)(i >> 8);
			ip.bytes[3] = (uint8_t)i;
			if (store_admit(s, users[i], svc[k], &ip, T0, &a) != STORE_OK)
				die("fill", store_error(s));
		}
	free(users);
	return s;
}

/* Milliseconds of store_snapshot over n live rights, and of the sweep ending them all. */
static void
big_run(struct bench *b, int n, double *snap_ms, double *sweep_ms)
{
	struct store *s = fill(b, n);
	long got = 0;
	int64_t seq;
	int ended = 0;
	double t = clock_us();

	if (store_snapshot(s, T0, count_service, count_right, &got, &seq) != STORE_OK || got != n)
		die("snapshot", store_error(s));
	*snap_ms = (clock_us() - t) / 1e3;
	got = 0;
	t = clock_us();
	if (store_sweep(s, T0 + USAGE_MIN * 60, count_right, &got, &ended) != STORE_OK ||
	    ended != n || got != n)
		die("sweep", store_error(s));
	*sweep_ms = (clock_us() - t) / 1e3;
	store_close(s);
}

/* The share of each kind among the samples of busy backends (PostgreSQL only). */
static void
print_waits(const struct plan *p, const struct result *r)
{
	long all = 0;

	for (int j = 0; j < W_N; j++)
		all += r->waits[j];
	printf("  busy backends, %-34s %2d", p->label, p->threads);
	for (int j = 0; j < W_N; j++)
		printf(" %s %.0f%%", wait_names[j], all ? 100.0 * r->waits[j] / all : 0.0);
	printf("\n");
}

static void
print_admit(const struct plan *p, const struct result *r)
{
	printf("%-34s  %7d  %8.0f  %6.0f  %6.0f  %8.0f  %6.0f\n", p->label, p->threads, r->per_s,
	       r->p50, r->p99, r->p999, r->max);
}

int
main(int argc, char **argv)
{
	struct bench b = { .db = { .busy_timeout_ms = 30000 } };
	const char *tmp = getenv("TMPDIR");
	long long n = 8000, big = 100000;
	static struct pgc cluster;   /* outlives main: stop_cluster runs at exit */
	char err[512];
	double snap[RUNS], sweep[RUNS];
	struct plan plans[] = {
		{ "flat out, maintain every 100 ms", 1, 0, 0, 100, 0 },
		{ "flat out, maintain every 100 ms", THREADS, 0, 0, 100, 0 },
		{ "flat out, maintain every 100 ms", THREADS_MAX, 0, 0, 100, 0 },
		{ "flat out, one service per thread", THREADS, 0, 0, 100, THREADS },
		{ "500/s, no maintain (SQLite's own)", 1, PACED_N, PACED_RATE, 0, 0 },
		{ "500/s, maintain every 100 ms", 1, PACED_N, PACED_RATE, 100, 0 },
	};
	struct plan gw[] = {
		{ "1 gateway, one service", GW_POOL, 0, 0, 0, 1 },
		{ "2 gateways, one service", 2 * GW_POOL, 0, 0, 0, 1 },
		{ "1 gateway, its own services", GW_POOL, 0, 0, 0, GW_POOL },
		{ "2 gateways, each its own services", 2 * GW_POOL, 0, 0, 0, 2 * GW_POOL },
	};
	struct result rg[4];
	double ratio[2];
	struct result r[sizeof plans / sizeof plans[0]];
	size_t np = sizeof plans / sizeof plans[0];   /* --gateways: none but the gateway pairs */

	if (argc > 1 && strcmp(argv[1], "--pg") == 0) {
		atexit(stop_cluster);
		running = &cluster;
		if (pgc_start(&cluster, 1, err, sizeof err) != 0)
			die("PostgreSQL cluster", err);
		b.pg = &cluster;
		argc--;
		argv++;
	}
	if (argc > 1 && strcmp(argv[1], "--gateways") == 0) {
		np = 0;
		argc--;
		argv++;
	}
	if ((argc > 1 && parse_int(argv[1], THREADS_MAX * 10, 10000000, &n) < 0) ||
	    (argc > 2 && parse_int(argv[2], 10, 10000000, &big) < 0))
		die("usage", "bench_store [--pg] [--gateways] [admissions 320..10000000] "
		    "[rights 10..10000000]");
	snprintf(b.dir, sizeof b.dir, "%s/sekisho-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(b.dir))
		die("mkdtemp", b.dir);
	snprintf(b.db.path, sizeof b.db.path, "%s/bench.db", b.dir);

	for (size_t i = 0; i < np; i++) {
		if (!plans[i].n)
			plans[i].n = (int)n;
		r[i] = admit_median(&b, &plans[i]);
	}
	for (int i = 0; i < 4; i += 2) {
		gw[i].n = gw[i + 1].n = (int)n;
		ratio[i / 2] = gw_pairs(&b, &gw[i], &rg[i]);
	}
	for (int i = 0; np && i < RUNS; i++)
		big_run(&b, (int)big, &snap[i], &sweep[i]);

	printf("store_admit on %s, distinct users, median of %d runs\n"
	       "of %lld admissions (paced: %d)\n", b.pg ? "PostgreSQL 15 (unix socket, fsync on, "
	       "synchronous_commit on; maintain does nothing)" : "SQLite (WAL, synchronous=NORMAL)",
	       RUNS, n, PACED_N);
	printf("%-34s  threads  admits/s  p50 us  p99 us  p99.9 us  max us\n", "run");
	for (size_t i = 0; i < np; i++)
		print_admit(&plans[i], &r[i]);
	for (int i = 0; i < 4; i++)
		print_admit(&gw[i], &rg[i]);
	for (size_t i = 0; b.pg && i < np; i++)
		print_waits(&plans[i], &r[i]);
	for (int i = 0; b.pg && i < 4; i++)
		print_waits(&gw[i], &rg[i]);
	printf("two gateways / one, aggregate admissions/s (a pool of %d connections each, the\n"
	       "runs alternating, median of the %d ratios): one service %.2f, each its own services "
	       "%.2f\n", GW_POOL, RUNS, ratio[0], ratio[1]);
	if (np) {
		printf("\n%lld live rights, median of %d runs\n", big, RUNS);
		printf("store_snapshot  %8.1f ms\n", median(snap, RUNS));
		printf("store_sweep     %8.1f ms  (all expired)\n", median(sweep, RUNS));
	}

	if (!b.pg)
		remove_db(&b);
	rmdir(b.dir);
	return 0;
}
