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
 */

#include <stddef.h>
#include <sys/socket.h>

#define HTTP_FIELDS_MAX   32      /* form fields per request */
#define HTTP_NAME_MAX     64      /* a form field's name */
#define HTTP_RESP_HDRS    16      /* response headers a handler may add */
#define HTTP_HDR_SPACE    4096    /* bytes for those headers */
#define HTTP_HEADER_LIMIT 16384   /* request line + headers, per connection */
#define HTTP_DISCARD_FACTOR 16    /* chunked bodies read and dropped before closing */

struct http_req;
typedef void (*http_handler)(struct http_req *r, void *arg);

struct http_opts {
	const char *name;          /* for log lines */
	const char *listen;        /* ADDR:PORT */
	int threads;               /* > 0: a pool of this many event threads;
	                              0: one thread per connection (handlers may block) */
	size_t max_body;
	int max_conns;             /* 0 = 1024 */
	int timeout_s;             /* idle connection timeout; 0 = 30 */
	const char *tls_cert;      /* both non-empty: HTTPS */
	const char *tls_key;
	int access_log;            /* one log line per request */
};

struct http_server;

/* Starts serving on its own threads. NULL with err when it cannot listen. */
struct http_server *http_start(const struct http_opts *o, http_handler fn, void *arg,
                               char *err, size_t errlen);
void http_stop(struct http_server *s);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *s);

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

/* ---- the answer ---- */

/* Adds a response header. -1 when the header space is full (the reply is then 500). */
int http_add_header(struct http_req *r, const char *name, const char *value);
/* Sends the response (body copied). A second call is ignored and logged. */
void http_reply(struct http_req *r, int status, const char *content_type,
                const char *body, size_t len);
/* Adds "k=v ..." (already safe: use log_value for outside data) to the access log line. */
void http_log_kv(struct http_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
