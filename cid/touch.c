#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cid.h"
#include "log.h"

#define TOUCH_SLICE_MS 100

/*
 * Validated checks only mark a right in memory (cache_seen). This thread
 * writes the marks every touch_interval_ms, CID_TOUCH_BATCH rights per
 * transaction, on its own store connection: never one write per request.
 */

static int
touch_open(struct toucher *t)
{
	char err[256];

	if (t->store != NULL)
		return 0;
	if ((t->store = store_open(&t->conf->db, 0, err, sizeof err)) == NULL) {
		log_warn("event=touch_error error=\"%s\"", err);
		return -1;
	}
	return 0;
}

long
touch_flush(struct toucher *t)
{
	int64_t *ids = t->ids, *seen = t->seen;
	long total = 0;
	size_t n;
	int rc;

	while ((n = cache_take_dirty(t->cache, ids, seen, CID_TOUCH_BATCH)) > 0) {
		if (touch_open(t) == -1 || (rc = store_touch(t->store, ids, seen, n)) != STORE_OK) {
			if (t->store != NULL) {
				log_warn("event=touch_error rights=%zu error=\"%s\"", n, store_error(t->store));
				store_close(t->store);
				t->store = NULL;
			}
			cache_redirty(t->cache, ids, n);
			return -1;
		}
		total += (long)n;
		metrics_touch((long)n);
		if (n < CID_TOUCH_BATCH)
			break;
	}
	return total;
}

/* Sleeps ms in short slices, so a stop is noticed within TOUCH_SLICE_MS. */
static void
touch_sleep(struct toucher *t, int ms)
{
	struct timespec ts;
	int step;

	while (ms > 0 && !atomic_load(&t->stop)) {
		step = ms < TOUCH_SLICE_MS ? ms : TOUCH_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		ms -= step;
	}
}

static void *
touch_main(void *arg)
{
	struct toucher *t = arg;

	while (!atomic_load(&t->stop)) {
		touch_sleep(t, t->conf->cid.touch_interval_ms);
		if (!atomic_load(&t->stop))
			touch_flush(t);
	}
	return NULL;
}

int
touch_start(struct toucher *t, struct cache *c, const struct conf *conf)
{
	memset(t, 0, sizeof *t);
	t->cache = c;
	t->conf = conf;
	if (pthread_create(&t->thread, NULL, touch_main, t) != 0)
		return -1;
	t->running = 1;
	return 0;
}

void
touch_stop(struct toucher *t)
{
	if (t->running) {
		atomic_store(&t->stop, 1);
		pthread_join(t->thread, NULL);
		t->running = 0;
	}
	if (touch_flush(t) < 0)
		log_err("event=touch_error error=\"last-seen times not written at exit\"");
	if (t->store != NULL)
		store_close(t->store);
	t->store = NULL;
}
