#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "token.h"

/*
 * Token buckets in three bounded tables with least-recently-used eviction:
 * client IPs, account names, and (account, IP) pairs that logged in before.
 * Every attempt reserves a token from its IP's and its account's bucket before
 * the password is checked (so parallel guesses cannot overdraw a bucket); a
 * right password gives the tokens back. A bucket refills one token every
 * refill_s up to its burst. An absent entry is a full bucket, so evicting the
 * oldest entry loses only the least recent history.
 */

#define TB_KEY_MAX (NAME_MAX_LEN + ADDR_STR_MAX + 2)

struct tb_entry {
	char key[TB_KEY_MAX];
	double tokens;
	int64_t at_ms;                  /* when tokens was last brought up to date */
	int hnext;                      /* next in the hash chain, -1 = end */
	int prev, next;                 /* LRU list, most recent first, -1 = end */
};

struct tb_table {
	struct tb_entry *e;
	int n, cap;                     /* entries used, entries there are */
	int *heads;                     /* hash chains, -1 = empty */
	int n_heads;
	int lru_head, lru_tail;
};

struct throttle {
	pthread_mutex_t lock;
	struct throttle_params p;
	uint64_t seed;
	struct tb_table ip, user, known;
};

static uint64_t
tb_hash(uint64_t seed, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int
tb_init(struct tb_table *t, int cap)
{
	memset(t, 0, sizeof *t);
	t->cap = cap;
	t->n_heads = cap * 2;
	t->e = calloc((size_t)cap, sizeof *t->e);
	t->heads = malloc((size_t)t->n_heads * sizeof *t->heads);
	if (t->e == NULL || t->heads == NULL)
		return -1;
	for (int i = 0; i < t->n_heads; i++)
		t->heads[i] = -1;
	t->lru_head = t->lru_tail = -1;
	return 0;
}

static void
tb_free(struct tb_table *t)
{
	free(t->e);
	free(t->heads);
}

static void
lru_unlink(struct tb_table *t, int i)
{
	struct tb_entry *e = &t->e[i];

	if (e->prev >= 0)
		t->e[e->prev].next = e->next;
	else
		t->lru_head = e->next;
	if (e->next >= 0)
		t->e[e->next].prev = e->prev;
	else
		t->lru_tail = e->prev;
}

static void
lru_push_front(struct tb_table *t, int i)
{
	struct tb_entry *e = &t->e[i];

	e->prev = -1;
	e->next = t->lru_head;
	if (t->lru_head >= 0)
		t->e[t->lru_head].prev = i;
	t->lru_head = i;
	if (t->lru_tail < 0)
		t->lru_tail = i;
}

static void
chain_unlink(struct tb_table *t, uint64_t seed, int i)
{
	int *pp = &t->heads[tb_hash(seed, t->e[i].key) % (uint64_t)t->n_heads];

	while (*pp >= 0 && *pp != i)
		pp = &t->e[*pp].hnext;
	if (*pp == i)
		*pp = t->e[i].hnext;
}

/* The entry for key, created (full bucket of burst) when absent; most recent afterwards. */
static struct tb_entry *
tb_get(struct tb_table *t, uint64_t seed, const char *key, double burst, int64_t now_ms)
{
	int slot = (int)(tb_hash(seed, key) % (uint64_t)t->n_heads), i;

	for (i = t->heads[slot]; i >= 0; i = t->e[i].hnext)
		if (strcmp(t->e[i].key, key) == 0) {
			lru_unlink(t, i);
			lru_push_front(t, i);
			return &t->e[i];
		}
	if (t->n < t->cap) {
		i = t->n++;
	} else {
		i = t->lru_tail;
		lru_unlink(t, i);
		chain_unlink(t, seed, i);
	}
	snprintf(t->e[i].key, sizeof t->e[i].key, "%s", key);
	t->e[i].tokens = burst;
	t->e[i].at_ms = now_ms;
	t->e[i].hnext = t->heads[slot];
	t->heads[slot] = i;
	lru_push_front(t, i);
	return &t->e[i];
}

static int
tb_has(const struct tb_table *t, uint64_t seed, const char *key)
{
	int i = t->heads[tb_hash(seed, key) % (uint64_t)t->n_heads];

	for (; i >= 0; i = t->e[i].hnext)
		if (strcmp(t->e[i].key, key) == 0)
			return 1;
	return 0;
}

static void
refill(struct tb_entry *e, int burst, int refill_s, int64_t now_ms)
{
	if (now_ms > e->at_ms) {
		e->tokens += (double)(now_ms - e->at_ms) / (1000.0 * refill_s);
		if (e->tokens > burst)
			e->tokens = burst;
	}
	e->at_ms = now_ms;
}

/* Seconds until an empty bucket holds one whole token again (at least 1). */
static int
wait_s(const struct tb_entry *e, int refill_s)
{
	double s = (1.0 - e->tokens) * refill_s;
	int w = (int)s;

	return w < s ? w + 1 : (w < 1 ? 1 : w);
}

static void
pair_key(const char *user, const char *ip, char *out, size_t n)
{
	snprintf(out, n, "%s|%s", user, ip);
}

struct throttle *
throttle_new(int slots, const struct throttle_params *p)
{
	struct throttle *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->p = *p;
	if (random_bytes(&t->seed, sizeof t->seed) == -1)
		t->seed = (uint64_t)(uintptr_t)t;
	if (tb_init(&t->ip, slots) == -1 || tb_init(&t->user, slots) == -1 ||
	    tb_init(&t->known, slots) == -1) {
		throttle_free(t);
		return NULL;
	}
	return t;
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	tb_free(&t->ip);
	tb_free(&t->user);
	tb_free(&t->known);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void
throttle_set(struct throttle *t, const struct throttle_params *p)
{
	pthread_mutex_lock(&t->lock);
	t->p = *p;
	pthread_mutex_unlock(&t->lock);
}

/* Looks at both buckets; with reserve, takes a token from each that has one. */
static int
take(struct throttle *t, const char *ip, const char *user, int64_t now_ms, int reserve,
     struct throttle_ticket *tk, int *retry_s)
{
	struct tb_entry *ei, *eu = NULL;
	char pk[TB_KEY_MAX];
	int known = 0, rc = 0;

	memset(tk, 0, sizeof *tk);
	*retry_s = 0;
	pthread_mutex_lock(&t->lock);
	ei = tb_get(&t->ip, t->seed, ip, t->p.ip_burst, now_ms);
	refill(ei, t->p.ip_burst, t->p.refill_s, now_ms);
	if (user != NULL) {
		eu = tb_get(&t->user, t->seed, user, t->p.user_burst, now_ms);
		refill(eu, t->p.user_burst, t->p.refill_s, now_ms);
		pair_key(user, ip, pk, sizeof pk);
		known = tb_has(&t->known, t->seed, pk);
	}
	if (ei->tokens < 1.0) {
		*retry_s = wait_s(ei, t->p.refill_s);
		rc = -1;
	}
	if (eu != NULL && eu->tokens < 1.0 && !known) {
		int w = wait_s(eu, t->p.refill_s);

		*retry_s = w > *retry_s ? w : *retry_s;
		rc = -1;
	}
	if (rc == 0 && reserve) {
		ei->tokens -= 1.0;
		tk->took_ip = 1;
		if (eu != NULL && eu->tokens >= 1.0) {
			eu->tokens -= 1.0;
			tk->took_user = 1;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int
throttle_check(struct throttle *t, const char *ip, const char *user, int64_t now_ms, int *retry_s)
{
	struct throttle_ticket tk;

	return take(t, ip, user, now_ms, 0, &tk, retry_s);
}

int
throttle_begin(struct throttle *t, const char *ip, const char *user, int64_t now_ms,
               struct throttle_ticket *tk, int *retry_s)
{
	return take(t, ip, user, now_ms, 1, tk, retry_s);
}

static void
give_back(struct tb_table *tb, uint64_t seed, const char *key, int burst, int refill_s,
          int64_t now_ms)
{
	struct tb_entry *e = tb_get(tb, seed, key, burst, now_ms);

	refill(e, burst, refill_s, now_ms);
	e->tokens = e->tokens + 1.0 > burst ? burst : e->tokens + 1.0;
}

void
throttle_done(struct throttle *t, const char *ip, const char *user, int result,
              int64_t now_ms, const struct throttle_ticket *tk)
{
	char pk[TB_KEY_MAX];

	if (result == THROTTLE_FAILED)
		return;
	pthread_mutex_lock(&t->lock);
	if (tk->took_ip)
		give_back(&t->ip, t->seed, ip, t->p.ip_burst, t->p.refill_s, now_ms);
	if (user != NULL && tk->took_user)
		give_back(&t->user, t->seed, user, t->p.user_burst, t->p.refill_s, now_ms);
	if (user != NULL && result == THROTTLE_OK) {
		pair_key(user, ip, pk, sizeof pk);
		tb_get(&t->known, t->seed, pk, 0, now_ms);
	}
	pthread_mutex_unlock(&t->lock);
}
