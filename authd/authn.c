#include <errno.h>
#include <time.h>

#include "authd.h"
#include "log.h"
#include "passwd.h"

/*
 * Name and password checks for every login form. The order matters:
 *   1. refuse at once when the client IP or the account has no attempt left,
 *      so a flood of guesses never queues for a hash worker;
 *   2. wait for a hash worker (memory-hard hashes are bounded to hash_workers);
 *   3. only then reserve the attempt, and settle it before giving the worker
 *      back: at most hash_workers reservations are ever outstanding, so
 *      parallel guesses cannot overdraw a bucket, and many honest users behind
 *      one NAT address logging in at once are not refused (as long as
 *      throttle_ip_burst >= hash_workers);
 *   4. verify (an unknown name against a dummy hash: same cost).
 */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
hash_worker(struct authd *a)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HASH_WAIT_S;
	while (sem_timedwait(&a->hash_sem, &deadline) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* 1 match, 0 not (a malformed stored hash is logged and does not match). */
static int
verify(const char *pw, const char *hash)
{
	char err[160];
	int rc = passwd_verify(pw, hash, err, sizeof err);

	if (rc == -1)
		log_err("event=bad_password_hash why=\"%s\"", err);
	return rc == 1;
}

int
authn_check(struct req *q, struct store *st, const char *name, const char *pw,
            struct store_user *u, int *retry_s)
{
	struct throttle *t = q->a->throttle;
	const char *account = name_valid(name) ? name : NULL;
	struct throttle_ticket tk;
	int rc, ok;

	if (throttle_check(t, q->ipstr, account, now_ms(), retry_s) == -1)
		return AUTHN_THROTTLED;
	rc = account != NULL ? store_user_get(st, account, u) : STORE_NOTFOUND;
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		q->st_broken = 1;
		return AUTHN_STORE_DOWN;
	}
	if (hash_worker(q->a) == -1)
		return AUTHN_BUSY;
	if (throttle_begin(t, q->ipstr, account, now_ms(), &tk, retry_s) == -1) {
		sem_post(&q->a->hash_sem);
		return AUTHN_THROTTLED;
	}
	ok = verify(pw, rc == STORE_OK ? u->pwhash : q->a->dummy_hash);
	ok = ok && rc == STORE_OK && !u->disabled;
	throttle_done(t, q->ipstr, account, ok ? THROTTLE_OK : THROTTLE_FAILED, now_ms(), &tk);
	sem_post(&q->a->hash_sem);
	return ok ? AUTHN_OK : AUTHN_BAD;
}
