#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"

_Static_assert(sizeof(struct ipc_req) == 32, "ipc_req has no padding");
_Static_assert(sizeof(struct ipc_rep) == 200, "ipc_rep has no padding");

struct ipc_client {
	int fd;
	int timeout_ms;
	uint64_t next_id;
};

const char *
ipc_status_str(int status)
{
	switch (status) {
	case IPC_OK:       return "ok";
	case IPC_EINVAL:   return "invalid request";
	case IPC_ENOTLIVE: return "right not live";
	case IPC_ECAP:     return "cap reached";
	case IPC_ESTORE:   return "store unavailable";
	case IPC_EKERNEL:  return "kernel refused the batch";
	default:           return "unknown status";
	}
}

/* Waits until fd is ready for events or deadline (monotonic ms) passes. 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - clock_mono_ms();
		if (left < 0)
			left = 0;
		n = poll(&p, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		if (p.revents & (POLLERR | POLLNVAL))
			return -1;
		return 1;
	}
}

struct ipc_client *
ipc_connect(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct ipc_client *c;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	c->next_id = 1;
	return c;
}

void
ipc_close(struct ipc_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static int
send_req(struct ipc_client *c, const struct ipc_req *req, int64_t deadline,
         char *err, size_t errlen)
{
	ssize_t n;
	int w;

	for (;;) {
		n = send(c->fd, req, sizeof *req, MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof *req)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if ((w = wait_fd(c->fd, POLLOUT, deadline)) == 1)
				continue;
			snprintf(err, errlen, "ipfd: %s", w == 0 ? "send timed out" : "connection broken");
			return -1;
		}
		snprintf(err, errlen, "ipfd: send: %s", n == -1 ? strerror(errno) : "short write");
		return -1;
	}
}

/* Reads replies until the one for id arrives; stale replies of earlier timed-out calls are skipped. */
static int
recv_rep(struct ipc_client *c, uint64_t id, struct ipc_rep *rep, int64_t deadline,
         char *err, size_t errlen)
{
	ssize_t n;
	int w;

	for (;;) {
		/* The answer is never there at once: wait first, then read. */
		if ((w = wait_fd(c->fd, POLLIN, deadline)) != 1) {
			snprintf(err, errlen, "ipfd: %s", w == 0 ? "no answer in time" : "connection broken");
			return -1;
		}
		n = recv(c->fd, rep, sizeof *rep, MSG_TRUNC);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "ipfd: %s", n == 0 ? "closed the connection" : strerror(errno));
			return -1;
		}
		if (n != (ssize_t)sizeof *rep || rep->magic != IPC_MAGIC || rep->version != IPC_VERSION) {
			snprintf(err, errlen, "ipfd: malformed reply (%zd bytes)", n);
			return -1;
		}
		if (rep->id == id) {
			rep->msg[sizeof rep->msg - 1] = '\0';
			return 0;
		}
		if (rep->id > id) {
			snprintf(err, errlen, "ipfd: reply out of order");
			return -1;
		}
	}
}

int
ipc_call(struct ipc_client *c, int type, int64_t right_id, int64_t service_id,
         struct ipc_rep *rep, char *err, size_t errlen)
{
	struct ipc_req req;
	int64_t deadline = clock_mono_ms() + c->timeout_ms;

	memset(&req, 0, sizeof req);
	req.magic = IPC_MAGIC;
	req.version = IPC_VERSION;
	req.type = (uint16_t)type;
	req.id = c->next_id++;
	req.right_id = right_id;
	req.service_id = service_id;
	if (send_req(c, &req, deadline, err, errlen) == -1)
		return -1;
	return recv_rep(c, req.id, rep, deadline, err, errlen);
}

int
ipc_req_check(const void *buf, size_t len, struct ipc_req *req, char *why, size_t whylen)
{
	if (len != sizeof *req) {
		snprintf(why, whylen, "size %zu, want %zu", len, sizeof *req);
		return -1;
	}
	memcpy(req, buf, sizeof *req);
	if (req->magic != IPC_MAGIC) {
		snprintf(why, whylen, "bad magic 0x%08x", (unsigned)req->magic);
		return -1;
	}
	if (req->version != IPC_VERSION) {
		snprintf(why, whylen, "version %u, want %u", (unsigned)req->version, IPC_VERSION);
		return -1;
	}
	switch (req->type) {
	case IPC_ADMIT:
	case IPC_REVOKE:
		if (req->right_id <= 0) {
			snprintf(why, whylen, "right_id %lld out of range", (long long)req->right_id);
			return -1;
		}
		return 0;
	case IPC_SYNC:
		if (req->service_id < 0) {
			snprintf(why, whylen, "service_id %lld out of range", (long long)req->service_id);
			return -1;
		}
		return 0;
	case IPC_STATUS:
		return 0;
	default:
		snprintf(why, whylen, "unknown type %u", (unsigned)req->type);
		return -1;
	}
}

void
ipc_rep_init(struct ipc_rep *rep, const struct ipc_req *req, int status, const char *msg)
{
	memset(rep, 0, sizeof *rep);
	rep->magic = IPC_MAGIC;
	rep->version = IPC_VERSION;
	rep->status = (uint16_t)status;
	rep->id = req != NULL ? req->id : 0;
	if (msg != NULL)
		snprintf(rep->msg, sizeof rep->msg, "%s", msg);
}
