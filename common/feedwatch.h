#ifndef SEKISHO_FEEDWATCH_H
#define SEKISHO_FEEDWATCH_H

#include <pthread.h>
#include <stdatomic.h>

#include "conf.h"
#include "store.h"

/*
 * A thread that sleeps on the store's change notifications (store_wait, on a
 * connection of its own) and calls wake(arg) whenever the change log may have
 * grown: on every notification, and after every (re)subscription, because
 * what committed before it subscribed notified nobody. wake must be cheap and
 * thread-safe (signal a condition, write to a pipe); the caller then reads the
 * log on its own connection. A notification is a hint, the log is the truth:
 * a lost one costs the caller's fallback interval, never a change.
 *
 * Only a backend with notifications (PostgreSQL, [db] url set) gets a thread;
 * with SQLite feedwatch_start does nothing and the caller keeps polling.
 * Costs one database connection per daemon, opened read-only: it only listens.
 */
struct feedwatch {
	const struct conf_db *db;
	void (*wake)(void *arg);
	void *arg;
	atomic_int stop;
	pthread_t thread;
	int running;
};

/* 0 (thread started, or nothing to watch), -1 when the thread cannot start. */
int  feedwatch_start(struct feedwatch *w, const struct conf_db *db,
                     void (*wake)(void *arg), void *arg);
/* Stops and joins the thread (within FEEDWATCH_SLICE_MS); safe when not started. */
void feedwatch_stop(struct feedwatch *w);

#define FEEDWATCH_SLICE_MS 250   /* how long one wait lasts before the stop flag is checked */
#define FEEDWATCH_RETRY_MS 1000  /* pause after a failed connect or wait */

#endif
