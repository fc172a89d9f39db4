#ifndef SEKISHO_ADDR_H
#define SEKISHO_ADDR_H

/* IP addresses and guarded endpoints, parsed strictly, printed canonically. */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STR_MAX 46    /* INET6_ADDRSTRLEN */
#define GUARD_STR_MAX 56   /* "[v6]:port" */
#define URL_STR_MAX 513    /* a URL with its NUL (store.h URL_MAX_LEN + 1) */

struct addr {
	uint8_t family;        /* AF_INET or AF_INET6 */
	uint8_t bytes[16];     /* network order; 4 used for AF_INET */
};

struct guard {
	struct addr addr;
	uint16_t port;         /* 0 = every port of addr */
};

/* Parses a literal IPv4/IPv6 address (no names, no ports, no zone). 0 or -1. */
int addr_parse(const char *s, struct addr *a);
/* Canonical text form into buf (ADDR_STR_MAX). Returns buf. */
const char *addr_str(const struct addr *a, char *buf, size_t n);
/* From a socket address (IPv4-mapped IPv6 becomes IPv4). 0 or -1. */
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a);
int addr_eq(const struct addr *a, const struct addr *b);
/* Number of address bytes for the family: 4 or 16. */
size_t addr_len(const struct addr *a);

/*
 * Parses "ADDR, ADDR, ..." ("" = none; blanks around entries allowed) into
 * list. 0, or -1 when an entry is empty or not a literal address, or there
 * are more than max.
 */
int addr_parse_list(const char *s, struct addr *list, int max, int *n);
/* 1 when a is one of list[0..n), else 0. */
int addr_in(const struct addr *a, const struct addr *list, int n);

#define XFF_MAX_LEN  1024  /* longest X-Forwarded-For value believed */
#define XFF_MAX_HOPS 32    /* its entries looked at, from the right */

/*
 * The client in an X-Forwarded-For value "a, b, c" from a trusted proxy, as
 * nginx's real_ip_recursive finds it: from the right, the first entry that is
 * not in trusted (the leftmost looked at when all are). Entries left of it
 * are the client's own claims and are not read, so a client's "unknown" does
 * not make its request fail. 0, or -1 (client untouched) when xff is longer
 * than XFF_MAX_LEN or an entry read is empty or not a literal address (no
 * names, no ports).
 */
int addr_forwarded_client(const char *xff, const struct addr *trusted, int n_trusted,
                          struct addr *client);

/* Parses "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT". 0 or -1 with err filled. */
int guard_parse(const char *s, struct guard *g, char *err, size_t errlen);
/* Canonical text: "10.0.0.5:80", "[2001:db8::5]:443", "10.0.0.5". Returns buf. */
const char *guard_str(const struct guard *g, char *buf, size_t n);

/* Parses "ADDR:PORT" / "[V6]:PORT" for listening sockets (port 0 = any free port). 0 or -1. */
int addr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/*
 * A URL users may be sent to: "http://" or "https://", a host of letters,
 * digits, ".-_" (or an IPv6 literal in brackets) with an optional port, then
 * anything without spaces or control bytes; shorter than URL_STR_MAX. No
 * userinfo ("user@host"). 0 or -1 with err.
 */
int url_valid(const char *s, char *err, size_t errlen);

/*
 * Checked conversions: the whole of s must be a decimal integer within
 * [min, max]. 0 on success, -1 otherwise (out untouched). Never atoi.
 */
int parse_int(const char *s, long long min, long long max, long long *out);
/*
 * The same for a decimal number: digits with at most one '.', an optional
 * leading '-', no exponent, at most 32 characters, within [min, max].
 */
int parse_decimal(const char *s, double min, double max, double *out);

#endif
