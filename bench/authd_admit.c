/*
 * In-process driver for bench/authd.sh: authd's admission path without HTTP
 * and without the password hash.
 *
 *   authd_admit -f CONF seed PREFIX N PASSWORD   N users PREFIX0001.. sharing one
 *                                                 default-parameter hash of PASSWORD
 *   authd_admit -f CONF hash N                    N password checks with the default
 *                                                 parameters, one after another (as a
 *                                                 hash worker runs them): CPU and wall time
 *   authd_admit -f CONF admit SERVICE USER N [GAP_US]
 *                                                 N admissions of USER to SERVICE, one
 *                                                 after another from 10.77.0.1, starting
 *                                                 GAP_US apart (default 0): admit_run,
 *                                                 exactly what POST /login runs after the hash
 *                                                 (store_admit, ipfd's acknowledgement, entry
 *                                                 code, audit row). "path" is the first three
 *                                                 (what the user's access waits for), the
 *                                                 totals include the audit row.
 *
 * Each command prints one line of key=value results (times in microseconds).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "../authd/authd.h"
#include "log.h"
#include "passwd.h"

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t
pct(const int64_t *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return n > 0 ? v[i] : 0;
}

static struct store *
open_store(const struct conf *c)
{
	char err[256];
	struct store *s = store_open(&c->db, 0, err, sizeof err);

	if (s == NULL) {
		fprintf(stderr, "authd_admit: store: %s\n", err);
		exit(1);
	}
	return s;
}

static int
seed(const struct conf *c, const char *prefix, int n, const char *pw)
{
	char hash[HASH_MAX_LEN + 1], name[NAME_MAX_LEN + 1], err[256];
	struct store *s = open_store(c);
	int64_t id, t0 = clock_mono_us();

	if (passwd_hash(pw, &passwd_default, hash, sizeof hash, err, sizeof err) == -1) {
		fprintf(stderr, "authd_admit: %s\n", err);
		return 1;
	}
	for (int i = 1; i <= n; i++) {
		snprintf(name, sizeof name, "%s%04d", prefix, i);
		if (store_user_add(s, name, ROLE_USER, hash, time(NULL), &id, err, sizeof err) != STORE_OK) {
			fprintf(stderr, "authd_admit: %s: %s\n", name, err);
			return 1;
		}
	}
	printf("seed users=%d seconds=%.1f\n", n, (double)(clock_mono_us() - t0) / 1e6);
	store_close(s);
	return 0;
}

struct phase { int64_t *total, *path, *store, *fw, *code, start; };

static void
sleep_until_us(int64_t t)
{
	int64_t d = t - clock_mono_us();
	struct timespec ts = { d / 1000000, (long)(d % 1000000) * 1000 };

	if (d > 0)
		nanosleep(&ts, NULL);
}

/*
 * authd maintains the store every 100 ms (sweeper.c): it flushes what was
 * logged since the last time and now and then checkpoints. Logins arrive at
 * most some 30 a second (each costs a 60 ms hash); back to back, admissions
 * come over a hundred times faster, so the maintenance here runs that much
 * more often (every MAINTAIN_US) to flush about as much log each time.
 */
#define MAINTAIN_US 2000

struct maintainer {
	const struct conf *c;
	atomic_int stop;
};

static void *
maintainer_main(void *arg)
{
	struct maintainer *m = arg;
	struct store *s = open_store(m->c);
	struct timespec gap = { 0, MAINTAIN_US * 1000L };

	while (!atomic_load(&m->stop)) {
		store_maintain(s);
		nanosleep(&gap, NULL);
	}
	store_close(s);
	return NULL;
}

static int
admit(const struct conf *c, const char *service, const char *user, int n, int gap_us)
{
	struct store *s = open_store(c);
	struct fwc *fw = fwc_new(c->ipfd.socket, c->authd.ipfd_timeout_ms, c->ipfd.enabled);
	struct store_service svc;
	struct store_user u;
	struct admit_out out;
	struct phase ph;
	int errors = 0;

	if (store_service_get(s, service, &svc) != STORE_OK || store_user_get(s, user, &u) != STORE_OK) {
		fprintf(stderr, "authd_admit: no service %s or user %s\n", service, user);
		return 1;
	}
	ph.total = calloc((size_t)n, sizeof *ph.total);
	ph.path = calloc((size_t)n, sizeof *ph.path);
	ph.store = calloc((size_t)n, sizeof *ph.store);
	ph.fw = calloc((size_t)n, sizeof *ph.fw);
	ph.code = calloc((size_t)n, sizeof *ph.code);
	struct admit_in in = { &u, &svc, { 0 }, 0, c->authd.code_ttl_s };
	addr_parse("10.77.0.1", &in.ip);
	struct maintainer m = { c, 0 };
	pthread_t mt;
	pthread_create(&mt, NULL, maintainer_main, &m);
	ph.start = clock_mono_us();
	for (int i = 0; i < n; i++) {
		int64_t t0;

		if (gap_us > 0 && i > 0)
			sleep_until_us(ph.start + (int64_t)i * gap_us);
		t0 = clock_mono_us();

		in.now = time(NULL);
		admit_run(s, fw, &in, &out);
		ph.total[i] = clock_mono_us() - t0;
		ph.store[i] = (int64_t)(out.ms_store * 1000);
		ph.fw[i] = (int64_t)(out.ms_fw * 1000);
		ph.code[i] = (int64_t)(out.ms_code * 1000);
		ph.path[i] = (int64_t)((out.ms_store + out.ms_fw + out.ms_code) * 1000);
		if (out.outcome != ADMIT_OK && errors++ == 0)
			fprintf(stderr, "authd_admit: %s %s\n", admit_outcome_str(out.outcome), out.why);
	}
	atomic_store(&m.stop, 1);
	pthread_join(mt, NULL);
	qsort(ph.total, (size_t)n, sizeof *ph.total, cmp64);
	qsort(ph.path, (size_t)n, sizeof *ph.path, cmp64);
	qsort(ph.store, (size_t)n, sizeof *ph.store, cmp64);
	qsort(ph.fw, (size_t)n, sizeof *ph.fw, cmp64);
	qsort(ph.code, (size_t)n, sizeof *ph.code, cmp64);
	printf("admit n=%d p50_us=%lld p99_us=%lld path_p50_us=%lld path_p99_us=%lld "
	       "store_p50_us=%lld ipfd_p50_us=%lld code_p50_us=%lld store_p99_us=%lld ipfd_p99_us=%lld "
	       "code_p99_us=%lld ipfd=%s errors=%d\n", n,
	       (long long)pct(ph.total, n, 0.5), (long long)pct(ph.total, n, 0.99),
	       (long long)pct(ph.path, n, 0.5), (long long)pct(ph.path, n, 0.99),
	       (long long)pct(ph.store, n, 0.5), (long long)pct(ph.fw, n, 0.5),
	       (long long)pct(ph.code, n, 0.5), (long long)pct(ph.store, n, 0.99),
	       (long long)pct(ph.fw, n, 0.99), (long long)pct(ph.code, n, 0.99), c->ipfd.enabled ? "on" : "off", errors);
	fwc_free(fw);
	store_close(s);
	return errors > 0;
}

static int64_t
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
hash(int n)
{
	char h[HASH_MAX_LEN + 1], err[256];
	int64_t w0, c0;

	mallopt(M_MMAP_THRESHOLD, 64 << 20);     /* as authd does */
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	if (passwd_hash("bench-password", &passwd_default, h, sizeof h, err, sizeof err) == -1) {
		fprintf(stderr, "authd_admit: %s\n", err);
		return 1;
	}
	w0 = clock_mono_us();
	c0 = cpu_us();
	for (int i = 0; i < n; i++)
		if (passwd_verify("bench-password", h, err, sizeof err) != 1) {
			fprintf(stderr, "authd_admit: verify failed: %s\n", err);
			return 1;
		}
	printf("hash n=%d params=ln%d,r%d,p%d cpu_ms=%.1f wall_ms=%.1f\n", n, passwd_default.ln,
	       passwd_default.r, passwd_default.p, (double)(cpu_us() - c0) / n / 1000,
	       (double)(clock_mono_us() - w0) / n / 1000);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: authd_admit -f CONF seed PREFIX N PASSWORD\n"
	                "       authd_admit -f CONF hash N\n"
	                "       authd_admit -f CONF admit SERVICE USER N [GAP_US]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct conf c;
	char err[512];
	long long n;

	if (argc < 4 || strcmp(argv[1], "-f") != 0)
		usage();
	conf_defaults(&c);
	if (conf_load(argv[2], &c, err, sizeof err) == -1) {
		fprintf(stderr, "authd_admit: %s\n", err);
		return 1;
	}
	log_set_level(LOG_ERR);
	if (strcmp(argv[3], "seed") == 0 && argc == 7 && parse_int(argv[5], 1, 100000, &n) == 0)
		return seed(&c, argv[4], (int)n, argv[6]);
	if (strcmp(argv[3], "hash") == 0 && argc == 5 && parse_int(argv[4], 1, 100000, &n) == 0)
		return hash((int)n);
	if (strcmp(argv[3], "admit") == 0 && (argc == 7 || argc == 8) &&
	    parse_int(argv[6], 1, 10000000, &n) == 0) {
		long long gap = 0;

		if (argc == 8 && parse_int(argv[7], 0, 10000000, &gap) == -1)
			usage();
		return admit(&c, argv[4], argv[5], (int)n, (int)gap);
	}
	usage();
}
