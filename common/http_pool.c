#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
 */

struct http_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct http_req *head, *tail;        /* deferred, not yet taken, oldest first */
	int queued, running, stop;
	int n;
	pthread_t *threads;
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

static void *
worker_main(void *arg)
{
	struct http_pool *p = arg;
	struct http_req *r;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while ((r = take(p)) == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (r == NULL)
			break;
		p->queued--;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		run(r);
		pthread_mutex_lock(&p->lock);
		p->running--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct http_pool *
http_pool_start(int n, char *err, size_t errlen)
{
	struct http_pool *p = calloc(1, sizeof *p);

	if (p == NULL || n < 1 || (p->threads = calloc((size_t)n, sizeof *p->threads)) == NULL) {
		snprintf(err, errlen, n < 1 ? "no workers" : "out of memory");
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (p->n = 0; p->n < n; p->n++)
		if (pthread_create(&p->threads[p->n], NULL, worker_main, p) != 0) {
			snprintf(err, errlen, "cannot start HTTP worker %d of %d", p->n + 1, n);
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
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
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
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void
http_pool_counts(struct http_pool *p, int *queued, int *running)
{
	pthread_mutex_lock(&p->lock);
	*queued = p->queued;
	*running = p->running;
	pthread_mutex_unlock(&p->lock);
}
