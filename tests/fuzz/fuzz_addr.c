#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "net.h"

/*
 * One text through every parser of addresses from outside: addr_parse
 * (X-Forwarded-For entries, trusted proxies), guard_parse (the admin form's
 * endpoints), addr_parse_listen (listen keys), url_valid (service URLs) and
 * net_parse (db.guard_forbid entries), plus parse_int. What a parser accepts prints canonically and parses again
 * to the same value.
 */

static void
check_addr(const char *s)
{
	struct addr a, b;
	char buf[ADDR_STR_MAX];

	if (addr_parse(s, &a) == -1)
		return;
	fuzz_assert(a.family == AF_INET || a.family == AF_INET6);
	if (a.family == AF_INET)
		for (int i = 4; i < 16; i++)
			fuzz_assert(a.bytes[i] == 0);
	addr_str(&a, buf, sizeof buf);
	fuzz_assert(addr_parse(buf, &b) == 0 && addr_eq(&a, &b));
}

static void
check_guard(const char *s)
{
	struct guard g, h;
	char buf[GUARD_STR_MAX], err[128];

	err[0] = '\0';
	if (guard_parse(s, &g, err, sizeof err) == -1) {
		fuzz_assert(err[0] != '\0');
		return;
	}
	fuzz_assert(strlen(s) < GUARD_STR_MAX);
	fuzz_assert(s[0] != '[' || g.addr.family == AF_INET6);
	guard_str(&g, buf, sizeof buf);
	fuzz_assert(guard_parse(buf, &h, err, sizeof err) == 0);
	fuzz_assert(addr_eq(&g.addr, &h.addr) && g.port == h.port);
}

/* An accepted listen address with a port other than 0 is also a guard of that address and port. */
static void
check_listen(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct addr a;
	struct guard g;
	char err[128];
	uint16_t port;

	if (addr_parse_listen(s, &ss, &len) == -1)
		return;
	fuzz_assert(addr_from_sockaddr((struct sockaddr *)&ss, &a) == 0);
	if (ss.ss_family == AF_INET) {
		fuzz_assert(len == sizeof(struct sockaddr_in));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		fuzz_assert(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (port == 0)
		return;
	fuzz_assert(guard_parse(s, &g, err, sizeof err) == 0);
	fuzz_assert(addr_eq(&g.addr, &a) && g.port == port);
}

/* An accepted URL: http(s), a host without userinfo, no space or control byte anywhere. */
static void
check_url(const char *s)
{
	char err[URL_STR_MAX + 128];
	size_t host, end;

	err[0] = '\0';
	if (url_valid(s, err, sizeof err) == -1) {
		fuzz_assert(err[0] != '\0');
		return;
	}
	fuzz_assert(strlen(s) < URL_STR_MAX);
	fuzz_assert(strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
	host = s[4] == 's' ? 8 : 7;
	end = host + strcspn(s + host, "/?#");
	fuzz_assert(end > host && memchr(s + host, '@', end - host) == NULL);
	for (const char *p = s; *p != '\0'; p++)
		fuzz_assert((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
}

/* An accepted range prints canonically, parses back equal, and holds its own address. */
static void
check_net(const char *s)
{
	struct net n, m;
	struct guard g;
	char buf[NET_STR_MAX], err[128];

	err[0] = '\0';
	if (net_parse(s, &n, err, sizeof err) == -1) {
		fuzz_assert(err[0] != '\0');
		return;
	}
	fuzz_assert(n.prefix <= (n.addr.family == AF_INET ? 32 : 128));
	net_str(&n, buf, sizeof buf);
	fuzz_assert(net_parse(buf, &m, err, sizeof err) == 0);
	fuzz_assert(addr_eq(&n.addr, &m.addr) && n.prefix == m.prefix && n.port == m.port);
	g.addr = n.addr;
	g.port = n.port;
	fuzz_assert(net_hits(&n, &g));
}

static void
check_int(const char *s)
{
	long long v = 7;

	if (parse_int(s, -1000, 65535, &v) == 0)
		fuzz_assert(v >= -1000 && v <= 65535 && strtoll(s, NULL, 10) == v);
	else
		fuzz_assert(v == 7);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);

	check_addr(s);
	check_guard(s);
	check_listen(s);
	check_url(s);
	check_net(s);
	check_int(s);
	free(s);
	return 0;
}
