#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cid.h"
#include "http.h"
#include "log.h"
#include "right.h"

/*
 * The entry handoff: authd sends the browser to <service origin>/_sekisho/enter
 * with a one-time code; cid redeems it (single use, short TTL, bound to a
 * live right), sets the cookie on this host and sends the browser on to the
 * service. Rare next to checks, so it may use the store on the HTTP thread.
 */

#define SYNC_WAIT_MS 500         /* for the follower to pick up the new right */
#define POOL_BUSY_MS 250         /* longest wait for the store's write lock */

/*
 * Handoffs and re-reads run on the HTTP event threads, where every check of
 * the thread waits with them: their connections wait at most POOL_BUSY_MS
 * for a busy store and then fail (the user retries) instead of stalling
 * checks. One connection per thread at most (the SPOE agent's thread
 * included), so no thread waits for one.
 */
struct dbpool *
pool_new(const struct conf *c)
{
	struct conf_db db = c->db;

	if (db.busy_timeout_ms > POOL_BUSY_MS)
		db.busy_timeout_ms = POOL_BUSY_MS;
	return dbpool_new(&db, c->cid.threads + (c->cid.spoe_listen[0] != '\0'));
}

struct store *
pool_get(struct dbpool *p)
{
	struct store *s;
	char err[256];

	if ((s = dbpool_get(p, err, sizeof err)) == NULL)
		log_warn("event=store_unavailable error=\"%s\"", err);
	return s;
}

int
pool_reread(void *arg, const uint8_t sid[SID_BYTES], struct store_right *r)
{
	struct dbpool *p = arg;
	char hex[SID_HEX_LEN + 1];
	struct store *s;
	int rc;

	if ((s = pool_get(p)) == NULL)
		return STORE_UNAVAILABLE;
	sid_to_hex(sid, hex);
	rc = store_right_by_sid(s, hex, r);
	dbpool_put(p, s, rc == STORE_UNAVAILABLE);
	return rc;
}

/* An entry code as authd makes them: base64url, CID_CODE_MIN..CID_CODE_MAX characters. */
static int
code_valid(const char *code)
{
	size_t n;

	if (code == NULL || (n = strnlen(code, CID_CODE_MAX + 1)) < CID_CODE_MIN || n > CID_CODE_MAX)
		return 0;
	return strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/*
 * Redeems the code from client at the door of service asked (NULL: the door
 * does not say): the right (live) and its service. A store_rc; on OK both are
 * filled; on STORE_INVALID (another address or service: the code stays for
 * its owner) r is the code's right.
 */
static int
redeem(struct cid *cid, const char *code, const struct addr *client, const char *asked,
       int64_t now, struct store_right *r, struct store_service *svc)
{
	char hash[CODE_HASH_LEN + 1];
	struct store *s;
	int rc;

	sha256_hex(code, strlen(code), hash);
	if ((s = pool_get(cid->pool)) == NULL)
		return STORE_UNAVAILABLE;
	rc = store_code_take(s, hash, client, asked, now, r);
	if (rc == STORE_OK && !right_usable(r, now))
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK) {
		rc = store_service_get_id(s, r->service_id, svc);
		if (rc == STORE_OK && !svc->enabled)
			rc = STORE_NOTFOUND;
	}
	dbpool_put(cid->pool, s, rc == STORE_UNAVAILABLE);
	return rc;
}

/* Signs the cookie token of right r with the current key. 0 or -1 (no key). */
static int
sign_cookie(struct cid *cid, const struct store_right *r, int64_t now, char *tok, size_t len)
{
	struct token t;
	int rc;

	memset(&t, 0, sizeof t);
	if (sid_from_hex(r->sid, t.sid) == -1)
		return -1;
	t.service_id = r->service_id;
	t.expires_at = r->expires_at;
	cache_rdlock(&cid->cache);
	rc = token_sign(&cid->cache.kr, now, &t, tok, len);
	cache_unlock(&cid->cache);
	return rc;
}

static int
set_cookie(struct http_req *req, struct cid *cid, const char *tok, int64_t max_age, int https)
{
	char v[TOKEN_STR_MAX + 160];
	int secure = cid->cc.secure == 1 || (cid->cc.secure == -1 && https);

	snprintf(v, sizeof v, "%s=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld%s",
	         cid->cc.cookie, tok, (long long)max_age, secure ? "; Secure" : "");
	return http_add_header(req, "Set-Cookie", v);
}

static void
refuse(struct http_req *req, struct cid *cid, int result, int status, const char *title,
       const char *text, const char *service)
{
	metrics_handoff(result);
	cid_page(req, cid, status, title, text, service);
}

/*
 * The request as check sees it: the browser's address and scheme in q
 * (*client_ok 0 when a trusted proxy's forwarded address is malformed) and, in
 * asked, the service it came through (check_service). 1 asked filled, 0 not
 * said, -1 malformed (then asked holds nothing).
 */
static int
request_view(struct http_req *req, struct cid *cid, struct check_req *q, int *client_ok,
             char asked[NAME_MAX_LEN + 1])
{
	struct check_in in;
	struct check_out out;
	const char *why;

	cid_check_in(req, cid, NULL, &in);
	memset(q, 0, sizeof *q);
	memset(&out, 0, sizeof out);
	asked[0] = '\0';
	*client_ok = check_client(&cid->cc, &in, q, &out) == CHECK_OK;
	return check_service(&cid->cc, &in, q->via_proxy, asked, &why);
}

static void
refuse_other_service(struct http_req *req, struct cid *cid, int64_t right_id,
                     const char *service, const char *asked)
{
	log_warn("event=handoff result=wrong_service right=%lld service=%s asked=%s",
	         (long long)right_id, service, asked != NULL ? asked : "(malformed)");
	refuse(req, cid, HANDOFF_WRONG_SERVICE, 403, "This entry link is for another service",
	       "The link was issued for a different service. Please sign in again.", asked);
}

/* A good code presented from another address or at another service's door: it stays. */
static void
refuse_misplaced(struct http_req *req, struct cid *cid, const struct store_right *r,
                 const struct addr *client, const char *asked)
{
	char ip[ADDR_STR_MAX], want[ADDR_STR_MAX];

	if (addr_eq(&r->ip, client)) {
		refuse_other_service(req, cid, r->id, r->service_name, asked);
		return;
	}
	log_warn("event=handoff result=wrong_address right=%lld ip=%s issued_to=%s",
	         (long long)r->id, addr_str(client, ip, sizeof ip), addr_str(&r->ip, want, sizeof want));
	refuse(req, cid, HANDOFF_WRONG_ADDRESS, 403, "This entry link is for another device",
	       "The link was issued to the device you signed in from. Open it there, or sign in "
	       "again here.", asked);
}

void
handoff_enter(struct http_req *req, struct cid *cid)
{
	const char *code = http_query(req, "code");
	struct store_service svc;
	struct store_right r;
	struct check_req q;
	char tok[TOKEN_STR_MAX], asked[NAME_MAX_LEN + 1];
	int64_t now = time(NULL);
	int rc, client_ok, said = request_view(req, cid, &q, &client_ok, asked);

	if (!code_valid(code) || !client_ok) {
		cid_log_bad("event=handoff result=bad_code error=\"missing, oversized or not base64url, "
		            "or a malformed forwarded address\"");
		refuse(req, cid, HANDOFF_BAD_CODE, 400, "This entry link is not valid",
		       "The link that brought you here is incomplete or damaged. Please sign in again.", NULL);
		return;
	}
	if (said == -1) {           /* refused before the store: the code stays for its owner */
		refuse_other_service(req, cid, 0, "-", NULL);
		return;
	}
	rc = redeem(cid, code, &q.client, said == 1 ? asked : NULL, now, &r, &svc);
	if (rc != STORE_OK) {
		if (rc == STORE_UNAVAILABLE) {
			log_err("event=handoff result=unavailable error=\"store unavailable\"");
			refuse(req, cid, HANDOFF_UNAVAILABLE, 503, "Temporarily unavailable",
			       "Access cannot be checked right now. Please try again in a moment.", NULL);
		} else if (rc == STORE_INVALID) {
			refuse_misplaced(req, cid, &r, &q.client, said == 1 ? asked : NULL);
		} else {
			log_info("event=handoff result=unknown_code");
			refuse(req, cid, HANDOFF_UNKNOWN_CODE, 410, "This entry link has already been used",
			       "Entry links work once and only for a short time. Please sign in again.",
			       said == 1 ? asked : NULL);
		}
		return;
	}
	if (follow_sync(&cid->follower, SYNC_WAIT_MS) != STORE_OK)
		log_warn("event=handoff error=\"cache not caught up; the first check may wait\" right=%lld",
		         (long long)r.id);
	if (sign_cookie(cid, &r, now, tok, sizeof tok) == -1) {
		log_err("event=handoff result=unavailable error=\"no current cookie key\"");
		refuse(req, cid, HANDOFF_UNAVAILABLE, 503, "Temporarily unavailable",
		       "Access cannot be granted right now. Please try again in a moment.", svc.name);
		return;
	}
	if (set_cookie(req, cid, tok, r.expires_at - now, q.https) == -1 ||
	    http_add_header(req, "Location", svc.url) == -1 ||
	    http_add_header(req, "Cache-Control", "no-store") == -1 ||
	    http_add_header(req, "Referrer-Policy", "no-referrer") == -1) {
		http_reply(req, 500, "text/plain; charset=utf-8", "internal error\n", 15);
		return;
	}
	metrics_handoff(HANDOFF_OK);
	log_info("event=handoff result=ok right=%lld user=%s service=%s", (long long)r.id,
	         r.user_name, svc.name);
	http_reply(req, 303, NULL, "", 0);
}
