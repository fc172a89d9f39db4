#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "log.h"

/*
 * The enabled services as the login form shows them to a browser that is not
 * logged in (no access list applies), kept FORMCACHE_MS. A thousand users
 * arriving at once ask GET / a thousand times within a second while their
 * logins write to the store; from here the form needs no store connection
 * at all, and its free places are at most FORMCACHE_MS old (the admission
 * itself always counts in the store).
 *
 * An event thread never reads the store (authd.h), and no user waits for
 * the list to be read again: once it is older than FORMCACHE_MS the next
 * request wakes the refresher thread and is answered, as are the others,
 * from the list as it was (up to FORMCACHE_STALE_MS old) until the
 * refresher has read it. A store that does not answer is asked again at
 * most every FORMCACHE_MS.
 */

#define FORMCACHE_MS       1000
#define FORMCACHE_STALE_MS 30000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct store_service *kept;
static size_t n_kept;
static int64_t kept_ms, tried_ms;
static int valid, wanted, running, stopping;
static pthread_t refresher;
static formcache_reader reader;
static void *reader_arg;

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
	} else if (valid && age < FORMCACHE_STALE_MS && running) {
		fresh = 1;
		if (!wanted && now - tried_ms >= FORMCACHE_MS) {
			wanted = 1;
			pthread_cond_signal(&wake);
		}
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

struct collected { struct store_service *v; size_t n, cap; };

static int
collect(const struct store_service *svc, void *arg)
{
	struct collected *c = arg;
	struct store_service *nv;

	if (!svc->enabled)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		if ((nv = realloc(c->v, c->cap * sizeof *nv)) == NULL)
			return 1;
		c->v = nv;
	}
	c->v[c->n++] = *svc;
	return 0;
}

int
formcache_read(struct store *st, struct store_service **v, size_t *n)
{
	struct collected c = { NULL, 0, 0 };
	int rc = store_service_list(st, 0, collect, &c);

	if (rc != STORE_OK) {
		log_err("event=store_unavailable op=service_list error=\"%s\"", store_error(st));
		free(c.v);
		return rc;
	}
	*v = c.v;
	*n = c.n;
	return STORE_OK;
}

static void *
refresh_main(void *arg)
{
	struct store_service *v;
	size_t n;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		if (!wanted) {
			pthread_cond_wait(&wake, &lock);
			continue;
		}
		tried_ms = clock_mono_ms();
		pthread_mutex_unlock(&lock);
		v = NULL;
		if (reader(reader_arg, &v, &n) == 0)
			formcache_put(v, n);
		free(v);
		pthread_mutex_lock(&lock);
		wanted = 0;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int
formcache_start(formcache_reader read, void *arg)
{
	pthread_mutex_lock(&lock);
	reader = read;
	reader_arg = arg;
	stopping = wanted = 0;
	running = pthread_create(&refresher, NULL, refresh_main, NULL) == 0;
	pthread_mutex_unlock(&lock);
	return running ? 0 : -1;
}

void
formcache_stop(void)
{
	int was;

	pthread_mutex_lock(&lock);
	was = running;
	stopping = 1;
	running = 0;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (was)
		pthread_join(refresher, NULL);
	pthread_mutex_lock(&lock);
	free(kept);
	kept = NULL;
	n_kept = 0;
	valid = 0;
	pthread_mutex_unlock(&lock);
}
