#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "http.h"
#include "http_int.h"
#include "log.h"

/*
 * Deferred requests (http.h, http_defer). An event thread of MHD's pool
 * serves hundreds of connections: a handler that waits there (a store call
 * queued behind a flood's writes, a login waiting for its hash) stalls every
 * one of them. Such a handler runs here instead, on a worker, while its
 * connection is suspended (MHD_suspend_connection: not polled, not timed
 * out); the answer is made on the worker and queued by the event thread
 * once the worker resumes the connection (MHD queues responses only from
 * its own callbacks). Workers take requests in the order they were
 * deferred.
 *
 * The pool keeps min workers; a request that finds none idle starts
 * another, up to max, and a worker beyond min that has been idle for
 * HTTP_POOL_IDLE_MS ends: an idle daemon holds few threads, a burst gets
 * as many as it needs.
 */

#define HTTP_POOL_IDLE_MS 10000

struct http_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;                 /* a request queued, or stop (CLOCK_MONOTONIC) */
	pthread_cond_t gone;                 /* a worker ended */
	struct http_req *head, *tail;        /* deferred, not yet taken, oldest first */
	int queued, running;
	int idle;                            /* workers waiting for a request */
	int live, min, max, stop;
	int64_t spawn_failed_ms;             /* when a new worker last could not start */
};

/* Under the lock: the oldest deferred request, or NULL. */
static struct http_req *
take(struct http_pool *p)
{
	struct http_req *r = p->head;

	if (r != NULL && (p->head = r->defer_next) == NULL)
		p->tail = NULL;
	return r;
}

/*
 * One deferred request: its handler, then the connection goes back to its
 * event thread, which sends the answer (on_request: r->resp). r may be
 * freed as soon as it is resumed: nothing of it is touched afterwards.
 */
static void
run(struct http_req *r)
{
	static const char none[] = "internal error: no response\n";
	struct MHD_Connection *c = r->conn;
	struct http_server *s = r->srv;

	r->defer_fn(r, r->defer_arg);
	if (!r->replied)
		http_reply(r, 500, "text/plain; charset=utf-8", none, sizeof none - 1);
	MHD_resume_connection(c);
	http_server_deferred_done(s);
}

/*
 * Under the lock: waits for a request or stop. A worker beyond the pool's
 * min that waits HTTP_POOL_IDLE_MS for nothing returns -1: it ends.
 */
static int
wait_for_work(struct http_pool *p)
{
	struct timespec until;
	int rc = 0;

	p->idle++;
	if (p->live > p->min) {
		clock_mono_after(&until, HTTP_POOL_IDLE_MS);
		rc = pthread_cond_timedwait(&p->work, &p->lock, &until);
	} else {
		pthread_cond_wait(&p->work, &p->lock);
	}
	p->idle--;
	return rc == ETIMEDOUT && p->head == NULL && p->live > p->min ? -1 : 0;
}

static void *
worker_main(void *arg)
{
	struct http_pool *p = arg;
	struct http_req *r;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if ((r = take(p)) == NULL) {
			if (p->stop || wait_for_work(p) == -1)
				break;
			continue;
		}
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		run(r);
		pthread_mutex_lock(&p->lock);
		p->running--;
	}
	p->live--;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Under the lock: one more worker (detached; it counts itself out in live). */
static int
spawn(struct http_pool *p)
{
	pthread_attr_t at;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&at) != 0)
		return -1;
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &at, worker_main, p);
	pthread_attr_destroy(&at);
	if (rc != 0)
		return -1;
	p->live++;
	return 0;
}

struct http_pool *
http_pool_start(int min, int max, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct http_pool *p;

	if (min < 1 || max < min) {
		snprintf(err, errlen, "bad worker counts %d..%d", min, max);
		return NULL;
	}
	if ((p = calloc(1, sizeof *p)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->work, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->gone, NULL);
	p->min = min;
	p->max = max;
	pthread_mutex_lock(&p->lock);
	while (p->live < min && spawn(p) == 0)
		;
	pthread_mutex_unlock(&p->lock);
	if (p->live < min) {
		snprintf(err, errlen, "cannot start HTTP worker %d of %d", p->live + 1, min);
		http_pool_stop(p);
		return NULL;
	}
	return p;
}

void
http_pool_stop(struct http_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	while (p->live > 0)
		pthread_cond_wait(&p->gone, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&p->gone);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/*
 * Under the lock: a request no idle worker will take gets a new worker, up
 * to max. When none can start (threads exhausted), the request waits for
 * one of the workers there are; said at most once a minute.
 */
static void
grow(struct http_pool *p)
{
	int64_t now;

	if (p->queued <= p->idle || p->live >= p->max || spawn(p) == 0)
		return;
	now = clock_mono_ms();
	if (p->spawn_failed_ms == 0 || now - p->spawn_failed_ms >= 60000) {
		log_warn("event=http_worker_failed live=%d max=%d error=\"cannot start a thread\"",
		         p->live, p->max);
		p->spawn_failed_ms = now;
	}
}

void
http_pool_queue(struct http_pool *p, struct http_req *r)
{
	pthread_mutex_lock(&p->lock);
	r->defer_next = NULL;
	if (p->tail != NULL)
		p->tail->defer_next = r;
	else
		p->head = r;
	p->tail = r;
	p->queued++;
	grow(p);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void
http_pool_counts(struct http_pool *p, int *queued, int *running, int *live)
{
	pthread_mutex_lock(&p->lock);
	*queued = p->queued;
	*running = p->running;
	*live = p->live;
	pthread_mutex_unlock(&p->lock);
}
