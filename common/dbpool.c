#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dbpool.h"

/* A free list under a mutex; n_open counts the connections lent and free. */

struct dbpool {
	pthread_mutex_t lock;
	pthread_cond_t back;
	struct conf_db db;
	struct store **free;
	int n_free, n_open, max;
};

struct dbpool *
dbpool_new(const struct conf_db *db, int max)
{
	struct dbpool *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	if ((p->free = calloc((size_t)max, sizeof *p->free)) == NULL) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->back, NULL);
	p->db = *db;
	p->max = max;
	return p;
}

void
dbpool_free(struct dbpool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n_free; i++)
		store_close(p->free[i]);
	pthread_cond_destroy(&p->back);
	pthread_mutex_destroy(&p->lock);
	free(p->free);
	free(p);
}

struct store *
dbpool_get(struct dbpool *p, char *err, size_t errlen)
{
	struct store *s = NULL;

	pthread_mutex_lock(&p->lock);
	while (p->n_free == 0 && p->n_open >= p->max)
		pthread_cond_wait(&p->back, &p->lock);
	if (p->n_free > 0) {
		s = p->free[--p->n_free];
		pthread_mutex_unlock(&p->lock);
		return s;
	}
	p->n_open++;
	pthread_mutex_unlock(&p->lock);
	if ((s = store_open(&p->db, 0, err, errlen)) != NULL)
		return s;
	pthread_mutex_lock(&p->lock);
	p->n_open--;
	pthread_cond_signal(&p->back);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void
dbpool_put(struct dbpool *p, struct store *s, int broken)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (broken) {
		p->n_open--;
	} else {
		p->free[p->n_free++] = s;
		s = NULL;
	}
	pthread_cond_signal(&p->back);
	pthread_mutex_unlock(&p->lock);
	if (s != NULL)
		store_close(s);
}
