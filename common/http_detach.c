#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "log.h"

/*
 * Detached requests: an answer computed away from its connection (authd's
 * login line answers a login on its own thread, in arrival order, and hands
 * the answer over when the browser comes back). The handler code runs
 * unchanged: headers collect as usual, http_reply keeps the answer, the
 * request's own lookups (headers, cookies, query, peer) find nothing.
 */

struct http_req *
http_req_detached(int tls)
{
	struct http_req *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->method = "-";
	r->path = "-";
	r->detached_tls = tls != 0;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	return r;
}

void
http_detached_keep(struct http_req *r, int status, const char *ctype, const char *body,
                   size_t len)
{
	r->kept_body = malloc(len + 1);
	r->kept_ctype = ctype != NULL ? strdup(ctype) : NULL;
	if (r->kept_body == NULL || (ctype != NULL && r->kept_ctype == NULL)) {
		log_err("event=http_error server=detached error=\"out of memory\"");
		free(r->kept_body);
		free(r->kept_ctype);
		r->kept_body = r->kept_ctype = NULL;
		r->status = 500;
		r->replied = 1;
		return;
	}
	memcpy(r->kept_body, body, len);
	r->kept_body[len] = '\0';
	r->kept_len = len;
	r->status = status;
	r->replied = 1;
}

int
http_req_replay(struct http_req *to, const struct http_req *from)
{
	static const char oom[] = "internal error: the answer was lost\n";

	if (!from->replied)
		return -1;
	for (int i = 0; i < from->n_hdrs; i++)
		http_add_header(to, from->hdr_name[i], from->hdr_value[i]);
	if (from->logkv[0] != '\0')
		http_log_kv(to, "%s", from->logkv);
	if (from->kept_body == NULL)
		http_reply(to, 500, "text/plain; charset=utf-8", oom, strlen(oom));
	else
		http_reply(to, from->status, from->kept_ctype, from->kept_body, from->kept_len);
	return 0;
}

int
http_req_status(const struct http_req *r)
{
	return r->replied ? r->status : 0;
}

void
http_req_free(struct http_req *r)
{
	if (r == NULL || r->conn != NULL)
		return;
	free(r->kept_body);
	free(r->kept_ctype);
	free(r);
}
