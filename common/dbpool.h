#ifndef SEKISHO_DBPOOL_H
#define SEKISHO_DBPOOL_H

/*
 * Store connections shared by request threads that come and go (authd's
 * connection threads, cid's HTTP threads). Connections open on demand and
 * stay open once returned. At most max exist: a thread that finds none free
 * and the limit reached waits for one to come back, so a pool whose max is
 * at least its number of threads never makes one wait.
 */

#include <stddef.h>

#include "conf.h"
#include "store.h"

struct dbpool;

/* NULL when out of memory. max >= 1. */
struct dbpool *dbpool_new(const struct conf_db *db, int max);
void dbpool_free(struct dbpool *p);
/* A connection for this thread; NULL with err when the store cannot be opened. */
struct store *dbpool_get(struct dbpool *p, char *err, size_t errlen);
/* Gives it back; broken != 0 closes it (the next get reconnects). */
void dbpool_put(struct dbpool *p, struct store *s, int broken);

#endif
