#include <poll.h>
#include <string.h>

#include "feedwatch.h"
#include "log.h"

/* Sleeps ms in slices so a stop request is seen within FEEDWATCH_SLICE_MS. */
static void
pause_ms(struct feedwatch *w, int ms)
{
	for (; ms > 0 && !atomic_load(&w->stop); ms -= FEEDWATCH_SLICE_MS)
		poll(NULL, 0, ms < FEEDWATCH_SLICE_MS ? ms : FEEDWATCH_SLICE_MS);
}

static void *
watch_main(void *arg)
{
	struct feedwatch *w = arg;
	struct store *s = NULL;
	char err[256];
	int woken, down = 0;

	while (!atomic_load(&w->stop)) {
		if (s == NULL && (s = store_open(w->db, STORE_OPEN_READONLY, err, sizeof err)) == NULL) {
			if (!down)
				log_warn("event=feed_watch result=failed error=\"%s\" effect=\"changes are seen at the next poll\"", err);
			down = 1;
			pause_ms(w, FEEDWATCH_RETRY_MS);
			continue;
		}
		if (store_wait(s, FEEDWATCH_SLICE_MS, &woken) != STORE_OK) {
			if (!down)
				log_warn("event=feed_watch result=failed error=\"%s\" effect=\"changes are seen at the next poll\"",
				         store_error(s));
			down = 1;
			store_close(s);      /* a fresh connection subscribes afresh */
			s = NULL;
			pause_ms(w, FEEDWATCH_RETRY_MS);
			continue;
		}
		if (down)
			log_info("event=feed_watch result=ok");
		down = 0;
		if (woken)
			w->wake(w->arg);
	}
	if (s != NULL)
		store_close(s);
	return NULL;
}

int
feedwatch_start(struct feedwatch *w, const struct conf_db *db, void (*wake)(void *arg), void *arg)
{
	memset(w, 0, sizeof *w);
	w->db = db;
	w->wake = wake;
	w->arg = arg;
	if (db->url[0] == '\0')
		return 0;            /* SQLite: no notifications, the caller polls */
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
		return -1;
	w->running = 1;
	return 0;
}

void
feedwatch_stop(struct feedwatch *w)
{
	if (!w->running)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	w->running = 0;
}
