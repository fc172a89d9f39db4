#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"

/*
 * The enabled services as the login form shows them to a browser that is not
 * logged in (no access list applies), kept FORMCACHE_MS. A thousand users
 * arriving at once ask GET / a thousand times within a second while their
 * logins write to the store; from here the form needs no store connection
 * at all, and its free places are at most FORMCACHE_MS old (the admission
 * itself always counts in the store).
 *
 * An event thread never reads the store (authd.h): once the list is older
 * than FORMCACHE_MS, one request (formcache_fresh claims it) goes to a
 * worker to read it again while the others are served the list as it was,
 * up to FORMCACHE_STALE_MS old. A flood's store work queued ahead of that
 * worker delays the refresh, not the form.
 */

#define FORMCACHE_MS       1000
#define FORMCACHE_STALE_MS 30000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_service *kept;
static size_t n_kept;
static int64_t kept_ms;
static int64_t claimed_ms;               /* a refresh was sent to a worker then */
static int valid;

int
formcache_get(struct store_service **v, size_t *n, int stale_ok)
{
	int64_t most = stale_ok ? FORMCACHE_STALE_MS : FORMCACHE_MS;
	int rc = -1;

	pthread_mutex_lock(&lock);
	if (valid && clock_mono_ms() - kept_ms < most &&
	    (*v = malloc((n_kept > 0 ? n_kept : 1) * sizeof **v)) != NULL) {
		if (n_kept > 0)
			memcpy(*v, kept, n_kept * sizeof *kept);
		*n = n_kept;
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int
formcache_fresh(void)
{
	int64_t now = clock_mono_ms(), age;
	int fresh = 0;

	pthread_mutex_lock(&lock);
	age = now - kept_ms;
	if (valid && age < FORMCACHE_MS) {
		fresh = 1;
	} else if (valid && age < FORMCACHE_STALE_MS) {
		fresh = claimed_ms > kept_ms;    /* one refresh under way: the others wait not */
		if (!fresh)
			claimed_ms = now;
	}
	pthread_mutex_unlock(&lock);
	return fresh;
}

void
formcache_put(const struct store_service *v, size_t n)
{
	struct store_service *copy = malloc((n > 0 ? n : 1) * sizeof *copy);

	if (copy == NULL)
		return;
	if (n > 0)
		memcpy(copy, v, n * sizeof *v);
	pthread_mutex_lock(&lock);
	free(kept);
	kept = copy;
	n_kept = n;
	kept_ms = clock_mono_ms();
	valid = 1;
	pthread_mutex_unlock(&lock);
}
