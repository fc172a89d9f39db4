/*
 * Writers of one database file within this process take turns in arrival
 * order before they ask SQLite for its write lock.
 *
 * SQLite lets only one writer in at a time and makes the others poll with
 * sleeps that grow to 100 ms; with many threads admitting at once some lose
 * that race again and again (bench_store, 8 threads: slowest admission over
 * 1 s, p99.9 above 100 ms). Queued here first, in ticket order, they wait
 * about as long as the writers ahead of them take, and SQLite's lock is left
 * to arbitrate between processes. A queue is shared by every connection to
 * the same file (device and inode) and freed with the last one.
 *
 * The same shared record carries what this process knows of the file's
 * write-ahead log, for the checkpoint policy in store_sqlite.c.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_sqlite_int.h"

#define WLOCK_WAKE_SLOTS 16

struct sq_wlock {
	dev_t dev;
	ino_t ino;
	int refs;
	pthread_mutex_t m;
	pthread_cond_t turn[WLOCK_WAKE_SLOTS];  /* ticket t waits on turn[t % WLOCK_WAKE_SLOTS] */
	uint64_t next, serving;                /* ticket dispenser and the ticket now served */
	struct sq_wal wal;
	struct sq_wlock *link;
};

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static struct sq_wlock *locks;

struct sq_wlock *
sq_wlock_get(const char *path, char *err, size_t errlen)
{
	struct sq_wlock *w;
	struct stat sb;

	if (stat(path, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&registry);
	for (w = locks; w; w = w->link)
		if (w->dev == sb.st_dev && w->ino == sb.st_ino)
			break;
	if (!w && (w = calloc(1, sizeof *w)) != NULL) {
		w->dev = sb.st_dev;
		w->ino = sb.st_ino;
		pthread_mutex_init(&w->m, NULL);
		for (int i = 0; i < WLOCK_WAKE_SLOTS; i++)
			pthread_cond_init(&w->turn[i], NULL);
		w->link = locks;
		locks = w;
	}
	if (w)
		w->refs++;
	pthread_mutex_unlock(&registry);
	if (!w)
		snprintf(err, errlen, "out of memory");
	return w;
}

void
sq_wlock_put(struct sq_wlock *w)
{
	struct sq_wlock **p;

	if (!w)
		return;
	pthread_mutex_lock(&registry);
	if (--w->refs == 0) {
		for (p = &locks; *p != w; p = &(*p)->link)
			;
		*p = w->link;
		for (int i = 0; i < WLOCK_WAKE_SLOTS; i++)
			pthread_cond_destroy(&w->turn[i]);
		pthread_mutex_destroy(&w->m);
		free(w);
	}
	pthread_mutex_unlock(&registry);
}

void
sq_wlock_acquire(struct sq_wlock *w)
{
	uint64_t mine;

	pthread_mutex_lock(&w->m);
	mine = w->next++;
	while (mine != w->serving)
		pthread_cond_wait(&w->turn[mine % WLOCK_WAKE_SLOTS], &w->m);
	pthread_mutex_unlock(&w->m);
}

void
sq_wlock_release(struct sq_wlock *w)
{
	pthread_mutex_lock(&w->m);
	w->serving++;
	pthread_cond_broadcast(&w->turn[w->serving % WLOCK_WAKE_SLOTS]);
	pthread_mutex_unlock(&w->m);
}

struct sq_wal *
sq_wlock_wal(struct sq_wlock *w)
{
	return &w->wal;
}
