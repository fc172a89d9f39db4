#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

struct addr_case {
	char in[64];
	int ok;
	char canon[64];
};

ParameterizedTestParameters(addr, parses_literals_strictly_and_prints_canonically)
{
	static struct addr_case cases[] = {
		{ "10.0.0.5", 1, "10.0.0.5" },
		{ "0.0.0.0", 1, "0.0.0.0" },
		{ "255.255.255.255", 1, "255.255.255.255" },
		{ "2001:DB8:0:0:0:0:0:1", 1, "2001:db8::1" },
		{ "2001:db8::1", 1, "2001:db8::1" },
		{ "::", 1, "::" },
		{ "::ffff:10.0.0.7", 1, "10.0.0.7" },
		{ "", 0, "" },
		{ "10.0.0", 0, "" },
		{ "10.0.0.256", 0, "" },
		{ "010.0.0.1", 0, "" },
		{ " 10.0.0.1", 0, "" },
		{ "10.0.0.1 ", 0, "" },
		{ "10.0.0.1:80", 0, "" },
		{ "[::1]", 0, "" },
		{ "fe80::1%eth0", 0, "" },
		{ "localhost", 0, "" },
		{ "2001:db8::1::2", 0, "" },
		{ "0x0a.0.0.1", 0, "" },
	};
	return cr_make_param_array(struct addr_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct addr_case *c, addr, parses_literals_strictly_and_prints_canonically)
{
	struct addr a;
	char buf[ADDR_STR_MAX];

	memset(&a, 0xaa, sizeof a);
	if (!c->ok) {
		cr_assert_eq(addr_parse(c->in, &a), -1, "accepted \"%s\"", c->in);
		return;
	}
	cr_assert_eq(addr_parse(c->in, &a), 0, "refused \"%s\"", c->in);
	cr_assert_str_eq(addr_str(&a, buf, sizeof buf), c->canon);
}

Test(addr, mapped_and_plain_ipv4_are_equal)
{
	struct addr a, b;
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &sin6.sin6_addr);
	cr_assert_eq(addr_from_sockaddr((struct sockaddr *)&sin6, &a), 0);
	cr_assert_eq(addr_parse("192.0.2.9", &b), 0);
	cr_assert_eq(a.family, AF_INET);
	cr_assert(addr_eq(&a, &b));
	cr_assert_eq(addr_len(&a), 4);
	cr_assert_eq(addr_parse("2001:db8::9", &b), 0);
	cr_assert_not(addr_eq(&a, &b));
	cr_assert_eq(addr_len(&b), 16);
}

Test(addr, other_socket_families_are_refused)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct addr a;

	cr_assert_eq(addr_from_sockaddr(&sa, &a), -1);
}

struct guard_case {
	char in[80];
	int ok;
	char canon[64];
	int port;
};

ParameterizedTestParameters(guard, parses_the_four_forms)
{
	static struct guard_case cases[] = {
		{ "10.0.0.5", 1, "10.0.0.5", 0 },
		{ "10.0.0.5:80", 1, "10.0.0.5:80", 80 },
		{ "[2001:db8::1]:443", 1, "[2001:db8::1]:443", 443 },
		{ "[2001:db8::1]", 1, "2001:db8::1", 0 },
		{ "2001:db8::1", 1, "2001:db8::1", 0 },
		{ "[2001:DB8:0::1]:65535", 1, "[2001:db8::1]:65535", 65535 },
		{ "10.0.0.5:0", 0, "", 0 },
		{ "10.0.0.5:65536", 0, "", 0 },
		{ "10.0.0.5:", 0, "", 0 },
		{ "10.0.0.5:-1", 0, "", 0 },
		{ "10.0.0.5:+80", 0, "", 0 },
		{ "10.0.0.5:80x", 0, "", 0 },
		{ "[10.0.0.5]:80", 0, "", 0 },
		{ "[2001:db8::1]:", 0, "", 0 },
		{ "[2001:db8::1]443", 0, "", 0 },
		{ "[2001:db8::1", 0, "", 0 },
		{ "host.example:80", 0, "", 0 },
		{ ":80", 0, "", 0 },
		{ "", 0, "", 0 },
		{ "10.0.0.5:80:90", 0, "", 0 },
	};
	return cr_make_param_array(struct guard_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct guard_case *c, guard, parses_the_four_forms)
{
	struct guard g;
	char buf[GUARD_STR_MAX], err[128] = "";

	if (!c->ok) {
		cr_assert_eq(guard_parse(c->in, &g, err, sizeof err), -1, "accepted \"%s\"", c->in);
		cr_assert_neq(err[0], '\0', "says why");
		return;
	}
	cr_assert_eq(guard_parse(c->in, &g, err, sizeof err), 0, "\"%s\": %s", c->in, err);
	cr_assert_eq(g.port, c->port);
	cr_assert_str_eq(guard_str(&g, buf, sizeof buf), c->canon);
}

Test(guard, refuses_overlong_input)
{
	char in[200], err[128];
	struct guard g;

	memset(in, '1', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	cr_assert_eq(guard_parse(in, &g, err, sizeof err), -1);
}

Test(addr, listen_addresses_need_a_port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	cr_assert_eq(addr_parse_listen("127.0.0.1:8080", &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
	cr_assert_eq(addr_parse_listen("[::]:443", &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(addr_parse_listen("127.0.0.1:0", &ss, &len), 0, "port 0 = any free port");
	cr_assert_eq(addr_parse_listen("127.0.0.1", &ss, &len), -1);
	cr_assert_eq(addr_parse_listen("::1", &ss, &len), -1);
	cr_assert_eq(addr_parse_listen("localhost:80", &ss, &len), -1);
	cr_assert_eq(addr_parse_listen("[127.0.0.1]:80", &ss, &len), -1);
	cr_assert_eq(addr_parse_listen("127.0.0.1:99999", &ss, &len), -1);
}

struct int_case {
	char in[32];
	long long min, max;
	int ok;
	long long want;
};

ParameterizedTestParameters(parse_int, accepts_only_whole_decimal_integers_in_range)
{
	static struct int_case cases[] = {
		{ "0", 0, 10, 1, 0 },
		{ "10", 0, 10, 1, 10 },
		{ "-5", -10, 10, 1, -5 },
		{ "007", 0, 10, 1, 7 },
		{ "9223372036854775807", 0, 9223372036854775807LL, 1, 9223372036854775807LL },
		{ "11", 0, 10, 0, 0 },
		{ "-1", 0, 10, 0, 0 },
		{ "", 0, 10, 0, 0 },
		{ "-", -10, 10, 0, 0 },
		{ " 5", 0, 10, 0, 0 },
		{ "5 ", 0, 10, 0, 0 },
		{ "+5", 0, 10, 0, 0 },
		{ "5x", 0, 10, 0, 0 },
		{ "0x5", 0, 10, 0, 0 },
		{ "1e3", 0, 10000, 0, 0 },
		{ "5.0", 0, 10, 0, 0 },
		{ "9223372036854775808", 0, 9223372036854775807LL, 0, 0 },
		{ "-9223372036854775809", -9223372036854775807LL - 1, 0, 0, 0 },
		{ "--5", -10, 10, 0, 0 },
	};
	return cr_make_param_array(struct int_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct int_case *c, parse_int, accepts_only_whole_decimal_integers_in_range)
{
	long long v = 4242;

	if (!c->ok) {
		cr_assert_eq(parse_int(c->in, c->min, c->max, &v), -1, "accepted \"%s\"", c->in);
		cr_assert_eq(v, 4242, "out untouched");
		return;
	}
	cr_assert_eq(parse_int(c->in, c->min, c->max, &v), 0, "refused \"%s\"", c->in);
	cr_assert_eq(v, c->want);
}

struct url_case {
	char in[80];
	int ok;
};

ParameterizedTestParameters(url, accepts_http_and_https_with_a_host)
{
	static struct url_case cases[] = {
		{ "http://app.example/", 1 },
		{ "https://app.example:8443/x?y=1#z", 1 },
		{ "http://10.0.0.5", 1 },
		{ "http://[2001:db8::5]:8080/", 1 },
		{ "ftp://app.example/", 0 },
		{ "HTTP://app.example/", 0 },
		{ "http://", 0 },
		{ "http:///path", 0 },
		{ "http://user@app.example/", 0 },
		{ "http://app.example/a b", 0 },
		{ "http://app.example/\x01", 0 },
		{ "javascript:alert(1)", 0 },
		{ "", 0 },
	};
	return cr_make_param_array(struct url_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct url_case *c, url, accepts_http_and_https_with_a_host)
{
	char err[128];

	cr_assert_eq(url_valid(c->in, err, sizeof err), c->ok ? 0 : -1, "\"%s\"", c->in);
}

Test(url, refuses_urls_longer_than_the_store_holds)
{
	char u[URL_STR_MAX + 10], err[128];

	memset(u, 'a', sizeof u - 1);
	memcpy(u, "http://x/", 9);
	u[URL_STR_MAX - 1] = '\0';
	cr_assert_eq(url_valid(u, err, sizeof err), 0, "%s", err);
	u[URL_STR_MAX - 1] = 'a';
	u[URL_STR_MAX] = '\0';
	cr_assert_eq(url_valid(u, err, sizeof err), -1);
}

Test(addr, lists_are_parsed_strictly)
{
	struct addr l[2];
	char buf[ADDR_STR_MAX];
	int n;

	cr_assert_eq(addr_parse_list("", l, 2, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(addr_parse_list(" 10.0.0.1,\t::1 ", l, 2, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(addr_str(&l[1], buf, sizeof buf), "::1");
	cr_assert(addr_in(&l[1], l, 2) && !addr_in(&l[1], l, 1));
	cr_assert_eq(addr_parse_list("10.0.0.1,10.0.0.2,10.0.0.3", l, 2, &n), -1, "too many");
	cr_assert_eq(addr_parse_list("10.0.0.1,", l, 2, &n), -1, "empty last entry");
	cr_assert_eq(addr_parse_list(",10.0.0.1", l, 2, &n), -1, "empty first entry");
	cr_assert_eq(addr_parse_list("10.0.0.0/8", l, 2, &n), -1);
	cr_assert_eq(addr_parse_list("proxy.example", l, 2, &n), -1);
}
