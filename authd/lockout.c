#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "authd.h"
#include "log.h"

/*
 * The per-account half of the login throttle, kept in the store so that a
 * restart does not reset it, sekishoctl and the admin pages can list and
 * clear it, and no flood of requests can push it out (docs/security.md,
 * "Login throttling").
 *
 * A login's source is the device cookie it brought when that device logged
 * in to the account before, else its client address. Every password check
 * counts as a failure of (account, source) and of the account before the
 * hash; a right password clears its source and gives the account's back.
 * Reading the counts and adding the failure happen under one lock, so
 * parallel guesses cannot slip past a backoff (one authd writes them).
 */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t
known_since(const struct req *q)
{
	return q->now - (int64_t)q->v->conf.authd.throttle_known_days * 86400;
}

/* STORE_OK: account logged in from source recently; NOTFOUND: not; else the store's failure. */
static int
known(struct req *q, struct store *st, const char *account, const char *source)
{
	int rc = store_known_has(st, account, source, known_since(q));

	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		q->st_broken = 1;
		log_err("event=store_unavailable op=known_has error=\"%s\"", store_error(st));
	}
	return rc;
}

int
lockout_source(struct req *q, struct store *st, const char *account, struct lockout_src *src)
{
	int rc;

	memset(src, 0, sizeof *src);
	snprintf(src->source, sizeof src->source, "%s", q->ipstr);
	if (login_device(q, src->device) == 0) {
		if ((rc = known(q, st, account, src->device)) == STORE_OK) {
			memcpy(src->source, src->device, sizeof src->source);
			src->trusted = 1;
			src->flags = THROTTLE_NO_IP | THROTTLE_NO_GLOBAL;
			return 0;
		}
		if (rc != STORE_NOTFOUND)
			return -1;
	}
	if ((rc = known(q, st, account, q->ipstr)) == STORE_OK) {
		src->trusted = 1;
		src->flags = THROTTLE_NO_GLOBAL;
	}
	return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

int
lockout_begin(struct store *st, const struct throttle_params *p, const char *account,
              const struct lockout_src *src, int64_t now, int *retry_s)
{
	struct store_lockout pair = { .failures = 0 }, acct = { .failures = 0 };
	int rc, wa;

	*retry_s = 0;
	pthread_mutex_lock(&count_lock);
	rc = store_lockout_state(st, account, src->source, &pair, &acct);
	if (rc == STORE_OK) {
		*retry_s = throttle_backoff_s(p, pair.failures, p->user_burst, pair.last_at, now);
		wa = src->trusted ? 0 : throttle_backoff_s(p, acct.failures, p->account_burst,
		                                           acct.last_at, now);
		*retry_s = wa > *retry_s ? wa : *retry_s;
		if (*retry_s == 0)
			rc = store_lockout_fail(st, account, src->source, now, now - THROTTLE_FORGET_S);
	}
	pthread_mutex_unlock(&count_lock);
	if (rc != STORE_OK) {
		log_err("event=store_unavailable op=lockout error=\"%s\"", store_error(st));
		return -1;
	}
	return *retry_s > 0;
}

/* A right password: the source is cleared and remembered, the browser gets a device cookie. */
static int
settle_ok(struct req *q, struct store *st, const char *account, const struct lockout_src *src)
{
	char dev[LOCK_SOURCE_MAX + 1];
	int days = q->v->conf.authd.throttle_known_days;

	if (store_lockout_refund(st, account, src->source, 1) != STORE_OK ||
	    store_known_add(st, account, q->ipstr, q->now) != STORE_OK)
		return -1;
	if (src->device[0] != '\0')
		memcpy(dev, src->device, sizeof dev);
	else if (login_device_issue(q, days * 86400, dev) == -1)
		return 0;
	return store_known_add(st, account, dev, q->now) == STORE_OK ? 0 : -1;
}

void
lockout_settle(struct req *q, struct store *st, const char *account,
               const struct lockout_src *src, int result)
{
	int rc = 0;

	if (account == NULL || result == AUTHN_BAD)
		return;
	if (st == NULL && (st = req_store(q)) == NULL)
		return;
	if (result == AUTHN_OK)
		rc = settle_ok(q, st, account, src);
	else if (store_lockout_refund(st, account, src->source, 0) != STORE_OK)
		rc = -1;
	if (rc == -1) {
		q->st_broken = 1;
		log_err("event=store_unavailable op=lockout_settle error=\"%s\"", store_error(st));
	}
}
