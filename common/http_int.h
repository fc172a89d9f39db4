#ifndef SEKISHO_HTTP_INT_H
#define SEKISHO_HTTP_INT_H

/* http.c's and http_detach.c's own: the server and the request as they are. */

#include <stdatomic.h>
#include <time.h>

#include <microhttpd.h>

#include "http.h"
#include "httptls.h"

#define HSTS_MAX 64                /* "max-age=N" */

struct http_server {
	struct MHD_Daemon *d;
	http_handler fn;
	void *arg;
	struct http_opts o;
	char name[32];
	struct httptls tls;
	struct conns *conns;
	char hsts[HSTS_MAX];       /* Strict-Transport-Security value, "" = none */
	atomic_int deferred;       /* requests on the pool's workers, not yet resumed */
	atomic_int closing;        /* http_stop: defer no more */
};

struct http_field {
	char name[HTTP_NAME_MAX + 1];
	char *value;
	size_t len;
};

enum body_state { BODY_OK, BODY_TOO_LARGE, BODY_MALFORMED };

struct http_req {
	struct MHD_Connection *conn;
	struct http_server *srv;
	struct conn *ce;            /* the connection's entry in srv->conns */
	const char *method, *path;
	struct timespec start;
	struct MHD_PostProcessor *pp;
	struct http_field fields[HTTP_FIELDS_MAX];
	int n_fields;
	size_t body_len;
	int body;                   /* enum body_state */
	int replied, status;
	int n_hdrs;
	const char *hdr_name[HTTP_RESP_HDRS], *hdr_value[HTTP_RESP_HDRS];
	char hdr_space[HTTP_HDR_SPACE];
	size_t hdr_used;
	int hdr_overflow;
	char logkv[256];
	/* A deferred request (http_pool.c): its handler, and its answer until queued. */
	http_handler defer_fn;
	void *defer_arg;
	struct http_req *defer_next;
	int deferred;
	struct MHD_Response *resp;
	/* A detached request (conn and srv NULL, http_detach.c): the answer kept. */
	int detached_tls;
	char *kept_body, *kept_ctype;
	size_t kept_len;
};

/* A detached request's answer is kept (r->replied set) instead of sent. */
void http_detached_keep(struct http_req *r, int status, const char *ctype, const char *body,
                        size_t len);

/* http_pool.c: r joins the pool's line; its server counts it until resumed. */
void http_pool_queue(struct http_pool *p, struct http_req *r);
/* A worker resumed one of s's deferred requests. */
void http_server_deferred_done(struct http_server *s);

#endif
