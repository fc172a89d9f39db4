/*
 * The control socket: AF_UNIX SOCK_SEQPACKET, mode 0660, group ipfd.group.
 * A peer must be root or a member of that group (checked on every accept).
 * Every datagram must be exactly one struct ipc_req; anything else is logged
 * and the connection closed before it can change anything.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipfd.h"
#include "log.h"

#define PEER_GROUPS_MAX 256

static int
sun_fill(struct sockaddr_un *sun, const char *path, char *err, size_t errlen)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof sun->sun_path) {
		snprintf(err, errlen, "ipfd.socket: bad path \"%s\"", path);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Removes a stale socket file; refuses when another ipfd answers there or the file is not a socket. */
static int
clear_path(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	int fd, live;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	live = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen, "%s: another ipfd is listening", sun->sun_path);
		return -1;
	}
	return unlink(sun->sun_path);
}

/*
 * Gives the socket the group, unless it has it already: in a set-group-ID
 * directory of that group (/run/sekisho) it does, and ipfd then needs no
 * chown(), which the unit's system call filter refuses.
 */
static int
give_group(const char *path, gid_t gid)
{
	struct stat sb;

	if (stat(path, &sb) == 0 && sb.st_gid == gid)
		return 0;
	return chown(path, (uid_t)-1, gid);
}

int
ctl_listen(struct ipfd *d, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct group *gr;
	mode_t old;
	int fd = -1, i;

	if ((gr = getgrnam(d->conf.ipfd.group)) == NULL) {
		snprintf(err, errlen, "ipfd.group \"%s\": no such group", d->conf.ipfd.group);
		return -1;
	}
	d->gid = gr->gr_gid;
	if (sun_fill(&sun, d->conf.ipfd.socket, err, errlen) == -1)
		return -1;
	err[0] = '\0';
	if (clear_path(&sun, err, errlen) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", sun.sun_path, strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	old = umask(0117);
	i = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (i == -1 || give_group(sun.sun_path, d->gid) == -1 ||
	    chmod(sun.sun_path, 0660) == -1 || listen(fd, IPFD_CLIENTS_MAX) == -1)
		goto fail;
	d->listen_fd = fd;
	for (i = 0; i < IPFD_CLIENTS_MAX; i++)
		d->clients[i].fd = -1;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", sun.sun_path, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

void
ctl_close(struct ipfd *d)
{
	int i;

	for (i = 0; i < IPFD_CLIENTS_MAX; i++)
		if (d->clients[i].fd != -1)
			ctl_drop(d, i);
	if (d->listen_fd != -1) {
		close(d->listen_fd);
		unlink(d->conf.ipfd.socket);
		d->listen_fd = -1;
	}
}

/* Root, the group as primary group, or the group among the user's supplementary groups. */
static int
peer_allowed(const struct ucred *cr, gid_t gid)
{
	struct passwd pw, *res = NULL;
	gid_t groups[PEER_GROUPS_MAX];
	char buf[4096];
	int n = PEER_GROUPS_MAX, i;

	if (cr->uid == 0 || cr->gid == gid)
		return 1;
	if (getpwuid_r(cr->uid, &pw, buf, sizeof buf, &res) != 0 || res == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

void
ctl_accept(struct ipfd *d)
{
	struct ucred cr;
	socklen_t len;
	int fd, i;

	while ((fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		len = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 || len != sizeof cr) {
			log_warn("event=ctl_refused reason=no_peercred error=\"%s\"", strerror(errno));
			close(fd);
			continue;
		}
		if (!peer_allowed(&cr, d->gid)) {
			log_warn("event=ctl_refused reason=peer uid=%u gid=%u pid=%d",
			         (unsigned)cr.uid, (unsigned)cr.gid, (int)cr.pid);
			close(fd);
			continue;
		}
		for (i = 0; i < IPFD_CLIENTS_MAX && d->clients[i].fd != -1; i++)
			;
		if (i == IPFD_CLIENTS_MAX) {
			log_warn("event=ctl_refused reason=too_many_clients uid=%u pid=%d",
			         (unsigned)cr.uid, (int)cr.pid);
			close(fd);
			continue;
		}
		d->clients[i].fd = fd;
		d->clients[i].uid = cr.uid;
		d->clients[i].pid = cr.pid;
		d->clients[i].inflight = 0;
		log_debug("event=ctl_connect uid=%u pid=%d", (unsigned)cr.uid, (int)cr.pid);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
		log_warn("event=ctl_accept error=\"%s\"", strerror(errno));
}

void
ctl_drop(struct ipfd *d, int slot)
{
	struct client *c = &d->clients[slot];

	if (c->fd == -1)
		return;
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->inflight = 0;
}

static void
refuse(struct ipfd *d, int slot, const char *why)
{
	char v[160];

	log_warn("event=ctl_garbage uid=%u pid=%d error=%s effect=close",
	         (unsigned)d->clients[slot].uid, (int)d->clients[slot].pid,
	         log_value(v, sizeof v, why));
	ctl_drop(d, slot);
}

void
ctl_read(struct ipfd *d, int slot)
{
	struct client *c = &d->clients[slot];
	struct pending *p;
	struct ipc_req req;
	char buf[sizeof(struct ipc_req)], why[96];
	ssize_t n;

	while (c->fd != -1 && d->nqueue < IPFD_QUEUE_MAX && c->inflight < IPFD_CLIENT_INFLIGHT) {
		/* MSG_TRUNC: n is the datagram's real length, so oversized ones are seen as such. */
		n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			ctl_drop(d, slot);
			return;
		}
		if (ipc_req_check(buf, (size_t)n, &req, why, sizeof why) == -1) {
			refuse(d, slot, why);
			return;
		}
		p = &d->queue[d->nqueue++];
		memset(p, 0, sizeof *p);
		p->slot = slot;
		p->gen = c->gen;
		p->req = req;
		c->inflight++;
	}
}

void
ctl_reply_all(struct ipfd *d)
{
	struct pending *p;
	struct client *c;
	size_t i;
	ssize_t n;

	for (i = 0; i < d->nqueue; i++) {
		p = &d->queue[i];
		c = &d->clients[p->slot];
		if (c->fd == -1 || c->gen != p->gen)
			continue;
		c->inflight--;
		log_debug("event=reply type=%u right_id=%" PRId64 " service_id=%" PRId64 " status=%s",
		          (unsigned)p->req.type, p->req.right_id, p->req.service_id,
		          ipc_status_str(p->rep.status));
		n = send(c->fd, &p->rep, sizeof p->rep, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != (ssize_t)sizeof p->rep) {
			log_warn("event=ctl_reply_failed uid=%u pid=%d error=\"%s\" effect=close",
			         (unsigned)c->uid, (int)c->pid, n == -1 ? strerror(errno) : "short");
			ctl_drop(d, p->slot);
		}
	}
	d->nqueue = 0;
}
