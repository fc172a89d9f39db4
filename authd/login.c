#include <stdio.h>
#include <string.h>

#include "authd.h"
#include "log.h"
#include "token.h"

/*
 * Portal logins and CSRF, for the portal and any page added later (admin UI).
 *
 * A portal login is a random id in the cookie LOGIN_COOKIE; the store keeps
 * only its SHA-256 and a CSRF token, which every form of a logged-in page
 * carries. Before login (the login form itself) CSRF is a double submit: a
 * random value in the cookie CSRF_COOKIE and the same value in the form. Both
 * cookies are HttpOnly and SameSite=Strict; in addition a browser's
 * Sec-Fetch-Site must say the form came from this origin (or was typed).
 *
 * A device cookie (DEVICE_COOKIE), given at a successful login, is another
 * random value: the store keeps only its hash as a source the user logged in
 * from, which the login throttle trusts (lockout.c).
 */

#define CSRF_COOKIE_AGE (24 * 3600)

/* A value we issued: exactly RANDOM_STR_LEN base64url characters. */
static int
random_shape(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

	return n == RANDOM_STR_LEN && s[n] == '\0';
}

/* The single, well-formed value of cookie name; NULL otherwise. */
const char *
login_cookie_of(const struct http_req *r, const char *name)
{
	const char *v = http_cookie(r, name);

	if (v == NULL || http_cookie_count(r, name) != 1 || !random_shape(v))
		return NULL;
	return v;
}

const char *
login_cookie(struct req *q, const char *name)
{
	return login_cookie_of(q->r, name);
}

void
login_cookie_set(struct req *q, const char *name, const char *value, int max_age_s)
{
	char c[256];

	snprintf(c, sizeof c, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
	         name, value, max_age_s, q->v->https || http_is_tls(q->r) ? "; Secure" : "");
	http_add_header(q->r, "Set-Cookie", c);
}

int
login_device(struct req *q, char out[LOCK_SOURCE_MAX + 1])
{
	const char *v = login_cookie(q, DEVICE_COOKIE);
	char h[CODE_HASH_LEN + 1];

	if (v == NULL)
		return -1;
	sha256_hex(v, strlen(v), h);
	snprintf(out, LOCK_SOURCE_MAX + 1, "d:%.*s", DEVICE_HEX_LEN, h);
	return 0;
}

int
login_device_issue(struct req *q, int max_age_s, char out[LOCK_SOURCE_MAX + 1])
{
	char id[RANDOM_STR_LEN + 1], h[CODE_HASH_LEN + 1];

	if (random_b64url(id, sizeof id, RANDOM_BYTES) == -1)
		return -1;
	sha256_hex(id, strlen(id), h);
	snprintf(out, LOCK_SOURCE_MAX + 1, "d:%.*s", DEVICE_HEX_LEN, h);
	login_cookie_set(q, DEVICE_COOKIE, id, max_age_s);
	return 0;
}

int
login_lookup(struct req *q)
{
	const char *id = login_cookie(q, LOGIN_COOKIE);
	struct store *st;
	int rc;

	q->logged_in = 0;
	if (id == NULL)
		return 0;
	if ((st = req_store(q)) == NULL)
		return -1;
	sha256_hex(id, strlen(id), q->login_hash);
	rc = store_login_get(st, q->login_hash, q->now, q->v->conf.authd.login_idle_min * 60,
	                     &q->login);
	if (rc == STORE_OK) {
		q->logged_in = 1;
		return 0;
	}
	if (rc == STORE_NOTFOUND)
		return 0;
	q->st_broken = 1;
	log_err("event=store_unavailable op=login_get error=\"%s\"", store_error(st));
	return -1;
}

int
login_begin(struct req *q, const struct store_user *u)
{
	char id[RANDOM_STR_LEN + 1], csrf[RANDOM_STR_LEN + 1];
	int64_t ttl = (int64_t)q->v->conf.authd.login_ttl_min * 60;
	struct store *st = req_store(q);

	if (st == NULL)
		return -1;
	if (q->logged_in)
		store_login_del(st, q->login_hash);
	q->logged_in = 0;
	if (random_b64url(id, sizeof id, RANDOM_BYTES) == -1 ||
	    random_b64url(csrf, sizeof csrf, RANDOM_BYTES) == -1)
		return -1;
	sha256_hex(id, strlen(id), q->login_hash);
	if (store_login_put(st, q->login_hash, u->id, csrf, q->now, q->now + ttl) != STORE_OK) {
		log_err("event=store_unavailable op=login_put error=\"%s\"", store_error(st));
		q->st_broken = 1;
		return -1;
	}
	memset(&q->login, 0, sizeof q->login);
	q->login.user_id = u->id;
	snprintf(q->login.user_name, sizeof q->login.user_name, "%s", u->name);
	q->login.role = u->role;
	snprintf(q->login.csrf, sizeof q->login.csrf, "%s", csrf);
	q->login.created_at = q->login.last_seen = q->now;
	q->login.expires_at = q->now + ttl;
	q->logged_in = 1;
	login_cookie_set(q, LOGIN_COOKIE, id, (int)ttl);
	return 0;
}

void
login_end(struct req *q)
{
	struct store *st;

	if (q->logged_in && (st = req_store(q)) != NULL &&
	    store_login_del(st, q->login_hash) == STORE_UNAVAILABLE)
		log_err("event=store_unavailable op=login_del error=\"%s\"", store_error(st));
	q->logged_in = 0;
	login_cookie_set(q, LOGIN_COOKIE, "", 0);
}

const char *
login_csrf_issue(struct req *q, char out[RANDOM_STR_LEN + 1])
{
	const char *have = login_cookie(q, CSRF_COOKIE);

	if (have != NULL) {
		memcpy(out, have, RANDOM_STR_LEN + 1);
		return out;
	}
	if (random_b64url(out, RANDOM_STR_LEN + 1, RANDOM_BYTES) == -1)
		return NULL;
	login_cookie_set(q, CSRF_COOKIE, out, CSRF_COOKIE_AGE);
	return out;
}

/* A browser's word on where the form came from, when it gives one. */
static int
fetch_site_ok(struct req *q)
{
	const char *s = http_header(q->r, "Sec-Fetch-Site");

	return s == NULL || strcmp(s, "same-origin") == 0 || strcmp(s, "none") == 0;
}

int
login_csrf_check(struct req *q, int logged_in_form)
{
	const char *field = http_form(q->r, "csrf"), *want;

	if (field == NULL || !fetch_site_ok(q))
		return -1;
	want = logged_in_form ? (q->logged_in ? q->login.csrf : NULL) : login_cookie(q, CSRF_COOKIE);
	if (want == NULL || want[0] == '\0' || strlen(field) != strlen(want))
		return -1;
	return ct_equal(field, want, strlen(want)) ? 0 : -1;
}
