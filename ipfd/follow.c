/*
 * The change log, for what other gateways change. A local authd tells ipfd
 * about its own admissions and revocations over the control socket; with
 * several gateways on one PostgreSQL, a revocation made on gateway A must
 * also close gateway B's firewall. The watcher thread (feedwatch.c) wakes the
 * poll loop through a pipe when a commit may have grown the log; follow_log
 * then reads the log from d->seq and refills each service it names from the
 * store (sync_service: the set is flushed and refilled in one batch, so the
 * kernel ends up holding exactly what the store holds). A gap in the log
 * (pruned) or a reconnect (maybe to a promoted standby) means a full sync.
 * A change is only a pointer to what to re-read: replaying one twice does no
 * harm, and sync_all's snapshot sets d->seq, so nothing between is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipfd.h"
#include "log.h"

#define FOLLOW_BATCH    512   /* changes read per query */
#define FOLLOW_READS    64    /* queries read before the named services are refilled */
#define FOLLOW_SERVICES 32    /* more distinct services in one batch: one full sync instead */
#define FOLLOW_RETRY_US 1000000   /* a failed read of the log: a full sync this soon */

struct named {
	int64_t ids[FOLLOW_SERVICES];
	int n, too_many, gap;
	int64_t next, last;       /* the seq expected next; the last one read */
};

static int
take(const struct store_change *ch, void *arg)
{
	struct named *a = arg;
	int i;

	if (ch->seq != a->next)
		a->gap = 1;
	a->next = ch->seq + 1;
	a->last = ch->seq;
	if (ch->service_id <= 0 || a->too_many)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->ids[i] == ch->service_id)
			return 0;
	if (a->n == FOLLOW_SERVICES)
		a->too_many = 1;
	else
		a->ids[a->n++] = ch->service_id;
	return 0;
}

static int
full_sync(struct ipfd *d, const char *why)
{
	char err[256];
	int st;

	if (sync_all(d, &st, err, sizeof err) == 0)
		return 0;
	log_err("event=sync scope=all reason=%s status=%s error=\"%s\" effect=\"retry at the next change or sync\"",
	        why, ipc_status_str(st), err);
	return -1;
}

/*
 * Reads up to FOLLOW_READS queries of the log from d->seq into a, stopping at
 * its end or as soon as a full sync is due: 1 when there may be more, 0 when
 * the log is exhausted, -1 on failure. A backlog (a follower back from a
 * pause) thus refills each service it names once, not once per query.
 */
static int
follow_read(struct ipfd *d, struct named *a)
{
	int64_t from = d->seq;

	memset(a, 0, sizeof *a);
	a->next = d->seq + 1;
	for (int k = 0; k < FOLLOW_READS && !a->gap && !a->too_many; k++) {
		if (store_changes(d->store, from, FOLLOW_BATCH, take, a) != STORE_OK) {
			log_err("event=follow result=failed error=\"%s\"", store_error(d->store));
			return -1;
		}
		if (a->last - from < FOLLOW_BATCH || a->last == 0)
			return 0;
		from = a->last;
	}
	return 1;
}

/* One read and its refills: 1 when there may be more, 0 at the log's end, -1 on failure. */
static int
follow_batch(struct ipfd *d)
{
	struct named a;
	char err[256];
	int st, i, more;

	if ((more = follow_read(d, &a)) == -1)
		return -1;
	if (store_epoch(d->store) != d->epoch)     /* reconnected while reading: maybe another server */
		return full_sync(d, "reconnected") == 0 ? 0 : -1;
	if (a.last == 0)
		return 0;
	if (a.gap || a.too_many) {
		if (a.gap)
			log_warn("event=change_gap after=%" PRId64 " effect=\"full sync\"", d->seq);
		return full_sync(d, a.gap ? "change_gap" : "many_services") == 0 ? 1 : -1;
	}
	for (i = 0; i < a.n; i++)
		if (sync_service(d, a.ids[i], &st, err, sizeof err) == -1) {
			log_err("event=sync scope=service service_id=%" PRId64 " status=%s error=\"%s\"",
			        a.ids[i], ipc_status_str(st), err);
			return -1;
		}
	if (d->seq < a.last)      /* a full sync inside sync_service may have moved it further */
		d->seq = a.last;
	return more;
}

/* A failed read spent the wake-up: a full sync within FOLLOW_RETRY_US reconnects and catches up. */
static void
retry_soon(struct ipfd *d)
{
	if (d->next_sync > clock_mono_us() + FOLLOW_RETRY_US)
		d->next_sync = clock_mono_us() + FOLLOW_RETRY_US;
}

void
follow_log(struct ipfd *d)
{
	char buf[64];
	int more;

	if (d->wake_fd[0] != -1)
		while (read(d->wake_fd[0], buf, sizeof buf) > 0)
			;
	if (store_epoch(d->store) != d->epoch) {
		if (full_sync(d, "reconnected") == -1)
			retry_soon(d);
		return;
	}
	do
		more = follow_batch(d);
	while (more == 1);
	/*
	 * Without a retry, changes committed before this wake-up would wait for
	 * the next one or for the periodic sync (then every IPFD_RETRY_SYNC_S
	 * while the store stays away).
	 */
	if (more == -1)
		retry_soon(d);
	log_debug("event=follow seq=%" PRId64, d->seq);   /* bench/gateways.sh: caught up to here */
}

/* feedwatch thread: a byte on the pipe; a full pipe already says it. */
static void
wake(void *arg)
{
	struct ipfd *d = arg;
	ssize_t r;

	do
		r = write(d->wake_fd[1], "", 1);
	while (r == -1 && errno == EINTR);
}

int
follow_start(struct ipfd *d, char *err, size_t errlen)
{
	d->wake_fd[0] = d->wake_fd[1] = -1;
	if (d->conf.db.url[0] == '\0')
		return 0;
	if (pipe2(d->wake_fd, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (feedwatch_start(&d->watch, &d->conf.db, wake, d) == -1) {
		snprintf(err, errlen, "cannot start the change-log watcher thread");
		return -1;
	}
	return 0;
}

int
follow_fd(const struct ipfd *d)
{
	return d->wake_fd[0];
}

void
follow_stop(struct ipfd *d)
{
	feedwatch_stop(&d->watch);
	for (int i = 0; i < 2; i++)
		if (d->wake_fd[i] != -1)
			close(d->wake_fd[i]);
	d->wake_fd[0] = d->wake_fd[1] = -1;
}
