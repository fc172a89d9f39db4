#include <criterion/criterion.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "conns.h"

/*
 * The connection table of a listener. The deadline is long (the reaper
 * thread never acts on its own here); passes are run with a time in the
 * future instead.
 */

#define DEADLINE_S 600

static struct conns *cs;
static struct addr a1, a2, proxy;

static void
setup(void)
{
	struct conns_opts o = { .name = "test", .per_addr = 2, .deadline_s = DEADLINE_S,
	                        .exempt = &proxy, .n_exempt = 1 };
	char err[128];

	cr_assert_eq(addr_parse("192.0.2.1", &a1), 0);
	cr_assert_eq(addr_parse("2001:db8::1", &a2), 0);
	cr_assert_eq(addr_parse("192.0.2.100", &proxy), 0);
	cs = conns_new(&o, err, sizeof err);
	cr_assert_not_null(cs, "%s", err);
}

static void
teardown(void)
{
	conns_free(cs);
}

TestSuite(conns, .init = setup, .fini = teardown);

Test(conns, refuses_past_the_per_address_limit)
{
	struct conn *c[3];
	int refused;

	c[0] = conns_open(cs, -1, &a1, &refused);
	c[1] = conns_open(cs, -1, &a1, &refused);
	cr_assert(c[0] != NULL && c[1] != NULL);
	c[2] = conns_open(cs, -1, &a1, &refused);
	cr_assert_null(c[2]);
	cr_assert_eq(refused, 1);
	cr_assert_eq(conns_count(cs, &a1), 2);
	conns_close(cs, c[0]);
	cr_assert_eq(conns_count(cs, &a1), 1);
	c[2] = conns_open(cs, -1, &a1, &refused);
	cr_assert_not_null(c[2], "a place freed is taken again");
	conns_close(cs, c[1]);
	conns_close(cs, c[2]);
	cr_assert_eq(conns_count(cs, &a1), 0);
}

Test(conns, other_addresses_are_not_affected)
{
	struct conn *c[3];
	int refused;

	c[0] = conns_open(cs, -1, &a1, &refused);
	c[1] = conns_open(cs, -1, &a1, &refused);
	c[2] = conns_open(cs, -1, &a2, &refused);
	cr_assert_not_null(c[2]);
	cr_assert_eq(conns_count(cs, &a2), 1);
	for (int i = 0; i < 3; i++)
		conns_close(cs, c[i]);
}

Test(conns, exempt_addresses_have_no_per_address_limit_and_no_deadline)
{
	struct conn *c[10];
	int refused;

	for (int i = 0; i < 10; i++) {
		c[i] = conns_open(cs, -1, &proxy, &refused);
		cr_assert_not_null(c[i]);
	}
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 0);
	for (int i = 0; i < 10; i++)
		conns_close(cs, c[i]);
}

Test(conns, an_overdue_request_is_shut_down_once)
{
	int sv[2], refused;
	struct conn *c;
	char ch;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = conns_open(cs, sv[0], &a1, &refused);
	cr_assert_not_null(c);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S - 1) * 1000LL), 0);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 1);
	cr_assert_eq(read(sv[1], &ch, 1), 0, "the peer sees the connection end");
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 2) * 1000LL), 0);
	conns_close(cs, c);
	close(sv[0]);
	close(sv[1]);
}

Test(conns, no_deadline_while_answering_and_a_new_one_after)
{
	int sv[2], refused;
	struct conn *c;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = conns_open(cs, sv[0], &a1, &refused);
	conns_answering(cs, c);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 0);
	conns_waiting(cs, c);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S - 1) * 1000LL), 0);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 1);
	conns_close(cs, c);
	close(sv[0]);
	close(sv[1]);
}

Test(conns, bad_options_are_refused)
{
	struct conns_opts o = { .name = "x", .per_addr = 0, .deadline_s = 1 };
	char err[128];

	cr_assert_null(conns_new(&o, err, sizeof err));
	o.per_addr = 1;
	o.deadline_s = 0;
	cr_assert_null(conns_new(&o, err, sizeof err));
}

/* The server behind (the request waits unread in our socket) is not the client's delay. */
Test(conns, a_request_waiting_unread_is_not_shut_down_until_read)
{
	int sv[2], refused;
	struct conn *c;
	char buf[16];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = conns_open(cs, sv[0], &a1, &refused);
	cr_assert_not_null(c);
	cr_assert_eq(write(sv[1], "GET / HTTP/1.1\r\n", 16), 16);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 0,
	             "bytes wait unread: the server is behind, not the client");
	cr_assert_eq(read(sv[0], buf, sizeof buf), 16);
	cr_assert_eq(conns_reap(cs, clock_mono_ms() + (DEADLINE_S + 1) * 1000LL), 1,
	             "read and still incomplete: the deadline holds");
	conns_close(cs, c);
	close(sv[0]);
	close(sv[1]);
}
