#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "conns.h"
#include "log.h"

#define REFUSED_LOG_S 10         /* a line about refused connections at most this often */

struct conn {
	int fd;
	struct addr addr;
	int64_t since_ms;            /* opened, or the last answer sent */
	int answering;               /* the deadline does not run */
	int reaped;                  /* shut down once already */
	int exempt;                  /* a trusted proxy: no count, no deadline */
	struct conn *prev, *next;
};

struct addr_count {
	struct addr addr;
	int n;
	struct addr_count *next;
};

struct conns {
	struct conns_opts o;
	char name[32];
	struct addr exempt[CONNS_EXEMPT_MAX];
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t reaper;
	int stop;
	struct conn *head;
	struct addr_count *bucket[CONNS_BUCKETS];
	long refused;                /* since the last log line */
	int64_t refused_logged_ms;
};

static unsigned
addr_hash(const struct addr *a)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < addr_len(a); i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	return h % CONNS_BUCKETS;
}

/* The count of a, made when add and absent. NULL when absent (or no memory). */
static struct addr_count *
count_find(struct conns *cs, const struct addr *a, int add)
{
	struct addr_count **b = &cs->bucket[addr_hash(a)], *e;

	for (e = *b; e != NULL; e = e->next)
		if (addr_eq(&e->addr, a))
			return e;
	if (!add || (e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	e->addr = *a;
	e->next = *b;
	*b = e;
	return e;
}

static void
count_drop(struct conns *cs, const struct addr *a)
{
	struct addr_count **p = &cs->bucket[addr_hash(a)], *e;

	for (; (e = *p) != NULL; p = &e->next)
		if (addr_eq(&e->addr, a)) {
			if (--e->n == 0) {
				*p = e->next;
				free(e);
			}
			return;
		}
}

static void
note_refused(struct conns *cs, const struct addr *a)
{
	int64_t now = clock_mono_ms();
	char ip[ADDR_STR_MAX];

	cs->refused++;
	if (now - cs->refused_logged_ms < REFUSED_LOG_S * 1000 && cs->refused_logged_ms != 0)
		return;
	log_warn("event=conn_limit server=%s ip=%s limit=%d refused=%ld "
	         "why=\"too many connections from one address\"",
	         cs->name, addr_str(a, ip, sizeof ip), cs->o.per_addr, cs->refused);
	cs->refused = 0;
	cs->refused_logged_ms = now;
}

struct conn *
conns_open(struct conns *cs, int fd, const struct addr *a, int *refused)
{
	struct addr_count *ac = NULL;
	struct conn *c;

	*refused = 0;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->fd = fd;
	c->addr = *a;
	c->since_ms = clock_mono_ms();
	c->exempt = addr_in(a, cs->exempt, cs->o.n_exempt);
	pthread_mutex_lock(&cs->mu);
	if (!c->exempt) {
		ac = count_find(cs, a, 1);
		if (ac == NULL || ac->n >= cs->o.per_addr) {
			if (ac != NULL) {
				*refused = 1;
				note_refused(cs, a);
			}
			pthread_mutex_unlock(&cs->mu);
			free(c);
			return NULL;
		}
		ac->n++;
	}
	c->next = cs->head;
	if (cs->head != NULL)
		cs->head->prev = c;
	cs->head = c;
	pthread_mutex_unlock(&cs->mu);
	return c;
}

void
conns_close(struct conns *cs, struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	if (!c->exempt)
		count_drop(cs, &c->addr);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&cs->mu);
	free(c);
}

void
conns_answering(struct conns *cs, struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	c->answering = 1;
	pthread_mutex_unlock(&cs->mu);
}

void
conns_waiting(struct conns *cs, struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	c->answering = 0;
	c->since_ms = clock_mono_ms();
	pthread_mutex_unlock(&cs->mu);
}

/*
 * Bytes of the client's waiting unread in our socket: the server is behind,
 * not the client (a flood keeps every thread busy), so the deadline, which
 * measures the client, does not close it. A trickle is read as it comes
 * whenever the server keeps up, so its socket is empty at the deadline.
 */
static int
unread(int fd)
{
	int n = 0;

	return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

int
conns_reap(struct conns *cs, int64_t now_ms)
{
	int64_t limit = (int64_t)cs->o.deadline_s * 1000;
	struct conn *c;
	int n = 0;

	pthread_mutex_lock(&cs->mu);
	for (c = cs->head; c != NULL; c = c->next) {
		if (c->exempt || c->answering || c->reaped || now_ms - c->since_ms <= limit ||
		    unread(c->fd))
			continue;
		/* Under the lock: conns_close() runs before the server closes fd. */
		shutdown(c->fd, SHUT_RDWR);
		c->reaped = 1;
		n++;
	}
	pthread_mutex_unlock(&cs->mu);
	if (n > 0)
		log_info("event=request_deadline server=%s closed=%d deadline_s=%d "
		         "why=\"request not complete in time\"", cs->name, n, cs->o.deadline_s);
	return n;
}

int
conns_count(struct conns *cs, const struct addr *a)
{
	struct addr_count *ac;
	int n;

	pthread_mutex_lock(&cs->mu);
	ac = count_find(cs, a, 0);
	n = ac != NULL ? ac->n : 0;
	pthread_mutex_unlock(&cs->mu);
	return n;
}

static void *
reaper_main(void *arg)
{
	struct conns *cs = arg;
	struct timespec until;

	pthread_mutex_lock(&cs->mu);
	while (!cs->stop) {
		clock_mono_after(&until, CONNS_TICK_MS);
		pthread_cond_timedwait(&cs->wake, &cs->mu, &until);
		if (cs->stop)
			break;
		pthread_mutex_unlock(&cs->mu);
		conns_reap(cs, clock_mono_ms());
		pthread_mutex_lock(&cs->mu);
	}
	pthread_mutex_unlock(&cs->mu);
	return NULL;
}

struct conns *
conns_new(const struct conns_opts *o, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct conns *cs;

	if (o->per_addr <= 0 || o->deadline_s <= 0 || o->n_exempt < 0 ||
	    o->n_exempt > CONNS_EXEMPT_MAX) {
		snprintf(err, errlen, "connection limits out of range");
		return NULL;
	}
	if ((cs = calloc(1, sizeof *cs)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cs->o = *o;
	snprintf(cs->name, sizeof cs->name, "%s", o->name ? o->name : "http");
	if (o->n_exempt > 0)
		memcpy(cs->exempt, o->exempt, (size_t)o->n_exempt * sizeof *o->exempt);
	pthread_mutex_init(&cs->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&cs->reaper, NULL, reaper_main, cs)) != 0) {
		snprintf(err, errlen, "cannot start the connection reaper: %s", strerror(errno));
		pthread_cond_destroy(&cs->wake);
		pthread_mutex_destroy(&cs->mu);
		free(cs);
		return NULL;
	}
	return cs;
}

void
conns_free(struct conns *cs)
{
	struct addr_count *e, *next;

	if (cs == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	cs->stop = 1;
	pthread_cond_signal(&cs->wake);
	pthread_mutex_unlock(&cs->mu);
	pthread_join(cs->reaper, NULL);
	for (int i = 0; i < CONNS_BUCKETS; i++)
		for (e = cs->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	pthread_cond_destroy(&cs->wake);
	pthread_mutex_destroy(&cs->mu);
	free(cs);
}
