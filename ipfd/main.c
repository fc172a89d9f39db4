/*
 * ipfd: the only sekisho process with CAP_NET_ADMIN. Start-up checks the
 * config, opens the store and the netlink socket, rebuilds the table from the
 * store and only then listens. One poll() loop serves the control socket,
 * gathers requests for batch_window_us, and resyncs every sync_interval_s
 * and whenever another process changes our table (the kernel's events).
 * With PostgreSQL it also follows the change log (follow.c), woken by the
 * store's notifications, for what other gateways change.
 * On exit the table stays: the sets keep their elements with their timeouts,
 * and with ipfd down nobody new gets in (fail closed).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "ipfd.h"
#include "log.h"

static void
schedule_sync(struct ipfd *d, int ok)
{
	int s = ok ? d->conf.ipfd.sync_interval_s : IPFD_RETRY_SYNC_S;

	d->next_sync = clock_mono_us() + (int64_t)s * 1000000;
}

static void
periodic_sync(struct ipfd *d, const char *why)
{
	char err[256];
	int st, rc;

	rc = sync_all(d, &st, err, sizeof err);
	if (rc == -1)
		log_err("event=sync scope=all reason=%s status=%s error=\"%s\" effect=retry_in_%ds",
		        why, ipc_status_str(st), err, IPFD_RETRY_SYNC_S);
	schedule_sync(d, rc == 0);
}

/* SIGHUP: re-read the config; hook, timing and log level apply now, the rest at a restart. */
static void
reload(struct ipfd *d)
{
	struct conf c;

	if (daemon_reread(CONF_IPFD, &d->conf, &c) == -1)
		return;
	d->conf.ipfd.hook = c.ipfd.hook;
	d->conf.ipfd.sync_interval_s = c.ipfd.sync_interval_s;
	d->conf.ipfd.batch_window_us = c.ipfd.batch_window_us;
	/* The captive redirect: which services, their HTTP port, where the responder is. */
	memcpy(d->conf.ipfd.captive, c.ipfd.captive, sizeof d->conf.ipfd.captive);
	d->conf.ipfd.captive_port = c.ipfd.captive_port;
	memcpy(d->conf.cid.captive_listen, c.cid.captive_listen, sizeof d->conf.cid.captive_listen);
	d->conf.log_level = c.log_level;
	log_set_level(c.log_level);
	log_info("event=reload result=ok file=%s", d->conf.file);
}

/* What -n can check besides the file itself: the group exists and the socket path fits. */
static int
check_conf(const struct conf *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;

	if (getgrnam(c->ipfd.group) == NULL) {
		snprintf(err, errlen, "ipfd.group \"%s\": no such group", c->ipfd.group);
		return -1;
	}
	if (c->ipfd.socket[0] == '\0' || strlen(c->ipfd.socket) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "ipfd.socket: path empty or longer than %zu bytes",
		         sizeof sun.sun_path - 1);
		return -1;
	}
	return 0;
}

static void
start(struct ipfd *d)
{
	char err[512];
	int st;

	d->listen_fd = -1;
	d->stats.started = clock_wall_ms() / 1000;
	if ((d->store = store_open(&d->conf.db, STORE_OPEN_READONLY, err, sizeof err)) == NULL)
		fatal("store: %s", err);
	if ((d->nft = nft_open(1, err, sizeof err)) == NULL)
		fatal("%s", err);
	/* Before the first sync, so no change made after it goes unseen. */
	if (nft_watch_open(d->nft, err, sizeof err) == -1)
		log_err("event=watch result=failed error=\"%s\" effect=\"changes to the table by others are "
		        "repaired only by the periodic sync\"", err);
	if (sync_all(d, &st, err, sizeof err) == -1)
		fatal("first sync (%s): %s", ipc_status_str(st), err);
	schedule_sync(d, 1);
	/* After the first sync: the watcher's first round reads the log from its seq. */
	if (follow_start(d, err, sizeof err) == -1)
		fatal("%s", err);
	if (ctl_listen(d, err, sizeof err) == -1)
		fatal("%s", err);
	log_info("event=start socket=%s group=%s hook=%s services=%zu elements=%zu",
	         d->conf.ipfd.socket, d->conf.ipfd.group,
	         d->conf.ipfd.hook == CONF_HOOK_BOTH ? "both" : nft_hook_chain(d->conf.ipfd.hook),
	         d->mirror.n, mirror_elements(&d->mirror));
}

/*
 * Another process changed our table (nft flush ruleset, a firewall reload
 * that does): rebuild it from the store now rather than at the next sync.
 */
static void
table_watch(struct ipfd *d)
{
	char err[256];
	int missed = nft_watch_missed(d->nft), intact = 1;
	int rc = nft_watch_read(d->nft, err, sizeof err);

	if (rc == -1)
		log_err("event=watch result=failed error=\"%s\" effect=\"changes to the table by others are "
		        "repaired only by the periodic sync\"", err);
	/* Another commit ran while we were not listening: rebuild only if our objects are gone. */
	if (rc != 1 && missed && (intact = sync_intact(d, err, sizeof err)) != 1)
		rc = 1;
	if (rc == 1) {
		log_warn("event=table_changed by=another_process effect=sync%s",
		         intact == 1 ? "" : " seen=after_a_large_commit");
		d->stats.watch_repairs++;
		periodic_sync(d, "table_changed");
	}
}

/* Fills fds: the listener, the table's events, the log's wake-ups, then readable clients. Returns the count. */
static nfds_t
poll_set(struct ipfd *d, struct pollfd *fds, int *slot_of)
{
	nfds_t n = 0;
	int i;

	fds[n].fd = d->listen_fd;
	fds[n++].events = POLLIN;
	fds[n].fd = nft_watch_fd(d->nft);    /* -1: poll skips it */
	fds[n++].events = POLLIN;
	fds[n].fd = follow_fd(d);
	fds[n++].events = POLLIN;
	for (i = 0; i < IPFD_CLIENTS_MAX; i++) {
		if (d->clients[i].fd == -1)
			continue;
		fds[n].fd = d->clients[i].fd;
		/* A full queue or a client with too much in flight waits for the next round. */
		fds[n].events = d->nqueue < IPFD_QUEUE_MAX &&
		                d->clients[i].inflight < IPFD_CLIENT_INFLIGHT ? POLLIN : 0;
		slot_of[n++] = i;
	}
	return n;
}

/* Microseconds until the next thing to do: the end of the batch window or the next sync. */
static int64_t
wait_us(const struct ipfd *d, int64_t batch_deadline)
{
	int64_t now = clock_mono_us(), until = d->next_sync;

	if (nft_watch_pending(d->nft))
		return 0;
	if (d->nqueue > 0 && batch_deadline < until)
		until = batch_deadline;
	return until > now ? until - now : 0;
}

static void
serve(struct ipfd *d, const sigset_t *waitmask)
{
	struct pollfd fds[IPFD_CLIENTS_MAX + 3];
	int slot_of[IPFD_CLIENTS_MAX + 3];
	int64_t batch_deadline = 0, us;
	struct timespec ts;
	size_t before;
	nfds_t n, i;

	while (!daemon_stop) {
		if (daemon_reload) {
			daemon_reload = 0;
			reload(d);
			periodic_sync(d, "sighup");
		}
		n = poll_set(d, fds, slot_of);
		us = wait_us(d, batch_deadline);
		ts.tv_sec = us / 1000000;
		ts.tv_nsec = (us % 1000000) * 1000;
		if (ppoll(fds, n, &ts, waitmask) == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		before = d->nqueue;
		if (fds[0].revents & POLLIN)
			ctl_accept(d);
		if ((fds[1].revents & (POLLIN | POLLERR)) || nft_watch_pending(d->nft))
			table_watch(d);
		if (fds[2].revents & POLLIN)
			follow_log(d);
		for (i = 3; i < n; i++)
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				ctl_read(d, slot_of[i]);
		if (before == 0 && d->nqueue > 0)
			batch_deadline = clock_mono_us() + d->conf.ipfd.batch_window_us;
		if (d->nqueue > 0 && (clock_mono_us() >= batch_deadline || d->nqueue == IPFD_QUEUE_MAX))
			ops_run(d);
		if (clock_mono_us() >= d->next_sync)
			periodic_sync(d, "timer");
	}
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	sigset_t waitmask;
	struct ipfd *d;

	if ((d = calloc(1, sizeof *d)) == NULL)
		return 1;
	daemon_start_check("ipfd", argc, argv, &o, &d->conf, check_conf);
	daemon_signals(&waitmask);
	start(d);
	serve(d, &waitmask);
	log_info("event=stop table=kept services=%zu elements=%zu",
	         d->mirror.n, mirror_elements(&d->mirror));
	follow_stop(d);
	ctl_close(d);
	nft_close(d->nft);
	store_close(d->store);
	mirror_free(&d->mirror);
	free(d);
	return 0;
}
