#ifndef SEKISHO_HTTP_H
#define SEKISHO_HTTP_H

/*
 * The HTTP server glue (libmicrohttpd), shared by authd and cid. Only http.c
 * includes microhttpd.h. A handler sees one request at a time through the
 * accessors below and answers it exactly once with http_reply().
 *
 * Before a handler runs, the glue has already answered, without calling it:
 *   405 methods other than GET, HEAD, POST;
 *   413 bodies larger than max_body: at once from Content-Length; for a chunked
 *       body after reading and dropping it, and a body past
 *       HTTP_DISCARD_FACTOR * max_body closes the connection instead;
 *   415 POST bodies that are not application/x-www-form-urlencoded;
 *   400 malformed forms: undecodable, a NUL in a value, a repeated field,
 *       more than HTTP_FIELDS_MAX fields or a name longer than HTTP_NAME_MAX;
 *   431 header blocks larger than the connection memory limit (by MHD itself).
 *
 * Connections (common/conns.h): one client address holds at most per_ip_max
 * at once; a request must arrive whole within request_timeout_s of the
 * connection's opening or the previous answer, however slowly it trickles
 * in, or the connection is closed. Addresses in exempt (the trusted proxies)
 * have neither limit. timeout_s is the idle limit, reset by any activity.
 */

#include <stddef.h>
#include <sys/socket.h>

#define HTTP_FIELDS_MAX   32      /* form fields per request */
#define HTTP_NAME_MAX     64      /* a form field's name */
#define HTTP_RESP_HDRS    16      /* response headers a handler may add */
#define HTTP_HDR_SPACE    4096    /* bytes for those headers */
#define HTTP_HEADER_LIMIT 16384   /* request line + headers, per connection */
#define HTTP_DISCARD_FACTOR 16    /* chunked bodies read and dropped before closing */
#define HTTP_PER_IP_DEFAULT 16    /* per_ip_max when 0 */
#define HTTP_REQUEST_TIMEOUT_DEFAULT 10  /* request_timeout_s when 0 */

/*
 * TLS 1.2 and 1.3 only, AEAD ciphers only, forward-secret key exchange only
 * (TLS 1.3 always is; for 1.2, ECDHE): no CBC, no static RSA, no TLS 1.0/1.1.
 */
#define HTTP_TLS_PRIORITIES "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct addr;
struct http_req;
struct http_pool;
typedef void (*http_handler)(struct http_req *r, void *arg);

struct http_opts {
	const char *name;          /* for log lines */
	const char *listen;        /* ADDR:PORT */
	int threads;               /* > 0: a pool of this many event threads;
	                              0: one thread per connection (handlers may block) */
	struct http_pool *pool;    /* with threads > 0: where http_defer runs handlers */
	size_t max_body;
	int max_conns;             /* 0 = 1024 */
	int timeout_s;             /* idle connection timeout; 0 = 30 */
	int per_ip_max;            /* connections one address may hold; 0 = HTTP_PER_IP_DEFAULT */
	int request_timeout_s;     /* a whole request within; 0 = HTTP_REQUEST_TIMEOUT_DEFAULT */
	const struct addr *exempt; /* addresses without a per-address limit (trusted proxies) */
	int n_exempt;
	const char *tls_cert;      /* both non-empty: HTTPS */
	const char *tls_key;
	const char *tls_priorities; /* GnuTLS priority string; NULL or "" = HTTP_TLS_PRIORITIES */
	int hsts_max_age;          /* > 0 and HTTPS: Strict-Transport-Security on every answer */
	int access_log;            /* one log line per request */
};

struct http_server;

/*
 * What HTTPS needs, checked before anything binds (for "-n" too): the key is
 * neither readable nor writable by others, both files are readable and the
 * priority string is valid. 0 (also when o is plain HTTP) or -1 with err.
 */
int http_tls_check(const struct http_opts *o, char *err, size_t errlen);

/* Starts serving on its own threads. NULL with err when it cannot listen. */
struct http_server *http_start(const struct http_opts *o, http_handler fn, void *arg,
                               char *err, size_t errlen);
void http_stop(struct http_server *s);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *s);

/*
 * One server per address of a comma-separated listen list (IPv4 and IPv6 at
 * once), all with o's settings but o->listen; each has its own connection
 * limits. http_start_list starts all or none: NULL entries and -1 with err
 * naming the address that failed.
 */
#define HTTP_LISTEN_MAX 4
struct http_servers {
	struct http_server *s[HTTP_LISTEN_MAX];
	int n;
};
int http_start_list(const struct http_opts *o, const char *list, http_handler fn, void *arg,
                    struct http_servers *out, char *err, size_t errlen);
void http_stop_list(struct http_servers *l);
/* The ports bound, "P,P,..." (for the start log line). */
void http_ports_str(const struct http_servers *l, char *out, size_t n);

/*
 * Workers for handlers that may wait (http_defer), shared by any number of
 * servers, taking deferred requests oldest first: min threads from the
 * start, more (up to max) while requests find no idle worker, and those
 * beyond min end after 10 s idle. Stop the pool only after every server
 * using it (http_stop waits for its own deferred requests); http_pool_stop
 * returns once every worker has ended. NULL with err when min workers
 * cannot start.
 */
struct http_pool *http_pool_start(int min, int max, char *err, size_t errlen);
void http_pool_stop(struct http_pool *p);
/* Requests deferred and not yet taken, those a worker runs now, and the workers alive. */
void http_pool_counts(struct http_pool *p, int *queued, int *running, int *live);

/*
 * Called by a handler instead of answering: fn(r, arg) runs later on a
 * worker of the server's pool, where it may wait (store, locks, a login's
 * answer), and answers r there as any handler does; meanwhile the
 * connection is suspended (not read, not timed out) and the event thread
 * serves its other connections. After http_defer the handler returns at
 * once and touches r no more. A server without a pool (thread per
 * connection), or one stopping, runs fn at once on the calling thread.
 */
void http_defer(struct http_req *r, http_handler fn, void *arg);
/* 0 on an event thread of a pool (the handler must not wait), else 1. */
int http_may_wait(const struct http_req *r);

/* ---- the request ---- */

const char *http_method(const struct http_req *r);
/* Path only, percent-decoded by the server, without the query string. */
const char *http_path(const struct http_req *r);
/* First value of a request header, NULL when absent. */
const char *http_header(const struct http_req *r, const char *name);
/* How many times a header (or, for http_cookie_count, a cookie) appears. */
int http_header_count(const struct http_req *r, const char *name);
int http_cookie_count(const struct http_req *r, const char *name);
/* Query argument, cookie, or form field (POST); NULL when absent. */
const char *http_query(const struct http_req *r, const char *name);
const char *http_cookie(const struct http_req *r, const char *name);
const char *http_form(const struct http_req *r, const char *name);
/* The TCP peer's address. */
const struct sockaddr *http_peer(const struct http_req *r);
int http_is_tls(const struct http_req *r);
/*
 * Where the client's connection was going before the gateway's DNAT sent it
 * here (conntrack's SO_ORIGINAL_DST; without NAT, this listener's own
 * address). 0, or -1 when the kernel cannot say.
 */
int http_original_dst(const struct http_req *r, struct sockaddr_storage *ss);

/* ---- the answer ---- */

/* Adds a response header. -1 when the header space is full (the reply is then 500). */
int http_add_header(struct http_req *r, const char *name, const char *value);
/* Sends the response (body copied). A second call is ignored and logged. */
void http_reply(struct http_req *r, int status, const char *content_type,
                const char *body, size_t len);
/*
 * A detached request: no connection; the handler code runs on it as on any
 * request (its lookups find nothing; http_is_tls: tls), and its answer is
 * kept. http_req_replay sends a kept answer (status, headers, body) on a real
 * request: -1 when there is none yet. http_req_status: the kept status, 0
 * before the answer. http_req_free frees a detached request (only those).
 */
struct http_req *http_req_detached(int tls);
int http_req_replay(struct http_req *to, const struct http_req *from);
int http_req_status(const struct http_req *r);
void http_req_free(struct http_req *r);
/* Adds "k=v ..." (already safe: use log_value for outside data) to the access log line. */
void http_log_kv(struct http_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
