/*
 * The admission sequence (authd/admit.c) against a scripted ipfd peer on a
 * real SOCK_SEQPACKET socket: the peer plays a concurrent login of the same
 * account, which replaces the right being admitted, at the moment ipfd is
 * asked to confirm it. The store is real.
 */

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../authd/authd.h"
#include "fixture.h"
#include "ipc.h"
#include "log.h"

#define T0 1700000000LL

enum peer_mode {
	PEER_REPLACE_THEN_NOTLIVE,   /* the other login wins before ipfd reads the right */
	PEER_REPLACE_THEN_OK,        /* ipfd confirms, the other login wins before the code */
	PEER_NOTLIVE,                /* a genuine refusal, nobody replaced anything */
};

static struct fx fx;
static struct store *st;
static struct store_user user;
static struct store_service svc;
static char sock_path[FX_PATH_MAX];
static int listen_fd = -1;
static enum peer_mode mode;
static pthread_t acceptor;

/* The other login of the same account, on its own connection. */
static void
concurrent_login(void)
{
	struct store *other = fx_open(&fx);
	struct store_admission a;
	struct addr ip = fx_ip("10.0.1.3");

	cr_assert_eq(store_admit(other, user.id, svc.id, &ip, T0 + 1, &a), STORE_OK);
	cr_assert(a.replaced, "the other login replaced the right being admitted");
	store_close(other);
}

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[512];
	struct ipc_req req;
	struct ipc_rep rep;
	char why[128];
	ssize_t n;
	int status;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		if (ipc_req_check(buf, (size_t)n, &req, why, sizeof why) == -1)
			break;
		status = IPC_OK;
		if (req.type == IPC_ADMIT) {
			if (mode != PEER_NOTLIVE)
				concurrent_login();
			if (mode != PEER_REPLACE_THEN_OK)
				status = IPC_ENOTLIVE;
		}
		ipc_rep_init(&rep, &req, status, status == IPC_OK ? "" : "right is not live");
		if (send(fd, &rep, sizeof rep, 0) != (ssize_t)sizeof rep)
			break;
	}
	close(fd);
	return NULL;
}

static void *
accept_loop(void *arg)
{
	pthread_t t;
	int fd;

	(void)arg;
	while ((fd = accept(listen_fd, NULL, NULL)) >= 0) {
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

static void
setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	log_set_level(LOG_ERR);
	fx_init(&fx);
	st = fx_open(&fx);
	fx_user(st, "alice", ROLE_USER);
	cr_assert_eq(store_user_get(st, "alice", &user), STORE_OK);
	cr_assert_eq(store_service_get_id(st, fx_service(st, "lab", 5, 60, 10,
	                                                 fx_user(st, "admin", ROLE_ADMIN)), &svc),
	             STORE_OK);
	fx_path(&fx, "ipfd.sock", sock_path, sizeof sock_path);
	cr_assert_lt(strlen(sock_path), sizeof sa.sun_path, "socket path too long");
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	cr_assert_geq(listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0), 0);
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(listen_fd, 8), 0);
	cr_assert_eq(pthread_create(&acceptor, NULL, accept_loop, NULL), 0);
}

static void
teardown(void)
{
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(acceptor, NULL);
	store_close(st);
	fx_cleanup(&fx);
}

TestSuite(admit, .init = setup, .fini = teardown);

static void
run(struct admit_out *out)
{
	struct fwc *fw = fwc_new(sock_path, 2000, 1);
	struct admit_in in = { &user, &svc, fx_ip("10.0.1.2"), T0, 30, NULL };

	cr_assert_not_null(fw);
	admit_run(st, fw, &in, out);
	fwc_free(fw);
}

static int
end_reason_of(int64_t id)
{
	struct store_right r;

	cr_assert_eq(store_right_get(st, id, &r), STORE_OK);
	return r.end_reason;
}

Test(admit, a_right_replaced_before_ipfd_confirms_is_not_a_firewall_failure)
{
	struct admit_out out;

	mode = PEER_REPLACE_THEN_NOTLIVE;
	run(&out);
	cr_assert_eq(out.outcome, ADMIT_REPLACED, "outcome %s: %s", admit_outcome_str(out.outcome),
	             out.why);
	cr_assert_eq(end_reason_of(out.adm.right.id), END_REPLACED, "not rolled back over it");
}

Test(admit, a_right_replaced_before_its_code_is_stored_is_not_a_store_failure)
{
	struct admit_out out;

	mode = PEER_REPLACE_THEN_OK;
	run(&out);
	cr_assert_eq(out.outcome, ADMIT_REPLACED, "outcome %s: %s", admit_outcome_str(out.outcome),
	             out.why);
	cr_assert_eq(end_reason_of(out.adm.right.id), END_REPLACED);
}

Test(admit, a_genuine_refusal_by_ipfd_still_fails_closed)
{
	struct admit_out out;

	mode = PEER_NOTLIVE;
	run(&out);
	cr_assert_eq(out.outcome, ADMIT_FW_DOWN, "outcome %s", admit_outcome_str(out.outcome));
	cr_assert_eq(end_reason_of(out.adm.right.id), END_ROLLBACK);
}
