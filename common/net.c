#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "net.h"

static int
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* 1 when the first bits of a and b agree. */
static int
prefix_match(const struct addr *a, const struct addr *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a->bytes, b->bytes, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a->bytes[whole] ^ b->bytes[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

/* a with every bit past the first bits cleared, into out. */
static void
net_mask(const struct addr *a, int bits, struct addr *out)
{
	int whole = bits / 8;

	*out = *a;
	memset(out->bytes + whole, 0, sizeof out->bytes - (size_t)whole);
	if (bits % 8)
		out->bytes[whole] = a->bytes[whole] & (uint8_t)(0xff00 >> (bits % 8));
}

/* "ADDR/LEN": a network of every port. */
static int
net_parse_prefix(const char *s, const char *slash, struct net *n, char *err, size_t errlen)
{
	char host[ADDR_STR_MAX], a[ADDR_STR_MAX];
	struct addr zero;
	struct net tmp;
	long long len;
	size_t hl = (size_t)(slash - s);

	memset(&tmp, 0, sizeof tmp);
	if (hl == 0 || hl >= sizeof host) {
		snprintf(err, errlen, "bad network \"%s\" (want ADDR/LEN)", s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (addr_parse(host, &tmp.addr) == -1) {
		snprintf(err, errlen, "bad address \"%s\"", host);
		return -1;
	}
	if (parse_int(slash + 1, 0, family_bits(tmp.addr.family), &len) == -1) {
		snprintf(err, errlen, "bad prefix length in \"%s\" (want 0..%d)", s,
		         family_bits(tmp.addr.family));
		return -1;
	}
	tmp.prefix = (uint8_t)len;
	net_mask(&tmp.addr, tmp.prefix, &zero);
	if (!addr_eq(&zero, &tmp.addr)) {
		snprintf(err, errlen, "\"%s\" has host bits set (the network is %s/%lld)", s,
		         addr_str(&zero, a, sizeof a), len);
		return -1;
	}
	*n = tmp;
	return 0;
}

int
net_parse(const char *s, struct net *n, char *err, size_t errlen)
{
	const char *slash;
	struct guard g;

	if (s == NULL || strnlen(s, NET_STR_MAX) >= NET_STR_MAX) {
		snprintf(err, errlen, "entry missing or longer than %d bytes", NET_STR_MAX - 1);
		return -1;
	}
	if ((slash = strchr(s, '/')) != NULL)
		return net_parse_prefix(s, slash, n, err, errlen);
	if (guard_parse(s, &g, err, errlen) == -1)
		return -1;
	memset(n, 0, sizeof *n);
	n->addr = g.addr;
	n->prefix = (uint8_t)family_bits(g.addr.family);
	n->port = g.port;
	return 0;
}

struct net_list {
	struct net *v;
	int max, n;
};

static int
net_list_add(void *arg, const char *entry, char *err, size_t errlen)
{
	struct net_list *l = arg;

	if (l->n == l->max) {
		snprintf(err, errlen, "more than %d entries", l->max);
		return -1;
	}
	if (net_parse(entry, &l->v[l->n], err, errlen) == -1)
		return -1;
	l->n++;
	return 0;
}

int
net_parse_list(const char *s, struct net *list, int max, int *n, char *err, size_t errlen)
{
	struct net_list l = { list, max, 0 };
	int rc = conf_list_each(s ? s : "", net_list_add, &l, err, errlen);

	*n = rc == 0 ? l.n : 0;
	return rc;
}

const char *
net_str(const struct net *n, char *buf, size_t len)
{
	char a[ADDR_STR_MAX];
	struct guard g;

	if (n->prefix != family_bits(n->addr.family)) {
		snprintf(buf, len, "%s/%u", addr_str(&n->addr, a, sizeof a), n->prefix);
		return buf;
	}
	g.addr = n->addr;
	g.port = n->port;
	return guard_str(&g, buf, len);
}

int
net_from_listen(const char *s, struct net *n)
{
	static const uint8_t zero[16];
	char err[128];

	if (s == NULL || strchr(s, '/') != NULL || net_parse(s, n, err, sizeof err) == -1 ||
	    n->port == 0)
		return -1;
	return memcmp(n->addr.bytes, zero, addr_len(&n->addr)) == 0 ? -1 : 0;
}

int
net_hits(const struct net *n, const struct guard *g)
{
	if (n->addr.family != g->addr.family || !prefix_match(&n->addr, &g->addr, n->prefix))
		return 0;
	return n->port == 0 || g->port == 0 || n->port == g->port;
}

int
guard_overlap(const struct guard *a, const struct guard *b)
{
	return addr_eq(&a->addr, &b->addr) && (a->port == 0 || b->port == 0 || a->port == b->port);
}
