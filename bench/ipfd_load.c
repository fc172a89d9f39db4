/*
 * Load driver for bench/ipfd.sh (run inside the bench's network namespace).
 *
 *   ipfd_load -f CONF seed N              service "bench" (cap N) and N live rights, store only
 *   ipfd_load -f CONF admit FIRST N T     IPC_ADMIT rights FIRST..FIRST+N-1 from T clients
 *   ipfd_load -f CONF sync                one IPC_SYNC(0): a full rebuild from the store
 *   ipfd_load -f CONF nft FIRST N SET     the openNDS way: one "nft add element" process
 *                                         per admission, N of them, one after another
 *   ipfd_load -f CONF nftsh FIRST N SET   the same through "/bin/sh -c" (system/popen)
 *
 * Each command prints one line of key=value results (times in microseconds).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clock.h"
#include "addr.h"
#include "conf.h"
#include "ipc.h"
#include "store.h"

#define SERVICE "bench"
#define GUARD   "10.99.0.1:80"

extern char **environ;

static struct conf cf;

/* The i-th client address: 10.64.0.0 + i. */
static struct addr
client_ip(int64_t i)
{
	struct addr a;
	uint32_t v = 0x0a400000u + (uint32_t)i;

	memset(&a, 0, sizeof a);
	a.family = AF_INET;
	a.bytes[0] = (uint8_t)(v >> 24);
	a.bytes[1] = (uint8_t)(v >> 16);
	a.bytes[2] = (uint8_t)(v >> 8);
	a.bytes[3] = (uint8_t)v;
	return a;
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "ipfd_load: %s: %s\n", what, why);
	exit(1);
}

static int64_t
seed_service(struct store *s, int n, int64_t now)
{
	struct store_service svc;
	char err[256];
	int64_t admin, id;

	if (store_user_add(s, "benchadmin", ROLE_ADMIN, "x", now, &admin, err, sizeof err) != STORE_OK)
		die("admin", err);
	memset(&svc, 0, sizeof svc);
	snprintf(svc.name, sizeof svc.name, SERVICE);
	snprintf(svc.url, sizeof svc.url, "http://10.99.0.1/");
	svc.max_usage_min = 24 * 60;
	svc.max_interval_min = 24 * 60;
	svc.cap = n;
	svc.admin_id = admin;
	svc.enabled = 1;
	svc.n_guards = 1;
	if (guard_parse(GUARD, &svc.guards[0], err, sizeof err) == -1)
		die("guard", err);
	if (store_service_add(s, &svc, ROLE_ROOT, now, &id, err, sizeof err) != STORE_OK)
		die("service", err);
	return id;
}

static int
cmd_seed(int n)
{
	struct store_admission a;
	struct store *s;
	struct addr ip;
	char err[256], name[NAME_MAX_LEN + 1];
	int64_t now = time(NULL), svc, uid, t0 = clock_mono_us();
	int i;

	if ((s = store_open(&cf.db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err)) == NULL)
		die("store", err);
	svc = seed_service(s, n, now);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "b%07d", i);
		if (store_user_add(s, name, ROLE_USER, "x", now, &uid, err, sizeof err) != STORE_OK)
			die("user", err);
		ip = client_ip(i);
		if (store_admit(s, uid, svc, &ip, now, &a) != STORE_OK)
			die("admit", store_error(s));
	}
	printf("seed rights=%d service_id=%" PRId64 " seconds=%.1f\n", n, svc,
	       (double)(clock_mono_us() - t0) / 1e6);
	store_close(s);
	return 0;
}

struct worker {
	pthread_t th;
	int64_t first, n;
	int64_t *lat;
	int errors;
};

static void *
admit_worker(void *arg)
{
	struct worker *w = arg;
	struct ipc_client *c;
	struct ipc_rep rep;
	char err[256];
	int64_t i, t;

	if ((c = ipc_connect(cf.ipfd.socket, 10000, err, sizeof err)) == NULL)
		die("connect", err);
	for (i = 0; i < w->n; i++) {
		t = clock_mono_us();
		if (ipc_call(c, IPC_ADMIT, w->first + i, 0, &rep, err, sizeof err) == -1)
			die("admit", err);
		w->lat[i] = clock_mono_us() - t;
		if (rep.status != IPC_OK && w->errors++ == 0)
			fprintf(stderr, "ipfd_load: admit %" PRId64 ": %s %s\n", w->first + i,
			        ipc_status_str(rep.status), rep.msg);
	}
	ipc_close(c);
	return NULL;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmd_admit(int64_t first, int64_t n, int threads)
{
	struct worker *w = calloc((size_t)threads, sizeof *w);
	int64_t *lat = calloc((size_t)n, sizeof *lat), t0, total, sum = 0, per, i;
	int errors = 0, k;

	if (w == NULL || lat == NULL)
		die("admit", "out of memory");
	per = n / threads;
	t0 = clock_mono_us();
	for (k = 0; k < threads; k++) {
		w[k].first = first + k * per;
		w[k].n = k == threads - 1 ? n - k * per : per;
		w[k].lat = lat + k * per;
		pthread_create(&w[k].th, NULL, admit_worker, &w[k]);
	}
	for (k = 0; k < threads; k++) {
		pthread_join(w[k].th, NULL);
		errors += w[k].errors;
	}
	total = clock_mono_us() - t0;
	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof *lat, cmp64);
	printf("admit n=%" PRId64 " clients=%d p50_us=%" PRId64 " p99_us=%" PRId64 " mean_us=%" PRId64
	       " per_admission_us=%.1f errors=%d\n", n, threads, lat[n / 2], lat[n * 99 / 100],
	       sum / n, (double)total / (double)n, errors);
	free(lat);
	free(w);
	return errors != 0;
}

static int
cmd_sync(void)
{
	struct ipc_client *c;
	struct ipc_rep rep;
	char err[256];
	int64_t t;

	if ((c = ipc_connect(cf.ipfd.socket, 60000, err, sizeof err)) == NULL)
		die("connect", err);
	t = clock_mono_us();
	if (ipc_call(c, IPC_SYNC, 0, 0, &rep, err, sizeof err) == -1)
		die("sync", err);
	t = clock_mono_us() - t;
	if (rep.status != IPC_OK)
		die("sync", rep.msg);
	if (ipc_call(c, IPC_STATUS, 0, 0, &rep, err, sizeof err) == -1)
		die("status", err);
	printf("sync elements=%" PRIu64 " total_us=%" PRId64 "\n", rep.stats.elements, t);
	ipc_close(c);
	return 0;
}

/*
 * One "nft add element" process per admission, as captive portals do it:
 * spawned directly (shell 0), or through "/bin/sh -c" as system() and popen()
 * do (shell 1). Into SET of the bench's own table inet nftbench (ipfd.sh
 * makes it): an element added to ipfd's table by another process would make
 * ipfd rebuild, and take it out again.
 */
static int
cmd_nft(int64_t first, int64_t n, const char *set, int shell)
{
	char elem[96], line[192], ipbuf[ADDR_STR_MAX];
	char *direct[] = { "nft", "add", "element", "inet", "nftbench", (char *)set, elem, NULL };
	char *viash[] = { "sh", "-c", line, NULL };
	int64_t *lat = calloc((size_t)n, sizeof *lat), t, i, t0 = clock_mono_us();
	struct addr ip;
	pid_t pid;
	int st;

	if (lat == NULL)
		die("nft", "out of memory");
	for (i = 0; i < n; i++) {
		ip = client_ip(first + i);
		snprintf(elem, sizeof elem, "{ %s timeout 3600s }", addr_str(&ip, ipbuf, sizeof ipbuf));
		snprintf(line, sizeof line, "/usr/sbin/nft add element inet nftbench %s '%s'", set, elem);
		t = clock_mono_us();
		if (posix_spawn(&pid, shell ? "/bin/sh" : "/usr/sbin/nft", NULL, NULL,
		                shell ? viash : direct, environ) != 0)
			die("nft", strerror(errno));
		if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("nft", "nft add element failed");
		lat[i] = clock_mono_us() - t;
	}
	t = clock_mono_us() - t0;
	qsort(lat, (size_t)n, sizeof *lat, cmp64);
	printf("%s n=%" PRId64 " p50_us=%" PRId64 " p99_us=%" PRId64 " per_admission_us=%.1f\n",
	       shell ? "nftsh" : "nft", n, lat[n / 2], lat[n * 99 / 100], (double)t / (double)n);
	free(lat);
	return 0;
}

static long long
num(const char *s)
{
	long long v;

	if (parse_int(s, 0, 100000000, &v) == -1)
		die("number", s);
	return v;
}

int
main(int argc, char **argv)
{
	char err[512];

	if (argc < 4 || strcmp(argv[1], "-f") != 0) {
		fprintf(stderr, "usage: ipfd_load -f CONF seed N | admit FIRST N CLIENTS | sync | nft|nftsh FIRST N SET\n");
		return 2;
	}
	conf_defaults(&cf);
	if (conf_load(argv[2], &cf, err, sizeof err) == -1)
		die("config", err);
	if (strcmp(argv[3], "seed") == 0 && argc == 5)
		return cmd_seed((int)num(argv[4]));
	if (strcmp(argv[3], "admit") == 0 && argc == 7 && num(argv[5]) > 0 && num(argv[6]) > 0)
		return cmd_admit(num(argv[4]), num(argv[5]), (int)num(argv[6]));
	if (strcmp(argv[3], "sync") == 0)
		return cmd_sync();
	if (strcmp(argv[3], "nft") == 0 && argc == 7 && num(argv[5]) > 0)
		return cmd_nft(num(argv[4]), num(argv[5]), argv[6], 0);
	if (strcmp(argv[3], "nftsh") == 0 && argc == 7 && num(argv[5]) > 0)
		return cmd_nft(num(argv[4]), num(argv[5]), argv[6], 1);
	fprintf(stderr, "ipfd_load: bad command\n");
	return 2;
}
