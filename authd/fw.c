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
 */

#define REVOKE_LATER_MAX 256

struct fwc {
	pthread_mutex_t lock;
	char path[CONF_PATH_MAX];
	atomic_int timeout_ms;
	int enabled;
	struct ipc_client *idle[FWC_POOL_MAX];
	int n_idle;
	int64_t later[REVOKE_LATER_MAX];
	int n_later;
};

struct fwc *
fwc_new(const char *socket_path, int timeout_ms, int enabled)
{
	struct fwc *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->path, sizeof f->path, "%s", socket_path);
	atomic_store(&f->timeout_ms, timeout_ms);
	f->enabled = enabled;
	return f;
}

void
fwc_free(struct fwc *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < f->n_idle; i++)
		ipc_close(f->idle[i]);
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
fwc_revoke_later(struct fwc *f, int64_t right_id)
{
	if (!f->enabled)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->n_later < REVOKE_LATER_MAX)
		f->later[f->n_later++] = right_id;
	else
		log_warn("event=revoke_dropped right=%lld why=\"queue full; ipfd's sync will catch it\"",
		         (long long)right_id);
	pthread_mutex_unlock(&f->lock);
}

void
fwc_flush(struct fwc *f)
{
	int64_t ids[REVOKE_LATER_MAX];
	char err[160];
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->n_later;
	memcpy(ids, f->later, (size_t)n * sizeof ids[0]);
	f->n_later = 0;
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < n; i++) {
		if (fwc_call(f, IPC_REVOKE, ids[i], 0, err, sizeof err) == 0)
			continue;
		log_warn("event=revoke_failed right=%lld why=\"%s\"", (long long)ids[i], err);
		for (; i < n; i++)
			fwc_revoke_later(f, ids[i]);
	}
}
