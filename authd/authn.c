#include <stdio.h>
#include <string.h>

#include "authd.h"
#include "log.h"
#include "passwd.h"

/*
 * Name and password checks for every login form (docs/security.md, "Login
 * throttling"). The order matters:
 *   1. find the login's source: a device cookie or address that logged in to
 *      the account before is trusted (lockout.c);
 *   2. refuse at once, remembering nothing, when the client address's bucket
 *      or the global one is empty (throttle.c), so a flood of guesses never
 *      queues for a hash worker nor fills a table;
 *   3. refuse while the (account, source) backoff runs, or the account's for
 *      an untrusted source; else count the failure before the hash (lockout.c);
 *   4. queue for a hash worker (hashpool.c: memory-hard hashes are bounded to
 *      hash_workers);
 *   5. the worker reserves the address's and the global check, verifies (an
 *      unknown name against a dummy hash: same cost) and settles before
 *      taking the next: at most hash_workers reservations are ever
 *      outstanding, so parallel guesses cannot overdraw a bucket, and many
 *      honest users behind one NAT address logging in at once are not refused
 *      (as long as throttle_ip_burst >= hash_workers);
 *   6. a right password clears its source's count and remembers the source.
 */

/*
 * After a successful check, a hash made with weaker parameters than today's
 * default is replaced by one made with it: the password is in hand only now.
 * It costs this one login a second hash; a failure is logged and changes
 * nothing else. st NULL: take the request's connection again.
 */
static void
upgrade(struct req *q, struct store *st, struct store_user *u, const char *pw)
{
	char h[HASH_MAX_LEN + 1];

	if (!passwd_needs_rehash(u->pwhash, &passwd_default) || hashpool_hash(q->a, pw, h, sizeof h) == -1)
		return;
	if (st == NULL && (st = req_store(q)) == NULL)
		return;
	if (store_user_rehash(st, u->id, u->pwhash, h) != STORE_OK) {
		log_warn("event=rehash_failed user=%s error=\"%s\"", u->name, store_error(st));
		return;
	}
	memcpy(u->pwhash, h, sizeof h);
	log_info("event=rehash user=%s params=ln%d,r%d,p%d", u->name, passwd_default.ln,
	         passwd_default.r, passwd_default.p);
}

/* The check; with release, q's store connection goes back to the pool during the hash. */
/* Steps 1-3 above. AUTHN_OK to go on to the hash, else the answer. */
static int
admit_attempt(struct req *q, struct store *st, const char *account, struct lockout_src *src,
              int *retry_s)
{
	struct throttle_params p;
	int rc;

	memset(src, 0, sizeof *src);
	snprintf(src->source, sizeof src->source, "%s", q->ipstr);
	if (account != NULL && lockout_source(q, st, account, src) == -1)
		return AUTHN_STORE_DOWN;
	if (throttle_check(q->a->throttle, q->ipstr, src->flags, clock_mono_ms(), retry_s) == -1)
		return AUTHN_THROTTLED;
	if (account == NULL)
		return AUTHN_OK;
	throttle_params_conf(&q->v->conf, &p);
	if ((rc = lockout_begin(st, &p, account, src, q->now, retry_s)) == -1) {
		q->st_broken = 1;
		return AUTHN_STORE_DOWN;
	}
	return rc == 1 ? AUTHN_THROTTLED : AUTHN_OK;
}

static int
check(struct req *q, struct store *st, const char *name, const char *pw, struct store_user *u,
      int *retry_s, int release)
{
	const char *account = name_valid(name) ? name : NULL;
	struct lockout_src src;
	int rc = STORE_NOTFOUND, found, result;

	if ((result = admit_attempt(q, st, account, &src, retry_s)) != AUTHN_OK)
		return result;
	if (account != NULL)
		rc = store_user_get(st, account, u);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		q->st_broken = 1;
		lockout_settle(q, st, account, &src, AUTHN_STORE_DOWN);
		return AUTHN_STORE_DOWN;
	}
	found = rc == STORE_OK;
	if (release)
		req_store_release(q);
	result = hashpool_verify(q->a->hashes, q->ipstr, src.flags, pw,
	                         found ? u->pwhash : q->a->dummy_hash, found && !u->disabled, retry_s);
	lockout_settle(q, release ? NULL : st, account, &src, result);
	if (result == AUTHN_OK)
		upgrade(q, release ? NULL : st, u, pw);
	return result;
}

int
authn_check(struct req *q, struct store *st, const char *name, const char *pw,
            struct store_user *u, int *retry_s)
{
	return check(q, st, name, pw, u, retry_s, 0);
}

int
authn_login(struct req *q, const char *name, const char *pw, struct store_user *u, int *retry_s)
{
	struct store *st = req_store(q);

	if (st == NULL)
		return AUTHN_STORE_DOWN;
	return check(q, st, name, pw, u, retry_s, 1);
}
