/*
 * The ipfd control protocol: what the server accepts (exactly one well-formed
 * request per datagram) and how the client behaves against a scripted peer.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"

static struct ipc_req
good(int type)
{
	struct ipc_req r;

	memset(&r, 0, sizeof r);
	r.magic = IPC_MAGIC;
	r.version = IPC_VERSION;
	r.type = (uint16_t)type;
	r.id = 77;
	r.right_id = 5;
	r.service_id = 0;
	return r;
}

Test(ipc, accepts_each_well_formed_request)
{
	int types[] = { IPC_ADMIT, IPC_REVOKE, IPC_SYNC, IPC_STATUS };
	struct ipc_req in, out;
	char why[96];
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		in = good(types[i]);
		memset(&out, 0, sizeof out);
		cr_assert_eq(ipc_req_check(&in, sizeof in, &out, why, sizeof why), 0, "type %d: %s", types[i], why);
		cr_assert_eq(memcmp(&in, &out, sizeof in), 0);
	}
}

struct bad_case {
	char name[40];
	int  len_delta;      /* added to sizeof(struct ipc_req) */
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	int64_t right_id;
	int64_t service_id;
};

ParameterizedTestParameters(ipc, refuses_malformed_requests)
{
	static struct bad_case cases[] = {
		{ "empty", -32, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "truncated", -1, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "header only", -24, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "one byte too long", 1, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "huge", 65536, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "wrong magic", 0, 0x48534b53u, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "zero magic", 0, 0, IPC_VERSION, IPC_ADMIT, 1, 0 },
		{ "old version", 0, IPC_MAGIC, 0, IPC_ADMIT, 1, 0 },
		{ "future version", 0, IPC_MAGIC, IPC_VERSION + 1, IPC_ADMIT, 1, 0 },
		{ "type zero", 0, IPC_MAGIC, IPC_VERSION, 0, 1, 0 },
		{ "type max", 0, IPC_MAGIC, IPC_VERSION, IPC_TYPE_MAX, 1, 0 },
		{ "type huge", 0, IPC_MAGIC, IPC_VERSION, 0xffff, 1, 0 },
		{ "admit right zero", 0, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, 0, 0 },
		{ "admit right negative", 0, IPC_MAGIC, IPC_VERSION, IPC_ADMIT, -3, 0 },
		{ "revoke right zero", 0, IPC_MAGIC, IPC_VERSION, IPC_REVOKE, 0, 0 },
		{ "sync service negative", 0, IPC_MAGIC, IPC_VERSION, IPC_SYNC, 0, -1 },
	};
	return cr_make_param_array(struct bad_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_case *c, ipc, refuses_malformed_requests)
{
	static char buf[sizeof(struct ipc_req) + 65536];
	struct ipc_req r, out;
	char why[96] = "";
	size_t len = (size_t)((int)sizeof r + c->len_delta);

	r = good(IPC_ADMIT);
	r.magic = c->magic;
	r.version = c->version;
	r.type = c->type;
	r.right_id = c->right_id;
	r.service_id = c->service_id;
	memset(buf, 0, sizeof buf);
	memcpy(buf, &r, sizeof r);
	cr_assert_eq(ipc_req_check(buf, len, &out, why, sizeof why), -1, "%s accepted", c->name);
	cr_assert_neq(why[0], '\0', "%s: no reason given", c->name);
}

Test(ipc, reply_echoes_the_request_and_bounds_the_message)
{
	struct ipc_req r = good(IPC_ADMIT);
	struct ipc_rep rep;
	char longmsg[300];

	memset(longmsg, 'x', sizeof longmsg - 1);
	longmsg[sizeof longmsg - 1] = '\0';
	ipc_rep_init(&rep, &r, IPC_ECAP, longmsg);
	cr_assert_eq(rep.magic, IPC_MAGIC);
	cr_assert_eq(rep.version, IPC_VERSION);
	cr_assert_eq(rep.id, 77);
	cr_assert_eq(rep.status, IPC_ECAP);
	cr_assert_eq(strlen(rep.msg), sizeof rep.msg - 1);
	ipc_rep_init(&rep, &r, IPC_OK, NULL);
	cr_assert_str_eq(rep.msg, "");
}

Test(ipc, every_status_has_its_own_words)
{
	int s, t;

	for (s = IPC_OK; s <= IPC_EKERNEL; s++)
		for (t = s + 1; t <= IPC_EKERNEL; t++)
			cr_assert_str_neq(ipc_status_str(s), ipc_status_str(t));
	cr_assert_str_eq(ipc_status_str(999), "unknown status");
}

/* A scripted ipfd: answers each request according to mode. */
enum mode { ANSWER, SILENT, STALE_FIRST, GARBAGE, CLOSE };

struct peer {
	char path[108];
	int  lfd;
	enum mode mode;
	pthread_t th;
	struct ipc_req seen;
};

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	struct ipc_rep rep;
	int fd = accept(p->lfd, NULL, NULL);

	if (fd == -1 || recv(fd, &p->seen, sizeof p->seen, 0) != (ssize_t)sizeof p->seen)
		return NULL;
	switch (p->mode) {
	case ANSWER:
		ipc_rep_init(&rep, &p->seen, IPC_ENOTLIVE, "not live");
		send(fd, &rep, sizeof rep, 0);
		break;
	case STALE_FIRST:
		p->seen.id--;
		ipc_rep_init(&rep, &p->seen, IPC_EKERNEL, "stale");
		send(fd, &rep, sizeof rep, 0);
		p->seen.id++;
		ipc_rep_init(&rep, &p->seen, IPC_OK, NULL);
		send(fd, &rep, sizeof rep, 0);
		break;
	case GARBAGE:
		send(fd, "hello", 5, 0);
		break;
	case CLOSE:
		break;
	case SILENT:
		sleep(1);
		break;
	}
	close(fd);
	return NULL;
}

static void
peer_start(struct peer *p, enum mode mode)
{
	struct sockaddr_un sun;

	memset(p, 0, sizeof *p);
	p->mode = mode;
	snprintf(p->path, sizeof p->path, "/tmp/sekisho-test-ipc-%d.sock", (int)getpid());
	unlink(p->path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, p->path, strlen(p->path) + 1);
	p->lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_neq(p->lfd, -1);
	cr_assert_eq(bind(p->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	cr_assert_eq(listen(p->lfd, 4), 0);
	cr_assert_eq(pthread_create(&p->th, NULL, peer_main, p), 0);
}

static void
peer_stop(struct peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
	unlink(p->path);
}

static int
call(struct peer *p, int timeout_ms, struct ipc_rep *rep, char *err, size_t errlen)
{
	struct ipc_client *c = ipc_connect(p->path, timeout_ms, err, errlen);
	int rc;

	cr_assert_not_null(c, "%s", err);
	rc = ipc_call(c, IPC_ADMIT, 42, 0, rep, err, errlen);
	ipc_close(c);
	return rc;
}

Test(ipc_client, sends_a_well_formed_request_and_returns_the_reply)
{
	struct peer p;
	struct ipc_rep rep;
	char err[128], why[96];
	struct ipc_req chk;

	peer_start(&p, ANSWER);
	cr_assert_eq(call(&p, 2000, &rep, err, sizeof err), 0, "%s", err);
	peer_stop(&p);
	cr_assert_eq(ipc_req_check(&p.seen, sizeof p.seen, &chk, why, sizeof why), 0, "%s", why);
	cr_assert_eq(p.seen.type, IPC_ADMIT);
	cr_assert_eq(p.seen.right_id, 42);
	cr_assert_eq(rep.status, IPC_ENOTLIVE);
	cr_assert_str_eq(rep.msg, "not live");
}

Test(ipc_client, skips_a_stale_reply_of_an_earlier_call)
{
	struct peer p;
	struct ipc_rep rep;
	char err[128];

	peer_start(&p, STALE_FIRST);
	cr_assert_eq(call(&p, 2000, &rep, err, sizeof err), 0, "%s", err);
	peer_stop(&p);
	cr_assert_eq(rep.status, IPC_OK);
}

Test(ipc_client, gives_up_when_ipfd_does_not_answer_in_time)
{
	struct peer p;
	struct ipc_rep rep;
	struct timespec a, b;
	char err[128];
	long ms;

	peer_start(&p, SILENT);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert_eq(call(&p, 200, &rep, err, sizeof err), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	peer_stop(&p);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	cr_assert_geq(ms, 190);
	cr_assert_lt(ms, 900);
	cr_assert_str_eq(err, "ipfd: no answer in time");
}

Test(ipc_client, refuses_a_malformed_reply)
{
	struct peer p;
	struct ipc_rep rep;
	char err[128];

	peer_start(&p, GARBAGE);
	cr_assert_eq(call(&p, 2000, &rep, err, sizeof err), -1);
	peer_stop(&p);
	cr_assert_str_eq(err, "ipfd: malformed reply (5 bytes)");
}

Test(ipc_client, reports_a_closed_connection)
{
	struct peer p;
	struct ipc_rep rep;
	char err[128];

	peer_start(&p, CLOSE);
	cr_assert_eq(call(&p, 2000, &rep, err, sizeof err), -1);
	peer_stop(&p);
	cr_assert_str_eq(err, "ipfd: closed the connection");
}

Test(ipc_client, connect_to_a_missing_socket_fails_with_the_path)
{
	char err[160];

	cr_assert_null(ipc_connect("/nonexistent/ipfd.sock", 100, err, sizeof err));
	cr_assert(strstr(err, "/nonexistent/ipfd.sock") != NULL, "%s", err);
}
