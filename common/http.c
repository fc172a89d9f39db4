#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "addr.h"
#include "clock.h"
#include "conns.h"
#include "http.h"
#include "http_int.h"
#include "httptls.h"
#include "log.h"

const char *http_method(const struct http_req *r) { return r->method; }
const char *http_path(const struct http_req *r) { return r->path; }

const char *
http_header(const struct http_req *r, const char *name)
{
	if (r->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static struct conn *
conn_entry(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

const char *
http_query(const struct http_req *r, const char *name)
{
	return r->conn != NULL ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

const char *
http_cookie(const struct http_req *r, const char *name)
{
	return r->conn != NULL ? MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name) : NULL;
}

struct count_arg { const char *name; int n; };

static enum MHD_Result
count_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct count_arg *ca = cls;

	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, ca->name) == 0)
		ca->n++;
	return MHD_YES;
}

static int
count_kind(const struct http_req *r, enum MHD_ValueKind kind, const char *name)
{
	struct count_arg ca = { name, 0 };

	if (r->conn != NULL)
		MHD_get_connection_values(r->conn, kind, count_value, &ca);
	return ca.n;
}

int http_header_count(const struct http_req *r, const char *name)
{
	return count_kind(r, MHD_HEADER_KIND, name);
}

int http_cookie_count(const struct http_req *r, const char *name)
{
	return count_kind(r, MHD_COOKIE_KIND, name);
}

const char *
http_form(const struct http_req *r, const char *name)
{
	for (int i = 0; i < r->n_fields; i++)
		if (strcmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

const struct sockaddr *
http_peer(const struct http_req *r)
{
	const union MHD_ConnectionInfo *ci;

	if (r->conn == NULL)
		return NULL;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci != NULL ? ci->client_addr : NULL;
}

/*
 * The kernel's numbers (linux/netfilter_ipv4.h, linux/netfilter_ipv6/ip6_tables.h),
 * whose headers clash with glibc's socket headers.
 */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

int
http_original_dst(const struct http_req *r, struct sockaddr_storage *ss)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *peer = http_peer(r);
	socklen_t len = sizeof *ss;

	if (peer == NULL)
		return -1;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (peer->sa_family == AF_INET6)
		return getsockopt(ci->connect_fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &len);
	return getsockopt(ci->connect_fd, SOL_IP, SO_ORIGINAL_DST, ss, &len);
}

int
http_is_tls(const struct http_req *r)
{
	return r->srv != NULL ? r->srv->tls.cert != NULL : r->detached_tls;
}

int
http_add_header(struct http_req *r, const char *name, const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;

	if (r->n_hdrs == HTTP_RESP_HDRS || r->hdr_used + nl + vl > sizeof r->hdr_space) {
		r->hdr_overflow = 1;
		return -1;
	}
	r->hdr_name[r->n_hdrs] = memcpy(r->hdr_space + r->hdr_used, name, nl);
	r->hdr_used += nl;
	r->hdr_value[r->n_hdrs] = memcpy(r->hdr_space + r->hdr_used, value, vl);
	r->hdr_used += vl;
	r->n_hdrs++;
	return 0;
}

void
http_log_kv(struct http_req *r, const char *fmt, ...)
{
	size_t used = strlen(r->logkv);
	va_list ap;

	if (used + 2 >= sizeof r->logkv)
		return;
	if (used > 0)
		r->logkv[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(r->logkv + used, sizeof r->logkv - used, fmt, ap);
	va_end(ap);
}

static void
queue(struct http_req *r, int status, const char *ctype, const char *body, size_t len)
{
	struct MHD_Response *resp;

	if (r->conn == NULL) {
		http_detached_keep(r, status, ctype, body, len);
		return;
	}
	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		log_err("event=http_error server=%s error=\"cannot create response\"", r->srv->name);
		return;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (int i = 0; i < r->n_hdrs; i++)
		MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
	if (r->srv->hsts[0] != '\0')
		MHD_add_response_header(resp, "Strict-Transport-Security", r->srv->hsts);
	r->replied = 1;
	r->status = status;
	if (r->deferred) {
		r->resp = resp;    /* queued by the event thread once resumed (on_request) */
		return;
	}
	MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
}

void
http_reply(struct http_req *r, int status, const char *content_type, const char *body, size_t len)
{
	if (r->replied) {
		log_err("event=http_error server=%s error=\"second reply\" path=%s",
		        r->srv != NULL ? r->srv->name : "detached", r->path);
		return;
	}
	if (r->hdr_overflow) {
		r->n_hdrs = 0;
		status = 500;
		content_type = "text/plain; charset=utf-8";
		body = "internal error: response headers too large\n";
		len = strlen(body);
	}
	queue(r, status, content_type, body, len);
}

static void
reply_plain(struct http_req *r, int status, const char *text)
{
	r->n_hdrs = 0;
	queue(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result
on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
         const char *ctype, const char *encoding, const char *data, uint64_t off, size_t size)
{
	struct http_req *r = cls;
	struct http_field *f;
	char *nv;

	(void)kind; (void)filename; (void)ctype; (void)encoding;
	if (key == NULL || strlen(key) > HTTP_NAME_MAX || memchr(data, '\0', size) != NULL)
		goto bad;
	f = r->n_fields > 0 ? &r->fields[r->n_fields - 1] : NULL;
	if (off == 0) {
		if (http_form(r, key) != NULL || r->n_fields == HTTP_FIELDS_MAX)
			goto bad;
		f = &r->fields[r->n_fields++];
		snprintf(f->name, sizeof f->name, "%s", key);
		f->value = NULL;
		f->len = 0;
	} else if (f == NULL || strcmp(f->name, key) != 0 || off != f->len) {
		goto bad;
	}
	if ((nv = realloc(f->value, f->len + size + 1)) == NULL)
		goto bad;
	memcpy(nv + f->len, data, size);
	f->len += size;
	nv[f->len] = '\0';
	f->value = nv;
	return MHD_YES;
bad:
	r->body = BODY_MALFORMED;
	return MHD_NO;
}

static int
method_allowed(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "POST") == 0;
}

/* Decides what the first call (headers complete, no body yet) can decide. 0 or replied. */
static int
begin(struct http_req *r)
{
	const char *cl, *ct;
	long long n;

	if (!method_allowed(r->method)) {
		http_add_header(r, "Allow", "GET, HEAD, POST");
		reply_plain(r, 405, "method not allowed\n");
		return -1;
	}
	cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && (parse_int(cl, 0, INT64_MAX, &n) == -1 ||
	                   (unsigned long long)n > r->srv->o.max_body)) {
		reply_plain(r, 413, "request body too large\n");
		return -1;
	}
	if (strcmp(r->method, "POST") != 0)
		return 0;
	ct = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL || strncasecmp(ct, MHD_HTTP_POST_ENCODING_FORM_URLENCODED,
	                              strlen(MHD_HTTP_POST_ENCODING_FORM_URLENCODED)) != 0) {
		if (cl != NULL && strcmp(cl, "0") == 0)
			return 0;
		reply_plain(r, 415, "POST bodies must be application/x-www-form-urlencoded\n");
		return -1;
	}
	r->pp = MHD_create_post_processor(r->conn, 1024, on_field, r);
	if (r->pp == NULL) {
		reply_plain(r, 400, "malformed form\n");
		return -1;
	}
	return 0;
}

static void
take_body(struct http_req *r, const char *data, size_t size)
{
	r->body_len += size;
	if (r->body == BODY_TOO_LARGE || r->body_len > r->srv->o.max_body) {
		r->body = BODY_TOO_LARGE;
		return;
	}
	if (r->pp == NULL) {
		if (size > 0)
			r->body = BODY_MALFORMED;
		return;
	}
	if (r->body == BODY_OK && MHD_post_process(r->pp, data, size) != MHD_YES)
		r->body = BODY_MALFORMED;
}

static void
finish(struct http_req *r)
{
	conns_answering(r->srv->conns, r->ce);
	if (r->body == BODY_TOO_LARGE) {
		reply_plain(r, 413, "request body too large\n");
		return;
	}
	if (r->body == BODY_MALFORMED) {
		reply_plain(r, 400, "malformed form\n");
		return;
	}
	r->srv->fn(r, r->srv->arg);
	if (!r->replied && !r->deferred)
		reply_plain(r, 500, "internal error: no response\n");
}

void
http_defer(struct http_req *r, http_handler fn, void *arg)
{
	struct http_server *s = r->srv;

	if (r->conn == NULL || s->o.threads <= 0 || s->o.pool == NULL) {
		fn(r, arg);
		return;
	}
	/* Counted before closing is read, as http_stop sets closing before it
	 * reads the count: either it waits for this request or this runs here. */
	atomic_fetch_add(&s->deferred, 1);
	if (atomic_load(&s->closing)) {
		atomic_fetch_sub(&s->deferred, 1);
		fn(r, arg);
		return;
	}
	r->defer_fn = fn;
	r->defer_arg = arg;
	r->deferred = 1;
	MHD_suspend_connection(r->conn);
	http_pool_queue(s->o.pool, r);
}

int
http_may_wait(const struct http_req *r)
{
	return r->conn == NULL || r->deferred || r->srv->o.threads <= 0 || r->srv->o.pool == NULL;
}

void
http_server_deferred_done(struct http_server *s)
{
	atomic_fetch_sub(&s->deferred, 1);
}

/* A deferred request's answer, made on a worker, goes out from the event thread. */
static void
send_deferred(struct http_req *r)
{
	MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *s = cls;
	struct http_req *r = *state;

	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof *r)) == NULL)
			return MHD_NO;
		r->conn = c;
		r->srv = s;
		r->method = method;
		r->path = url;
		r->ce = conn_entry(c);
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		*state = r;
		begin(r);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* No response may be queued while upload data is handed over:
		 * a too-large body is read and dropped, up to a bound, then answered. */
		if (!r->replied)
			take_body(r, upload, *upload_size);
		*upload_size = 0;
		return r->body_len > HTTP_DISCARD_FACTOR * s->o.max_body ? MHD_NO : MHD_YES;
	}
	if (r->resp != NULL)
		send_deferred(r);
	else if (!r->replied && !r->deferred)
		finish(r);
	return MHD_YES;
}

/*
 * An int-valued connection info. MHD answers these with a pointer to an int
 * field, not to an aligned union: copy the int rather than read the member.
 */
static const char *
tls_info(struct http_req *r, enum MHD_ConnectionInfoType t, const char *(*name)(int))
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, t);
	const char *s;
	int v;

	if (ci == NULL)
		return "-";
	memcpy(&v, (const void *)ci, sizeof v);
	return (s = name(v)) != NULL ? s : "-";
}

static const char *
protocol_name(int v)
{
	return gnutls_protocol_get_name((gnutls_protocol_t)v);
}

static const char *
cipher_name(int v)
{
	return gnutls_cipher_get_name((gnutls_cipher_algorithm_t)v);
}

/* "yes" when the handshake resumed an earlier session, "no" for a full one, "-" unknown. */
static const char *
tls_resumed(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	if (ci == NULL || ci->tls_session == NULL)
		return "-";
	return gnutls_session_is_resumed((gnutls_session_t)ci->tls_session) ? "yes" : "no";
}

static void
tls_kv(struct http_req *r, char *buf, size_t n)
{
	buf[0] = '\0';
	if (r->srv->tls.cert == NULL)
		return;
	snprintf(buf, n, " tls=%s cipher=%s resumed=%s",
	         tls_info(r, MHD_CONNECTION_INFO_PROTOCOL, protocol_name),
	         tls_info(r, MHD_CONNECTION_INFO_CIPHER_ALGO, cipher_name), tls_resumed(r));
}

static void
access_log(struct http_req *r)
{
	char ip[ADDR_STR_MAX] = "-", path[96], tls[96];
	const struct sockaddr *sa = http_peer(r);
	struct addr a;

	if (sa != NULL && addr_from_sockaddr(sa, &a) == 0)
		addr_str(&a, ip, sizeof ip);
	tls_kv(r, tls, sizeof tls);
	log_info("event=http server=%s ip=%s method=%s path=%s status=%d ms=%.3f%s%s%s",
	         r->srv->name, ip, r->method, log_value(path, sizeof path, r->path),
	         r->status, clock_elapsed_ns(&r->start) / 1e6, tls, r->logkv[0] ? " " : "", r->logkv);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode tc)
{
	struct http_server *s = cls;
	struct http_req *r = *state;

	(void)tc;
	conns_waiting(s->conns, conn_entry(c));
	if (r == NULL)
		return;
	if (s->o.access_log && r->replied)
		access_log(r);
	if (r->pp != NULL)
		MHD_destroy_post_processor(r->pp);
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	for (int i = 0; i < r->n_fields; i++)
		free(r->fields[i].value);
	free(r);
	*state = NULL;
}

/*
 * Every connection is entered in s->conns when it opens (or shut down at
 * once when its address holds its limit) and leaves it when it closes,
 * before MHD closes the socket.
 */
static void
on_connection(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *fd, *peer;
	struct addr a;
	int refused;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		conns_close(s->conns, *ctx);
		*ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fd == NULL)
		return;
	if (peer == NULL || addr_from_sockaddr(peer->client_addr, &a) == -1 ||
	    (*ctx = conns_open(s->conns, fd->connect_fd, &a, &refused)) == NULL)
		shutdown(fd->connect_fd, SHUT_RDWR);   /* fail closed: unknown peer, limit, memory */
}

/* MHD's own messages (protocol errors of clients, mostly) go to our log. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[256], safe[200];

	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("event=http_protocol server=%s msg=%s", s->name, log_value(safe, sizeof safe, msg));
}

static struct MHD_Daemon *
start_daemon(struct http_server *s, const struct sockaddr *sa)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem op[16];
	int n = 0;

	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)sa };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	                                   (intptr_t)on_completed, s };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
	                                   (intptr_t)on_connection, s };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                                   HTTP_HEADER_LIMIT, NULL };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	                                   s->o.max_conns > 0 ? s->o.max_conns : 1024, NULL };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	                                   s->o.timeout_s > 0 ? s->o.timeout_s : 30, NULL };
	/* a flood arrives faster than it is accepted; the kernel caps this at somaxconn */
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL };
	op[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s };
	if (s->o.threads > 0) {
		flags |= MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
		op[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, s->o.threads, NULL };
	} else {
		/*
		 * Poll, not select: a flood holds a thousand connections and more,
		 * and select cannot watch a socket numbered FD_SETSIZE (1024) or
		 * higher, so MHD would close such a connection unanswered.
		 */
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	}
	if (s->tls.cert != NULL) {
		flags |= MHD_USE_TLS;
		op[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls.key };
		op[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls.cert };
		op[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
		                                   (void *)s->tls.priorities };
	}
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	op[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	                        MHD_OPTION_ARRAY, op, MHD_OPTION_END);
}

static int
start_conns(struct http_server *s, char *err, size_t errlen)
{
	struct conns_opts co = {
		.name = s->name,
		.per_addr = s->o.per_ip_max > 0 ? s->o.per_ip_max : HTTP_PER_IP_DEFAULT,
		.deadline_s = s->o.request_timeout_s > 0 ? s->o.request_timeout_s :
		              HTTP_REQUEST_TIMEOUT_DEFAULT,
		.exempt = s->o.exempt,
		.n_exempt = s->o.n_exempt,
	};

	s->conns = conns_new(&co, err, errlen);
	return s->conns != NULL ? 0 : -1;
}

struct http_server *
http_start(const struct http_opts *o, http_handler fn, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct http_server *s;
	socklen_t sl;

	if (addr_parse_listen(o->listen, &ss, &sl) == -1) {
		snprintf(err, errlen, "bad listen address %s (want ADDR:PORT)", o->listen);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->fn = fn;
	s->arg = arg;
	snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "http");
	if (httptls_load(o, &s->tls, err, errlen) == -1 || start_conns(s, err, errlen) == -1)
		goto fail;
	if (s->tls.cert != NULL && o->hsts_max_age > 0)
		snprintf(s->hsts, sizeof s->hsts, "max-age=%d", o->hsts_max_age);
	s->d = start_daemon(s, (struct sockaddr *)&ss);
	if (s->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s", o->listen);
		goto fail;
	}
	return s;
fail:
	conns_free(s->conns);
	httptls_free(&s->tls);
	free(s);
	return NULL;
}

int
http_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);

	return di != NULL ? di->port : -1;
}

/*
 * MHD must not stop with a connection suspended: the deferred requests
 * finish first (their handlers answer quickly once the program stops).
 */
static void
wait_deferred(struct http_server *s)
{
	struct timespec tick = { 0, 10 * 1000000 };

	for (int ms = 0; atomic_load(&s->deferred) > 0; ms += 10) {
		if (ms > 0 && ms % 10000 == 0)
			log_warn("event=http_stopping server=%s deferred=%d", s->name,
			         atomic_load(&s->deferred));
		nanosleep(&tick, NULL);
	}
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->closing, 1);
	wait_deferred(s);
	MHD_stop_daemon(s->d);
	conns_free(s->conns);
	httptls_free(&s->tls);
	free(s);
}
