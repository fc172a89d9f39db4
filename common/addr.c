#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* An IPv4-mapped IPv6 address becomes plain IPv4, so both forms of a client compare equal. */
static void
addr_unmap(struct addr *a)
{
	if (a->family == AF_INET6 && memcmp(a->bytes, v4mapped_prefix, 12) == 0) {
		a->family = AF_INET;
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
	}
}

int
addr_parse(const char *s, struct addr *a)
{
	struct addr tmp;

	if (s == NULL || strnlen(s, ADDR_STR_MAX) >= ADDR_STR_MAX)
		return -1;
	memset(&tmp, 0, sizeof tmp);
	if (inet_pton(AF_INET, s, tmp.bytes) == 1) {
		tmp.family = AF_INET;
	} else if (inet_pton(AF_INET6, s, tmp.bytes) == 1) {
		tmp.family = AF_INET6;
		addr_unmap(&tmp);
	} else {
		return -1;
	}
	*a = tmp;
	return 0;
}

const char *
addr_str(const struct addr *a, char *buf, size_t n)
{
	if (n == 0)
		return buf;
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    inet_ntop(a->family, a->bytes, buf, (socklen_t)n) == NULL)
		snprintf(buf, n, "?");
	return buf;
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct addr *a)
{
	struct addr tmp;

	memset(&tmp, 0, sizeof tmp);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		tmp.family = AF_INET;
		memcpy(tmp.bytes, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		tmp.family = AF_INET6;
		memcpy(tmp.bytes, &sin6->sin6_addr, 16);
		addr_unmap(&tmp);
	} else {
		return -1;
	}
	*a = tmp;
	return 0;
}

size_t
addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int
addr_eq(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, addr_len(a)) == 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* s[b..e) with the blanks around it trimmed, parsed as one address. 0 or -1. */
static int
addr_parse_span(const char *s, size_t b, size_t e, struct addr *a)
{
	char one[ADDR_STR_MAX + 1];

	while (b < e && is_blank(s[b]))
		b++;
	while (e > b && is_blank(s[e - 1]))
		e--;
	if (e == b || e - b > ADDR_STR_MAX)
		return -1;
	memcpy(one, s + b, e - b);
	one[e - b] = '\0';
	return addr_parse(one, a);
}

int
addr_parse_list(const char *s, struct addr *list, int max, int *n)
{
	size_t b = 0, e;

	*n = 0;
	if (s[0] == '\0')
		return 0;
	for (;;) {
		for (e = b; s[e] != '\0' && s[e] != ','; e++)
			;
		if (*n == max || addr_parse_span(s, b, e, &list[*n]) == -1)
			return -1;
		(*n)++;
		if (s[e] == '\0')
			return 0;
		b = e + 1;
	}
}

int
addr_in(const struct addr *a, const struct addr *list, int n)
{
	for (int i = 0; i < n; i++)
		if (addr_eq(a, &list[i]))
			return 1;
	return 0;
}

int
addr_forwarded_client(const char *xff, const struct addr *trusted, int n_trusted,
                      struct addr *client)
{
	size_t e = strnlen(xff, XFF_MAX_LEN + 1), b;
	struct addr hop = { 0 };

	if (e > XFF_MAX_LEN)
		return -1;
	for (int hops = 0; hops < XFF_MAX_HOPS; hops++) {
		for (b = e; b > 0 && xff[b - 1] != ','; b--)
			;
		if (addr_parse_span(xff, b, e, &hop) == -1)
			return -1;
		if (b == 0 || !addr_in(&hop, trusted, n_trusted))
			break;
		e = b - 1;   /* the comma before this entry */
	}
	*client = hop;
	return 0;
}

int
parse_int(const char *s, long long min, long long max, long long *out)
{
	const char *p;
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	p = (*s == '-') ? s + 1 : s;
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_decimal(const char *s, double min, double max, double *out)
{
	const char *p;
	char *end;
	int digits = 0, dots = 0;
	double v;

	if (s == NULL || strnlen(s, 33) > 32)
		return -1;
	for (p = (*s == '-') ? s + 1 : s; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return -1;
	}
	if (digits == 0 || dots > 1)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

/* A port "1".."65535" (or "0".. when allow_zero). */
static int
parse_port(const char *s, int allow_zero, uint16_t *port)
{
	long long v;

	if (*s == '-' || parse_int(s, allow_zero ? 0 : 1, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * Splits "ADDR", "ADDR:PORT", "[V6]" and "[V6]:PORT" into host and port text
 * (port "" when absent). A bare address with two or more colons is IPv6
 * without a port. -1 on bad brackets or lengths.
 */
static int
split_host_port(const char *s, char *host, size_t hostlen, const char **port)
{
	const char *colon, *close;
	size_t len;

	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		len = (size_t)(close - s - 1);
		if (close[1] != '\0' && close[1] != ':')
			return -1;
		*port = close[1] == ':' ? close + 2 : close + 1;
		if (close[1] == ':' && **port == '\0')
			return -1;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;
		len = colon ? (size_t)(colon - s) : strlen(s);
		*port = colon ? colon + 1 : s + len;
		if (colon != NULL && **port == '\0')
			return -1;
	}
	if (len == 0 || len >= hostlen)
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	return 0;
}

int
guard_parse(const char *s, struct guard *g, char *err, size_t errlen)
{
	char host[ADDR_STR_MAX];
	const char *port;
	struct guard tmp;

	memset(&tmp, 0, sizeof tmp);
	if (s == NULL || strnlen(s, GUARD_STR_MAX) >= GUARD_STR_MAX ||
	    split_host_port(s, host, sizeof host, &port) == -1) {
		snprintf(err, errlen, "bad endpoint \"%.*s\" (want ADDR, ADDR:PORT or [V6]:PORT)",
		         GUARD_STR_MAX, s ? s : "");
		return -1;
	}
	if (addr_parse(host, &tmp.addr) == -1) {
		snprintf(err, errlen, "bad address \"%s\"", host);
		return -1;
	}
	if (s[0] == '[' && tmp.addr.family != AF_INET6) {
		snprintf(err, errlen, "brackets are for IPv6 only: \"%s\"", s);
		return -1;
	}
	if (*port != '\0' && parse_port(port, 0, &tmp.port) == -1) {
		snprintf(err, errlen, "bad port \"%s\" (want 1..65535)", port);
		return -1;
	}
	*g = tmp;
	return 0;
}

const char *
guard_str(const struct guard *g, char *buf, size_t n)
{
	char a[ADDR_STR_MAX];

	addr_str(&g->addr, a, sizeof a);
	if (g->port == 0)
		snprintf(buf, n, "%s", a);
	else if (g->addr.family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", a, g->port);
	else
		snprintf(buf, n, "%s:%u", a, g->port);
	return buf;
}

int
addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[ADDR_STR_MAX];
	const char *port;
	struct addr a;
	uint16_t p;

	if (s == NULL || strnlen(s, GUARD_STR_MAX) >= GUARD_STR_MAX ||
	    split_host_port(s, host, sizeof host, &port) == -1 || *port == '\0' ||
	    addr_parse(host, &a) == -1 || (s[0] == '[' && a.family != AF_INET6) ||
	    parse_port(port, 1, &p) == -1)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		memcpy(&sin->sin_addr, a.bytes, 4);
		*len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		*len = sizeof *sin6;
	}
	return 0;
}

/* Host characters of a URL: letters, digits, '.', '-', '_', and ':' '[' ']' for IPv6 literals. */
static int
url_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
}

int
url_valid(const char *s, char *err, size_t errlen)
{
	const char *host, *p;

	if (strnlen(s, URL_STR_MAX) >= URL_STR_MAX) {
		snprintf(err, errlen, "URL longer than %d bytes", URL_STR_MAX - 1);
		return -1;
	}
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else {
		snprintf(err, errlen, "URL must start with http:// or https://: \"%s\"", s);
		return -1;
	}
	for (p = host; *p != '\0' && *p != '/' && *p != '?' && *p != '#'; p++)
		if (!url_host_char(*p))
			break;
	if (p == host || (*p != '\0' && *p != '/' && *p != '?' && *p != '#')) {
		snprintf(err, errlen, "URL has no valid host: \"%s\"", s);
		return -1;
	}
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, errlen, "URL contains spaces or control characters");
			return -1;
		}
	return 0;
}
