/*
 * HTTP load driver for bench/authd.sh: C concurrent clients, each logging in
 * N times in a row, as the thesis's evaluation did.
 *
 *   authd_load -a ADDR -p PORT -c C -n N -u PREFIX -w PASSWORD -s SERVICE [-g MS]
 *   authd_load -a ADDR -p PORT -c 0 -n N        N sequential GET / alone, for comparison
 *
 * Client i (1..C) is user PREFIX%04d. It opens the form once (GET /, for the
 * CSRF cookie and field), then N times: a new TCP connection, POST /login,
 * read the whole answer, which must be a 303. T1 is measured from connect()
 * to the last byte of the 303 (the thesis's "client reaches Auth until it is
 * redirected"). With -g, one more thread fetches GET / every MS milliseconds
 * while the logins run, to show the form stays fast while passwords hash.
 *
 * Prints one line of key=value results; times in milliseconds unless marked.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define ANSWER_MAX 65536

struct opts {
	const char *addr, *prefix, *password, *service;
	int port, clients, logins, probe_ms;
};

struct client {
	const struct opts *o;
	int index;
	double *t1;                       /* seconds, one per login */
	int ok, failed;
	char csrf[64];
	char login_cookie[64];
};

static atomic_int running;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request on a fresh connection; the answer into out. Status code, or -1. */
static int
exchange(const struct opts *o, const char *req, char *out, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	size_t used = 0, len = strlen(req);
	int fd, status = -1, one = 1;
	ssize_t r;

	if (inet_pton(AF_INET, o->addr, &sa.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 || write(fd, req, len) != (ssize_t)len)
		goto done;
	while (used < n - 1 && (r = read(fd, out + used, n - 1 - used)) > 0)
		used += (size_t)r;
	out[used] = '\0';
	if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
done:
	close(fd);
	return status;
}

/* Copies the value after key up to one of the stop characters. 0 or -1. */
static int
grab(const char *text, const char *key, const char *stop, char *out, size_t n)
{
	const char *p = strstr(text, key);
	size_t len;

	if (p == NULL)
		return -1;
	p += strlen(key);
	len = strcspn(p, stop);
	if (len == 0 || len >= n)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static int
open_form(struct client *c, char *buf)
{
	char req[256];

	snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n");
	if (exchange(c->o, req, buf, ANSWER_MAX) != 200)
		return -1;
	return grab(buf, "name=\"csrf\" value=\"", "\"", c->csrf, sizeof c->csrf);
}

static int
login_once(struct client *c, char *buf)
{
	char body[512], req[2048], cookies[256];
	int n;

	n = snprintf(body, sizeof body, "user=%s%04d&password=%s&service=%s&csrf=%s",
	             c->o->prefix, c->index, c->o->password, c->o->service, c->csrf);
	snprintf(cookies, sizeof cookies, "sekisho_csrf=%s%s%s", c->csrf,
	         c->login_cookie[0] ? "; sekisho_login=" : "", c->login_cookie);
	snprintf(req, sizeof req,
	         "POST /login HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n"
	         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
	         "Cookie: %s\r\n\r\n%s", n, cookies, body);
	if (exchange(c->o, req, buf, ANSWER_MAX) != 303)
		return -1;
	grab(buf, "Set-Cookie: sekisho_login=", ";\r", c->login_cookie, sizeof c->login_cookie);
	return 0;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	char *buf = malloc(ANSWER_MAX);
	double t0;

	if (buf == NULL || open_form(c, buf) == -1) {
		c->failed = c->o->logins;
		free(buf);
		return NULL;
	}
	for (int i = 0; i < c->o->logins; i++) {
		t0 = now_s();
		if (login_once(c, buf) == 0)
			c->t1[c->ok++] = now_s() - t0;
		else
			c->failed++;
	}
	free(buf);
	return NULL;
}

struct probe {
	const struct opts *o;
	double *lat;
	int n, max;
};

static void *
probe_main(void *arg)
{
	struct probe *p = arg;
	char *buf = malloc(ANSWER_MAX);
	struct timespec gap = { p->o->probe_ms / 1000, (long)(p->o->probe_ms % 1000) * 1000000 };
	double t0;

	while (buf != NULL && atomic_load(&running) && p->n < p->max) {
		t0 = now_s();
		if (exchange(p->o, "GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n",
		             buf, ANSWER_MAX) == 200)
			p->lat[p->n++] = now_s() - t0;
		nanosleep(&gap, NULL);
	}
	free(buf);
	return NULL;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(const double *v, int n, double p)
{
	return n > 0 ? v[(int)(p * (n - 1) + 0.5)] : 0;
}

static void
report(const struct opts *o, struct client *cl, double wall, struct probe *pr)
{
	int total = 0, failed = 0, k = 0;
	double sum = 0, var = 0, mean, *all;

	for (int i = 0; i < o->clients; i++) {
		total += cl[i].ok;
		failed += cl[i].failed;
	}
	if ((all = calloc((size_t)total + 1, sizeof *all)) == NULL)
		return;
	for (int i = 0; i < o->clients; i++)
		for (int j = 0; j < cl[i].ok; j++)
			sum += all[k++] = cl[i].t1[j];
	mean = total ? sum / total : 0;
	for (int i = 0; i < total; i++)
		var += (all[i] - mean) * (all[i] - mean);
	var = total ? var / total : 0;
	qsort(all, (size_t)total, sizeof *all, cmpd);
	printf("load clients=%d logins=%d ok=%d failed=%d mean_s=%.4f var_s2=%.5f p50_ms=%.1f "
	       "p99_ms=%.1f max_ms=%.1f wall_s=%.1f logins_per_s=%.1f", o->clients, o->logins, total,
	       failed, mean, var, pct(all, total, 0.5) * 1e3, pct(all, total, 0.99) * 1e3,
	       total ? all[total - 1] * 1e3 : 0, wall, total / wall);
	if (pr != NULL) {
		qsort(pr->lat, (size_t)pr->n, sizeof *pr->lat, cmpd);
		printf(" probe_n=%d probe_p50_ms=%.2f probe_p99_ms=%.2f probe_max_ms=%.2f", pr->n,
		       pct(pr->lat, pr->n, 0.5) * 1e3, pct(pr->lat, pr->n, 0.99) * 1e3,
		       pr->n ? pr->lat[pr->n - 1] * 1e3 : 0);
	}
	printf("\n");
	free(all);
}

/* A whole number in 1..1000000, else 0 (which the caller refuses). */
static int
num(const char *s)
{
	long long v;

	return parse_int(s, 1, 1000000, &v) == 0 ? (int)v : 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	int ch;

	memset(o, 0, sizeof *o);
	while ((ch = getopt(argc, argv, "a:p:c:n:u:w:s:g:")) != -1) {
		switch (ch) {
		case 'a': o->addr = optarg; break;
		case 'p': o->port = num(optarg); break;
		case 'c': o->clients = strcmp(optarg, "0") == 0 ? 0 : num(optarg); break;
		case 'n': o->logins = num(optarg); break;
		case 'u': o->prefix = optarg; break;
		case 'w': o->password = optarg; break;
		case 's': o->service = optarg; break;
		case 'g': o->probe_ms = num(optarg); break;
		default: return -1;
		}
	}
	if (o->addr == NULL || o->port <= 0 || o->logins <= 0 || o->clients > 4096)
		return -1;
	if (o->clients == 0)
		return 0;
	return o->prefix && o->password && o->service ? 0 : -1;
}

/* GET / n times in a row, nothing else running. */
static int
forms_alone(const struct opts *o)
{
	double *lat = calloc((size_t)o->logins, sizeof *lat), t0;
	char *buf = malloc(ANSWER_MAX);
	int n = 0;

	if (lat == NULL || buf == NULL)
		return 1;
	for (int i = 0; i < o->logins; i++) {
		t0 = now_s();
		if (exchange(o, "GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n",
		             buf, ANSWER_MAX) == 200)
			lat[n++] = now_s() - t0;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmpd);
	printf("form n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n, pct(lat, n, 0.5) * 1e3,
	       pct(lat, n, 0.99) * 1e3, n ? lat[n - 1] * 1e3 : 0);
	free(lat);
	free(buf);
	return n == o->logins ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct probe pr = { 0 };
	struct client *cl;
	pthread_t *th, pt;
	struct opts o;
	double t0;

	if (parse_args(argc, argv, &o) == -1) {
		fprintf(stderr, "usage: authd_load -a ADDR -p PORT -c CLIENTS -n LOGINS -u PREFIX "
		                "-w PASSWORD -s SERVICE [-g PROBE_MS]\n");
		return 2;
	}
	if (o.clients == 0)
		return forms_alone(&o);
	cl = calloc((size_t)o.clients, sizeof *cl);
	th = calloc((size_t)o.clients, sizeof *th);
	for (int i = 0; cl && th && i < o.clients; i++) {
		cl[i] = (struct client){ .o = &o, .index = i + 1 };
		if ((cl[i].t1 = calloc((size_t)o.logins, sizeof *cl[i].t1)) == NULL)
			return 1;
	}
	if (cl == NULL || th == NULL)
		return 1;
	atomic_store(&running, 1);
	if (o.probe_ms > 0) {
		pr.o = &o;
		pr.max = 1000000;
		if ((pr.lat = calloc((size_t)pr.max, sizeof *pr.lat)) == NULL)
			return 1;
		pthread_create(&pt, NULL, probe_main, &pr);
	}
	t0 = now_s();
	for (int i = 0; i < o.clients; i++)
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	for (int i = 0; i < o.clients; i++)
		pthread_join(th[i], NULL);
	atomic_store(&running, 0);
	if (o.probe_ms > 0)
		pthread_join(pt, NULL);
	report(&o, cl, now_s() - t0, o.probe_ms > 0 ? &pr : NULL);
	return 0;
}
