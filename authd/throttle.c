#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "token.h"

/*
 * The in-memory half of the login throttle (docs/security.md, "Login
 * throttling"): a token bucket per client address in a bounded table, and one
 * global bucket of failed password checks per second. The per-account half
 * (failure counts, known sources) is in the store (lockout.c); its backoff
 * rule is throttle_backoff_s here.
 *
 * Every password check reserves a token from its address's bucket and from
 * the global one before the hash (so parallel guesses cannot overdraw either);
 * a right password gives them back. A bucket refills one token every refill_s
 * up to its burst. An absent entry is a full bucket.
 *
 * The table is not the attacker's to reset: an entry is made only by a
 * reservation (a password check), never by a refused request; when the table
 * is full the fullest bucket goes (oldest first among equals), and never one
 * with less than one token: with every bucket that low the new address is
 * refused instead.
 */

struct tb_entry {
	char key[ADDR_STR_MAX];
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
	struct tb_table ip;
	double global;                  /* the global bucket's tokens, at global_ms */
	int64_t global_ms;
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

/* The entry for key, or NULL; never creates one. */
static struct tb_entry *
tb_find(struct tb_table *t, uint64_t seed, const char *key)
{
	int i = t->heads[tb_hash(seed, key) % (uint64_t)t->n_heads];

	for (; i >= 0; i = t->e[i].hnext)
		if (strcmp(t->e[i].key, key) == 0)
			return &t->e[i];
	return NULL;
}

/*
 * The slot a new entry may take in a full table: the fullest bucket, the
 * least recently used among equals; -1 when every bucket holds less than one
 * token (forgetting any of them would hand its guesses back).
 */
static int
tb_victim(struct tb_table *t, int burst, int refill_s, int64_t now_ms)
{
	int best = -1;

	for (int i = t->lru_tail; i >= 0; i = t->e[i].prev) {
		refill(&t->e[i], burst, refill_s, now_ms);
		if (t->e[i].tokens >= burst)
			return i;
		if (t->e[i].tokens >= 1.0 && (best < 0 || t->e[i].tokens > t->e[best].tokens))
			best = i;
	}
	return best;
}

/*
 * The entry for key, made (a full bucket) when absent; most recent afterwards.
 * NULL when the table is full of buckets that may not be forgotten.
 */
static struct tb_entry *
tb_get(struct tb_table *t, uint64_t seed, const char *key, int burst, int refill_s,
       int64_t now_ms)
{
	struct tb_entry *e = tb_find(t, seed, key);
	int slot = (int)(tb_hash(seed, key) % (uint64_t)t->n_heads), i;

	if (e != NULL) {
		i = (int)(e - t->e);
		lru_unlink(t, i);
		lru_push_front(t, i);
		refill(e, burst, refill_s, now_ms);
		return e;
	}
	if (t->n < t->cap) {
		i = t->n++;
	} else {
		if ((i = tb_victim(t, burst, refill_s, now_ms)) < 0)
			return NULL;
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

/* Seconds until a bucket of tokens holds one whole token again (at least 1). */
static int
wait_s(double tokens, double per_s)
{
	double s = (1.0 - tokens) / per_s;
	int w = (int)s;

	return w < s ? w + 1 : (w < 1 ? 1 : w);
}

static void
global_refill(struct throttle *t, int64_t now_ms)
{
	if (now_ms > t->global_ms) {
		t->global += (double)(now_ms - t->global_ms) * t->p.checks_per_s / 1000.0;
		if (t->global > t->p.checks_per_s)
			t->global = t->p.checks_per_s;
	}
	t->global_ms = now_ms;
}

void
throttle_params_conf(const struct conf *c, struct throttle_params *p)
{
	p->ip_burst = c->authd.throttle_ip_burst;
	p->user_burst = c->authd.throttle_user_burst;
	p->account_burst = c->authd.throttle_account_burst;
	p->refill_s = c->authd.throttle_refill_s;
	p->backoff_max_s = c->authd.throttle_backoff_max_s;
	p->checks_per_s = c->authd.throttle_checks_per_s;
	p->known_days = c->authd.throttle_known_days;
}

struct throttle *
throttle_new(int slots, const struct throttle_params *p, int64_t now_ms)
{
	struct throttle *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->p = *p;
	t->global = p->checks_per_s;
	t->global_ms = now_ms;
	if (random_bytes(&t->seed, sizeof t->seed) == -1)
		t->seed = (uint64_t)(uintptr_t)t;
	if (tb_init(&t->ip, slots) == -1) {
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

/*
 * Looks at the address's bucket (unless THROTTLE_NO_IP) and the global one
 * (unless THROTTLE_NO_GLOBAL); with reserve, takes a token from each. Without
 * reserve nothing is written: a refused or merely checked request leaves no
 * entry behind.
 */
static int
take(struct throttle *t, const char *ip, int flags, int64_t now_ms, int reserve,
     struct throttle_ticket *tk, int *retry_s)
{
	struct tb_entry *e = NULL;
	double ip_tokens = t->p.ip_burst;
	int rc = 0;

	memset(tk, 0, sizeof *tk);
	*retry_s = 0;
	pthread_mutex_lock(&t->lock);
	global_refill(t, now_ms);
	if (!(flags & THROTTLE_NO_IP)) {
		e = reserve ? tb_get(&t->ip, t->seed, ip, t->p.ip_burst, t->p.refill_s, now_ms)
		            : tb_find(&t->ip, t->seed, ip);
		if (e != NULL && !reserve)
			refill(e, t->p.ip_burst, t->p.refill_s, now_ms);
		ip_tokens = e != NULL ? e->tokens : (reserve ? 0.0 : t->p.ip_burst);
	}
	if (ip_tokens < 1.0) {
		*retry_s = wait_s(ip_tokens, 1.0 / t->p.refill_s);
		rc = -1;
	}
	if (!(flags & THROTTLE_NO_GLOBAL) && t->global < 1.0) {
		int w = wait_s(t->global, t->p.checks_per_s);

		*retry_s = w > *retry_s ? w : *retry_s;
		rc = -1;
	}
	if (rc == 0 && reserve) {
		if (e != NULL) {
			e->tokens -= 1.0;
			tk->took_ip = 1;
		}
		if (!(flags & THROTTLE_NO_GLOBAL)) {
			t->global -= 1.0;
			tk->took_global = 1;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int
throttle_check(struct throttle *t, const char *ip, int flags, int64_t now_ms, int *retry_s)
{
	struct throttle_ticket tk;

	return take(t, ip, flags, now_ms, 0, &tk, retry_s);
}

int
throttle_begin(struct throttle *t, const char *ip, int flags, int64_t now_ms,
               struct throttle_ticket *tk, int *retry_s)
{
	return take(t, ip, flags, now_ms, 1, tk, retry_s);
}

void
throttle_done(struct throttle *t, const char *ip, int result, int64_t now_ms,
              const struct throttle_ticket *tk)
{
	struct tb_entry *e;

	if (result == THROTTLE_FAILED)
		return;
	pthread_mutex_lock(&t->lock);
	if (tk->took_ip && (e = tb_find(&t->ip, t->seed, ip)) != NULL) {
		refill(e, t->p.ip_burst, t->p.refill_s, now_ms);
		e->tokens = e->tokens + 1.0 > t->p.ip_burst ? t->p.ip_burst : e->tokens + 1.0;
	}
	if (tk->took_global) {
		global_refill(t, now_ms);
		t->global = t->global + 1.0 > t->p.checks_per_s ? t->p.checks_per_s : t->global + 1.0;
	}
	pthread_mutex_unlock(&t->lock);
}

int
throttle_entries(struct throttle *t)
{
	int n;

	pthread_mutex_lock(&t->lock);
	n = t->ip.n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int
throttle_backoff_s(const struct throttle_params *p, int failures, int burst, int64_t last_at,
                   int64_t now)
{
	int64_t delay = p->refill_s;

	if (failures < burst || now - last_at >= THROTTLE_FORGET_S)
		return 0;
	for (int k = failures - burst; k > 0 && delay < p->backoff_max_s; k--)
		delay *= 2;
	if (delay > p->backoff_max_s)
		delay = p->backoff_max_s;
	return last_at + delay > now ? (int)(last_at + delay - now) : 0;
}
