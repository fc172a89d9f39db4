#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cid.h"
#include "right.h"

static const struct {
	const char *label;
	int status;
} check_results[CHECK__N] = {
	[CHECK_OK]              = { "ok", 204 },
	[CHECK_NO_COOKIE]       = { "no_cookie", 401 },
	[CHECK_BAD_COOKIE]      = { "bad_cookie", 401 },
	[CHECK_UNKNOWN_KEY]     = { "unknown_key", 401 },
	[CHECK_BAD_TAG]         = { "bad_tag", 401 },
	[CHECK_EXPIRED]         = { "expired", 401 },
	[CHECK_UNKNOWN_SERVICE] = { "unknown_service", 401 },
	[CHECK_WRONG_SERVICE]   = { "wrong_service", 401 },
	[CHECK_NO_RIGHT]        = { "no_right", 401 },
	[CHECK_IDLE]            = { "idle", 401 },
	[CHECK_WRONG_IP]        = { "wrong_ip", 401 },
	[CHECK_BAD_REQUEST]     = { "bad_request", 400 },
	[CHECK_UNAVAILABLE]     = { "unavailable", 503 },
};

const char *
check_label(int result)
{
	return result >= 0 && result < CHECK__N ? check_results[result].label : "?";
}

int
check_status(int result)
{
	return result >= 0 && result < CHECK__N ? check_results[result].status : 500;
}

static int
fail(struct check_out *out, int result, const char *why)
{
	out->result = result;
	out->why = why;
	return result;
}

int
check_service(const struct cid_conf *cc, const struct check_in *in, int via_proxy,
              char name[NAME_MAX_LEN + 1], const char **why)
{
	const char *s = in->service;
	const char *host = via_proxy && in->xfh != NULL ? in->xfh : in->host;

	if (in->n_service > 1) {
		*why = "repeated X-Sekisho-Service";
		return -1;
	}
	if (s == NULL && (s = cid_host_service(cc, host)) == NULL) {
		*why = "no X-Sekisho-Service and no host_map entry for the host";
		return 0;
	}
	if (!name_valid(s)) {
		*why = "invalid service name";
		return -1;
	}
	snprintf(name, NAME_MAX_LEN + 1, "%s", s);
	return 1;
}

static int
parse_service(const struct cid_conf *cc, const struct check_in *in, struct check_req *q,
              struct check_out *out)
{
	const char *why = NULL;

	if (check_service(cc, in, q->via_proxy, q->service, &why) != 1)
		return fail(out, CHECK_BAD_REQUEST, why);
	memcpy(out->service, q->service, sizeof out->service);
	return CHECK_OK;
}

int
check_client(const struct cid_conf *cc, const struct check_in *in, struct check_req *q,
             struct check_out *out)
{
	int trusted;

	if (in->peer == NULL || addr_from_sockaddr(in->peer, &q->client) == -1)
		return fail(out, CHECK_BAD_REQUEST, "no peer address");
	trusted = cid_trusted(cc, &q->client);
	q->https = in->tls;
	q->via_proxy = trusted;
	if (!trusted)
		return CHECK_OK;
	if (in->xfp != NULL && strcasecmp(in->xfp, "https") == 0)
		q->https = 1;
	if (in->n_xff > 1)
		return fail(out, CHECK_BAD_REQUEST, "repeated X-Forwarded-For");
	if (in->xff != NULL &&
	    addr_forwarded_client(in->xff, cc->proxies, cc->n_proxies, &q->client) == -1)
		return fail(out, CHECK_BAD_REQUEST, "malformed X-Forwarded-For");
	return CHECK_OK;
}

int
check_parse(const struct cid_conf *cc, const struct check_in *in, struct check_req *q,
            struct check_out *out)
{
	memset(q, 0, sizeof *q);
	memset(out, 0, sizeof *out);
	if (check_client(cc, in, q, out) != CHECK_OK || parse_service(cc, in, q, out) != CHECK_OK)
		return out->result;
	if (in->n_cookie > 1)
		return fail(out, CHECK_BAD_COOKIE, "repeated cookie");
	if (in->cookie == NULL || in->cookie[0] == '\0')
		return fail(out, CHECK_NO_COOKIE, NULL);
	q->token_len = strnlen(in->cookie, TOKEN_STR_MAX);
	if (q->token_len >= TOKEN_STR_MAX)
		return fail(out, CHECK_BAD_COOKIE, "oversized cookie");
	q->token = in->cookie;
	return CHECK_OK;
}

static int
token_result(int rc)
{
	switch (rc) {
	case TOKEN_OK:          return CHECK_OK;
	case TOKEN_UNKNOWN_KEY: return CHECK_UNKNOWN_KEY;
	case TOKEN_BAD_TAG:     return CHECK_BAD_TAG;
	case TOKEN_EXPIRED:     return CHECK_EXPIRED;
	default:                return CHECK_BAD_COOKIE;
	}
}

/*
 * The decision under the read lock. *rechk is set when the right looks idle
 * in memory and may be re-read from the store (once a second per right).
 */
static int
decide_locked(struct cache *c, const struct cid_conf *cc, const struct check_req *q,
              int64_t now, struct check_out *out, struct token *t, int *rechk)
{
	const struct cache_service *svc;
	struct cache_right *r;
	int64_t at;
	int rc, state;

	if (!cache_usable_locked(c))
		return CHECK_UNAVAILABLE;
	if ((svc = cache_service_locked(c, q->service)) == NULL)
		return CHECK_UNKNOWN_SERVICE;
	out->service_id = svc->id;          /* the service exists: its metrics count this check */
	if ((rc = token_result(token_verify(&c->kr, now, q->token, q->token_len, t))) != CHECK_OK) {
		if (rc == CHECK_BAD_COOKIE || rc == CHECK_BAD_TAG)
			out->why = rc == CHECK_BAD_TAG ? "forged or damaged cookie" : "not a cookie token";
		return rc;
	}
	if (t->service_id != svc->id)
		return CHECK_WRONG_SERVICE;
	if ((r = cache_right_locked(c, t->sid)) == NULL)
		return CHECK_NO_RIGHT;
	if (r->service_id != svc->id)
		return CHECK_WRONG_SERVICE;
	state = right_state(0, r->expires_at,
	                    atomic_load_explicit(&r->seen, memory_order_relaxed) + svc->interval_s, now);
	if (state == RIGHT_EXPIRED)
		return CHECK_EXPIRED;
	if (cc->bind_ip && !addr_eq(&r->ip, &q->client))
		return CHECK_WRONG_IP;
	if (state == RIGHT_IDLE) {
		at = atomic_load(&r->recheck_at);
		*rechk = at <= now && atomic_compare_exchange_strong(&r->recheck_at, &at,
		                                                      now + CID_RECHECK_S);
		return CHECK_IDLE;
	}
	cache_seen(r, now);
	out->right_id = r->id;
	out->remaining = r->expires_at - now;
	snprintf(out->user, sizeof out->user, "%s", r->user);
	return CHECK_OK;
}

/* Whether the store has seen a use the cache has not (authd's portal, another cid). */
static int
reread_idle(struct cache *c, const struct token *t, int64_t now)
{
	struct store_right sr;
	int rc;

	if (c->reread == NULL)
		return 0;
	rc = c->reread(c->reread_arg, t->sid, &sr);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && sr.ended_at != 0)) {
		if (rc == STORE_OK)
			cache_drop_right(c, sr.id);
		return 0;
	}
	if (rc != STORE_OK)
		return 0;
	cache_raise_seen(c, sr.id, sr.last_seen);
	return right_usable(&sr, now);
}

int
check_run(struct cache *c, const struct cid_conf *cc, const struct check_req *q, int64_t now,
          struct check_out *out)
{
	struct token t;
	int rechk = 0;

	memset(out, 0, sizeof *out);
	memcpy(out->service, q->service, sizeof out->service);
	cache_rdlock(c);
	out->result = decide_locked(c, cc, q, now, out, &t, &rechk);
	cache_unlock(c);
	if (out->result == CHECK_IDLE && rechk && reread_idle(c, &t, now)) {
		rechk = 0;
		cache_rdlock(c);
		out->result = decide_locked(c, cc, q, now, out, &t, &rechk);
		cache_unlock(c);
	}
	return out->result;
}
