#ifndef SEKISHO_NET_H
#define SEKISHO_NET_H

/*
 * Address ranges that guards must stay out of (config db.guard_forbid and the
 * daemons' own listen endpoints), and the overlap rule between endpoints.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NET_STR_MAX 64     /* "[v6]:port" or "v6/128" with its NUL */

struct net {
	struct addr addr;      /* host bits are zero */
	uint8_t prefix;        /* 0..32 (IPv4) or 0..128 (IPv6) */
	uint16_t port;         /* 0 = every port */
};

/*
 * Parses "ADDR/LEN" (every port of a network; host bits must be zero), or an
 * endpoint as guard_parse reads it: "ADDR", "ADDR:PORT", "[V6]:PORT". 0 or -1
 * with err.
 */
int net_parse(const char *s, struct net *n, char *err, size_t errlen);
/*
 * "A, B, ..." ("" = none; split as conf_list_each does) into list. 0, or -1
 * with err on a bad entry or more than max.
 */
int net_parse_list(const char *s, struct net *list, int max, int *n, char *err, size_t errlen);
/* "10.0.1.0/24", "10.0.0.1:443", "[2001:db8::1]:443". Returns buf (NET_STR_MAX). */
const char *net_str(const struct net *n, char *buf, size_t len);
/*
 * The endpoint a listen address "ADDR:PORT" stands for. 0, or -1 when it is
 * not one or is a wildcard (0.0.0.0, ::), which names no address of its own.
 */
int net_from_listen(const char *s, struct net *n);
/* 1 when g's address lies in n and their ports meet (equal, or either is 0). */
int net_hits(const struct net *n, const struct guard *g);
/* 1 when a and b are the same address and their ports meet (equal, or either is 0). */
int guard_overlap(const struct guard *a, const struct guard *b);

#endif
