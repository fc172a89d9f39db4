#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "ipc.h"
#include "log.h"

/*
 * Connections to ipfd's control socket, shared by the request threads: a call
 * takes an idle connection (or opens one), makes one request, and gives it
 * back. A connection that failed in any way is closed, never reused, so a late
 * reply can never be taken for the answer to a later request.
 *
 * What nobody waits for (revoking the right a relogin replaced, a resync
 * after reaping, a revoke that failed) goes to a queue that a notifier thread
 * sends at once, retrying every second while ipfd does not answer.
 */

#define LATER_MAX 256
#define RETRY_S   1

struct later {
	int type;
	int64_t right_id, service_id;
};

struct fwc {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_t notifier;
	int stop, started;
	char path[CONF_PATH_MAX];
	atomic_int timeout_ms;
	int enabled;
	struct ipc_client *idle[FWC_POOL_MAX];
	int n_idle;
	struct later later[LATER_MAX];
	int n_later;
};

static void *notifier_main(void *arg);

struct fwc *
fwc_new(const char *socket_path, int timeout_ms, int enabled)
{
	struct fwc *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->work, NULL);
	snprintf(f->path, sizeof f->path, "%s", socket_path);
	atomic_store(&f->timeout_ms, timeout_ms);
	f->enabled = enabled;
	if (enabled && pthread_create(&f->notifier, NULL, notifier_main, f) != 0) {
		fwc_free(f);
		return NULL;
	}
	f->started = enabled;
	return f;
}

void
fwc_free(struct fwc *f)
{
	if (f == NULL)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->lock);
		f->stop = 1;
		pthread_cond_signal(&f->work);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->notifier, NULL);
	}
	if (f->n_later > 0)
		log_warn("event=fw_queue_dropped count=%d effect=\"stopping; ipfd's sync will catch up\"",
		         f->n_later);
	for (int i = 0; i < f->n_idle; i++)
		ipc_close(f->idle[i]);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void
fwc_set_timeout(struct fwc *f, int timeout_ms)
{
	atomic_store(&f->timeout_ms, timeout_ms);
}

int
fwc_enabled(const struct fwc *f)
{
	return f->enabled;
}

/* An idle connection (*reused = 1) or a new one; NULL with err. */
static struct ipc_client *
take(struct fwc *f, int *reused, char *err, size_t errlen)
{
	struct ipc_client *c = NULL;

	pthread_mutex_lock(&f->lock);
	if (f->n_idle > 0)
		c = f->idle[--f->n_idle];
	pthread_mutex_unlock(&f->lock);
	*reused = c != NULL;
	if (c == NULL)
		c = ipc_connect(f->path, atomic_load(&f->timeout_ms), err, errlen);
	return c;
}

static void
give(struct fwc *f, struct ipc_client *c)
{
	pthread_mutex_lock(&f->lock);
	if (f->n_idle < FWC_POOL_MAX) {
		f->idle[f->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	ipc_close(c);
}

/* One exchange. 0 ipfd answered (rep filled), -1 no answer (err). */
static int
exchange(struct fwc *f, int type, int64_t right_id, int64_t service_id,
         struct ipc_rep *rep, char *err, size_t errlen)
{
	struct ipc_client *c;
	int reused, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((c = take(f, &reused, err, errlen)) == NULL)
			return -1;
		if (ipc_call(c, type, right_id, service_id, rep, err, errlen) == 0) {
			give(f, c);
			return 0;
		}
		ipc_close(c);
		if (!reused)
			return -1;
		/* An idle connection may have been closed by a restarted ipfd: once more, fresh. */
	}
	return -1;
}

int
fwc_call(struct fwc *f, int type, int64_t right_id, int64_t service_id, char *err, size_t errlen)
{
	struct ipc_rep rep;

	if (!f->enabled)
		return 0;
	if (exchange(f, type, right_id, service_id, &rep, err, errlen) == -1)
		return -1;
	if (rep.status != IPC_OK) {
		rep.msg[sizeof rep.msg - 1] = '\0';
		snprintf(err, errlen, "%s: %s", ipc_status_str(rep.status), rep.msg);
		return -1;
	}
	return 0;
}

int
fwc_status(struct fwc *f, struct ipc_stats *st, char *err, size_t errlen)
{
	struct ipc_rep rep;

	if (!f->enabled) {
		memset(st, 0, sizeof *st);
		return 0;
	}
	if (exchange(f, IPC_STATUS, 0, 0, &rep, err, errlen) == -1)
		return -1;
	if (rep.status != IPC_OK) {
		snprintf(err, errlen, "%s", ipc_status_str(rep.status));
		return -1;
	}
	*st = rep.stats;
	return 0;
}

void
fwc_later(struct fwc *f, int type, int64_t right_id, int64_t service_id)
{
	if (!f->enabled)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->n_later < LATER_MAX) {
		f->later[f->n_later++] = (struct later){ type, right_id, service_id };
		pthread_cond_signal(&f->work);
	} else {
		log_warn("event=fw_queue_full type=%d right=%lld effect=\"ipfd's sync will catch it\"",
		         type, (long long)right_id);
	}
	pthread_mutex_unlock(&f->lock);
}

void
fwc_revoke_later(struct fwc *f, int64_t right_id)
{
	fwc_later(f, IPC_REVOKE, right_id, 0);
}

/* Sends items in order; returns how many went through before the first failure. */
static int
send_items(struct fwc *f, const struct later *items, int n)
{
	char err[160];

	for (int i = 0; i < n; i++)
		if (fwc_call(f, items[i].type, items[i].right_id, items[i].service_id, err,
		             sizeof err) == -1) {
			log_warn("event=fw_later_failed type=%d right=%lld service_id=%lld error=\"%s\"",
			         items[i].type, (long long)items[i].right_id,
			         (long long)items[i].service_id, err);
			return i;
		}
	return n;
}

/* Puts the unsent items back at the head of the queue (as many as fit). */
static void
requeue(struct fwc *f, const struct later *items, int n)
{
	int room = LATER_MAX - f->n_later, keep = n < room ? n : room;

	memmove(f->later + keep, f->later, (size_t)f->n_later * sizeof f->later[0]);
	memcpy(f->later, items, (size_t)keep * sizeof items[0]);
	f->n_later += keep;
}

static void *
notifier_main(void *arg)
{
	struct fwc *f = arg;
	struct later items[LATER_MAX];
	struct timespec until;
	int n, sent, failed = 0;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (failed && !f->stop) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += RETRY_S;
			pthread_cond_timedwait(&f->work, &f->lock, &until);
		}
		while (f->n_later == 0 && !f->stop)
			pthread_cond_wait(&f->work, &f->lock);
		if (f->n_later == 0)
			break;
		n = f->n_later;
		memcpy(items, f->later, (size_t)n * sizeof items[0]);
		f->n_later = 0;
		pthread_mutex_unlock(&f->lock);
		sent = send_items(f, items, n);
		pthread_mutex_lock(&f->lock);
		requeue(f, items + sent, n - sent);
		failed = sent < n;
		if (f->stop && failed)
			break;              /* stopping: one last try, then ipfd's sync catches up */
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}
