#ifndef SEKISHO_CONNS_H
#define SEKISHO_CONNS_H

/*
 * The open connections of one listener, for two limits libmicrohttpd's own
 * options cannot give:
 *
 *   per address: at most per_addr connections from one client address at
 *     once; a connection past the limit is refused (the caller closes it).
 *   request deadline: a request (line, headers, body; TLS handshake of a new
 *     connection included) must arrive within deadline_s of the connection's
 *     opening or of the previous answer. The clock is not reset by received
 *     bytes, so a client that trickles a byte now and then is cut off all the
 *     same. While a request is being answered the deadline does not run.
 *
 * Addresses in exempt (trusted proxies: their connections carry many clients,
 * and they pass on only whole requests) have neither limit; the listener's
 * max_connections and idle timeout still apply.
 *
 * A reaper thread (one per table) shuts down the socket of an overdue
 * connection; the server then sees the connection end and closes it, calling
 * conns_close(). conns_close() must run before the fd is closed, so the
 * reaper never touches a reused descriptor. No HTTP library here.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CONNS_BUCKETS 1021       /* hash buckets of the per-address counts */
#define CONNS_TICK_MS 250        /* how often the reaper looks */

struct conns_opts {
	const char *name;            /* for log lines */
	int per_addr;                /* > 0 */
	int deadline_s;              /* > 0 */
	const struct addr *exempt;   /* copied; at most CONNS_EXEMPT_MAX */
	int n_exempt;
};

#define CONNS_EXEMPT_MAX 16

struct conns;
struct conn;

/* A table with its reaper running. NULL with err. */
struct conns *conns_new(const struct conns_opts *o, char *err, size_t errlen);
/* Stops the reaper and frees the table; every connection must be closed already. */
void conns_free(struct conns *cs);

/*
 * Records a new connection on fd from a. NULL when a already holds its limit
 * (*refused = 1: the caller closes the connection at once) or memory ran out
 * (*refused = 0).
 */
struct conn *conns_open(struct conns *cs, int fd, const struct addr *a, int *refused);
/* The connection ended; c is freed. c may be NULL. */
void conns_close(struct conns *cs, struct conn *c);
/* The request on c is complete: its deadline stops while it is answered. */
void conns_answering(struct conns *cs, struct conn *c);
/* The answer on c is sent: the deadline for the next request starts now. */
void conns_waiting(struct conns *cs, struct conn *c);

/* One pass of the reaper at monotonic time now_ms; returns the connections shut down. */
int conns_reap(struct conns *cs, int64_t now_ms);
/* Connections held now by a (for tests and metrics). */
int conns_count(struct conns *cs, const struct addr *a);

#endif
