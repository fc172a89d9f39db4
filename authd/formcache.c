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
 */

#define FORMCACHE_MS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_service *kept;
static size_t n_kept;
static int64_t kept_ms;
static int valid;

int
formcache_get(struct store_service **v, size_t *n)
{
	int rc = -1;

	pthread_mutex_lock(&lock);
	if (valid && clock_mono_ms() - kept_ms < FORMCACHE_MS &&
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
	int fresh;

	pthread_mutex_lock(&lock);
	fresh = valid && clock_mono_ms() - kept_ms < FORMCACHE_MS;
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
