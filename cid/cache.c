#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cid.h"

/*
 * Rights are chained in two hash tables of the same size: by sid (the first
 * eight bytes of a random sid are a good hash already) and by right id.
 * Services are few: an array sorted by name.
 */

#define DATA_BUCKETS_MIN 1024

static size_t
sid_slot(const struct cache_data *d, const uint8_t sid[SID_BYTES])
{
	uint64_t h;

	memcpy(&h, sid, sizeof h);
	return (size_t)h & d->mask;
}

static size_t
id_slot(const struct cache_data *d, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 17) & d->mask;
}

int
data_init(struct cache_data *d)
{
	memset(d, 0, sizeof *d);
	d->by_sid = calloc(DATA_BUCKETS_MIN, sizeof *d->by_sid);
	d->by_id = calloc(DATA_BUCKETS_MIN, sizeof *d->by_id);
	if (d->by_sid == NULL || d->by_id == NULL) {
		data_free(d);
		return -1;
	}
	d->mask = DATA_BUCKETS_MIN - 1;
	return 0;
}

void
data_free(struct cache_data *d)
{
	struct cache_right *r, *next;

	if (d->by_id != NULL)
		for (size_t i = 0; i <= d->mask; i++)
			for (r = d->by_id[i]; r != NULL; r = next) {
				next = r->next_id;
				free(r);
			}
	free(d->by_sid);
	free(d->by_id);
	free(d->svcs);
	memset(d, 0, sizeof *d);
}

static struct cache_right *
find_sid(const struct cache_data *d, const uint8_t sid[SID_BYTES])
{
	struct cache_right *r;

	for (r = d->by_sid[sid_slot(d, sid)]; r != NULL; r = r->next_sid)
		if (memcmp(r->sid, sid, SID_BYTES) == 0)
			return r;
	return NULL;
}

static struct cache_right *
find_id(const struct cache_data *d, int64_t id)
{
	struct cache_right *r;

	for (r = d->by_id[id_slot(d, id)]; r != NULL; r = r->next_id)
		if (r->id == id)
			return r;
	return NULL;
}

static void
link_right(struct cache_data *d, struct cache_right *r)
{
	size_t s = sid_slot(d, r->sid), i = id_slot(d, r->id);

	r->next_sid = d->by_sid[s];
	d->by_sid[s] = r;
	r->next_id = d->by_id[i];
	d->by_id[i] = r;
}

/* Doubles the tables when they hold twice as many rights as buckets; a failure only costs speed. */
static void
grow(struct cache_data *d)
{
	struct cache_data n = *d;
	struct cache_right *r, *next;
	size_t size = (d->mask + 1) * 2;

	if (d->count <= 2 * (d->mask + 1))
		return;
	n.by_sid = calloc(size, sizeof *n.by_sid);
	n.by_id = calloc(size, sizeof *n.by_id);
	if (n.by_sid == NULL || n.by_id == NULL) {
		free(n.by_sid);
		free(n.by_id);
		return;
	}
	n.mask = size - 1;
	for (size_t i = 0; i <= d->mask; i++)
		for (r = d->by_id[i]; r != NULL; r = next) {
			next = r->next_id;
			link_right(&n, r);
		}
	free(d->by_sid);
	free(d->by_id);
	*d = n;
}

static void
atomic_max(_Atomic int64_t *v, int64_t x)
{
	int64_t cur = atomic_load_explicit(v, memory_order_relaxed);

	while (cur < x && !atomic_compare_exchange_weak_explicit(v, &cur, x, memory_order_relaxed,
	                                                          memory_order_relaxed))
		;
}

int
data_put_right(struct cache_data *d, const struct store_right *sr)
{
	uint8_t sid[SID_BYTES];
	struct cache_right *r;

	if (sid_from_hex(sr->sid, sid) == -1)
		return -1;
	if ((r = find_id(d, sr->id)) != NULL && memcmp(r->sid, sid, SID_BYTES) != 0) {
		data_drop_right(d, sr->id);
		r = NULL;
	}
	if (r == NULL) {
		if ((r = calloc(1, sizeof *r)) == NULL)
			return -1;
		r->id = sr->id;
		memcpy(r->sid, sid, SID_BYTES);
		link_right(d, r);
		d->count++;
		grow(d);
	}
	r->service_id = sr->service_id;
	r->expires_at = sr->expires_at;
	r->ip = sr->ip;
	snprintf(r->user, sizeof r->user, "%s", sr->user_name);
	atomic_max(&r->seen, sr->last_seen);
	return 0;
}

static void
unlink_sid(struct cache_data *d, struct cache_right *r)
{
	struct cache_right **pp;

	for (pp = &d->by_sid[sid_slot(d, r->sid)]; *pp != NULL; pp = &(*pp)->next_sid)
		if (*pp == r) {
			*pp = r->next_sid;
			return;
		}
}

void
data_drop_right(struct cache_data *d, int64_t id)
{
	struct cache_right **pp, *r;

	for (pp = &d->by_id[id_slot(d, id)]; *pp != NULL; pp = &(*pp)->next_id) {
		if ((*pp)->id != id)
			continue;
		r = *pp;
		*pp = r->next_id;
		unlink_sid(d, r);
		free(r);
		d->count--;
		return;
	}
}

/* Drops every right for which drop(r, arg) holds; returns how many. */
static size_t
drop_where(struct cache_data *d, int (*drop)(const struct cache_right *, int64_t), int64_t arg)
{
	struct cache_right **pp, *r;
	size_t n = 0;

	for (size_t i = 0; i <= d->mask; i++) {
		pp = &d->by_id[i];
		while ((r = *pp) != NULL) {
			if (!drop(r, arg)) {
				pp = &r->next_id;
				continue;
			}
			*pp = r->next_id;
			unlink_sid(d, r);
			free(r);
			d->count--;
			n++;
		}
	}
	return n;
}

static int
of_service(const struct cache_right *r, int64_t service_id)
{
	return r->service_id == service_id;
}

static int
past_expiry(const struct cache_right *r, int64_t now)
{
	return now >= r->expires_at;
}

size_t
data_purge(struct cache_data *d, int64_t now)
{
	return drop_where(d, past_expiry, now);
}

static int
svc_index(const struct cache_data *d, const char *name, int *at)
{
	int lo = 0, hi = d->n_svcs, mid, cmp;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((cmp = strcmp(d->svcs[mid].name, name)) == 0) {
			*at = mid;
			return 1;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static void
remove_service_at(struct cache_data *d, int i)
{
	memmove(&d->svcs[i], &d->svcs[i + 1], (size_t)(d->n_svcs - i - 1) * sizeof d->svcs[0]);
	d->n_svcs--;
}

/* A service keeps its rights when renamed: only the name index moves. */
int
data_put_service(struct cache_data *d, const struct store_service *s)
{
	struct cache_service *n;
	int at;

	for (int i = 0; i < d->n_svcs; i++)
		if (d->svcs[i].id == s->id) {
			remove_service_at(d, i);
			break;
		}
	if (d->n_svcs == d->cap_svcs) {
		int cap = d->cap_svcs ? d->cap_svcs * 2 : 16;

		if ((n = realloc(d->svcs, (size_t)cap * sizeof *n)) == NULL)
			return -1;
		d->svcs = n;
		d->cap_svcs = cap;
	}
	svc_index(d, s->name, &at);
	memmove(&d->svcs[at + 1], &d->svcs[at], (size_t)(d->n_svcs - at) * sizeof d->svcs[0]);
	n = &d->svcs[at];
	n->id = s->id;
	snprintf(n->name, sizeof n->name, "%s", s->name);
	snprintf(n->url, sizeof n->url, "%s", s->url);
	n->interval_s = (int64_t)s->max_interval_min * 60;
	n->n_guards = s->n_guards < 0 ? 0 : s->n_guards > GUARDS_MAX ? GUARDS_MAX : s->n_guards;
	memcpy(n->guards, s->guards, (size_t)n->n_guards * sizeof n->guards[0]);
	d->n_svcs++;
	return 0;
}

void
data_drop_service(struct cache_data *d, int64_t id)
{
	for (int i = 0; i < d->n_svcs; i++)
		if (d->svcs[i].id == id) {
			remove_service_at(d, i);
			break;
		}
	drop_where(d, of_service, id);
}

int
cache_init(struct cache *c, int64_t stale_ms)
{
	pthread_rwlockattr_t a;

	memset(c, 0, sizeof *c);
	if (data_init(&c->d) == -1)
		return -1;
	/* Writers must not starve under a steady stream of checks. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->lock, &a);
	pthread_rwlockattr_destroy(&a);
	c->stale_ms = stale_ms;
	return 0;
}

void
cache_destroy(struct cache *c)
{
	data_free(&c->d);
	pthread_rwlock_destroy(&c->lock);
}

void cache_rdlock(struct cache *c) { pthread_rwlock_rdlock(&c->lock); }
void cache_wrlock(struct cache *c) { pthread_rwlock_wrlock(&c->lock); }
void cache_unlock(struct cache *c) { pthread_rwlock_unlock(&c->lock); }

int
cache_usable_locked(const struct cache *c)
{
	return c->loaded && clock_mono_ms() - atomic_load(&c->synced_ms) < c->stale_ms;
}

struct cache_right *
cache_right_locked(const struct cache *c, const uint8_t sid[SID_BYTES])
{
	return find_sid(&c->d, sid);
}

const struct cache_service *
cache_service_locked(const struct cache *c, const char *name)
{
	int at;

	return svc_index(&c->d, name, &at) ? &c->d.svcs[at] : NULL;
}

void
cache_seen(struct cache_right *r, int64_t now)
{
	if (atomic_load_explicit(&r->seen, memory_order_relaxed) >= now)
		return;
	atomic_max(&r->seen, now);
	atomic_store_explicit(&r->dirty, 1, memory_order_release);
}

int
cache_put_right(struct cache *c, const struct store_right *r)
{
	int rc;

	cache_wrlock(c);
	rc = data_put_right(&c->d, r);
	cache_unlock(c);
	return rc;
}

void
cache_drop_right(struct cache *c, int64_t id)
{
	cache_wrlock(c);
	data_drop_right(&c->d, id);
	cache_unlock(c);
}

void
cache_set_keyring(struct cache *c, const struct keyring *kr)
{
	cache_wrlock(c);
	c->kr = *kr;
	cache_unlock(c);
}

void
cache_synced(struct cache *c)
{
	atomic_store(&c->synced_ms, clock_mono_ms());
}

/* Unflushed uses of the old data move to the new, so no validated request is forgotten. */
static void
carry_dirty(const struct cache_data *old, struct cache_data *fresh)
{
	struct cache_right *r, *n;

	for (size_t i = 0; i <= old->mask; i++)
		for (r = old->by_id[i]; r != NULL; r = r->next_id) {
			if (!atomic_load(&r->dirty) || (n = find_id(fresh, r->id)) == NULL)
				continue;
			atomic_max(&n->seen, atomic_load(&r->seen));
			atomic_store(&n->dirty, 1);
		}
}

void
cache_swap(struct cache *c, struct cache_data *fresh, const struct keyring *kr, int64_t seq)
{
	struct cache_data old;

	cache_wrlock(c);
	carry_dirty(&c->d, fresh);
	old = c->d;
	c->d = *fresh;
	c->kr = *kr;
	c->seq = seq;
	c->loaded = 1;
	cache_unlock(c);
	memset(fresh, 0, sizeof *fresh);
	data_free(&old);
	cache_synced(c);
}

void
cache_sizes(struct cache *c, size_t *rights, int *services)
{
	cache_rdlock(c);
	*rights = c->d.count;
	*services = c->d.n_svcs;
	cache_unlock(c);
}

size_t
cache_take_dirty(struct cache *c, int64_t *ids, int64_t *seen, size_t max)
{
	struct cache_right *r;
	size_t n = 0;

	cache_rdlock(c);
	for (size_t i = 0; i <= c->d.mask && n < max; i++)
		for (r = c->d.by_id[i]; r != NULL && n < max; r = r->next_id) {
			if (!atomic_exchange(&r->dirty, 0))
				continue;
			ids[n] = r->id;
			seen[n] = atomic_load(&r->seen);
			n++;
		}
	cache_unlock(c);
	return n;
}

void
cache_redirty(struct cache *c, const int64_t *ids, size_t n)
{
	struct cache_right *r;

	cache_rdlock(c);
	for (size_t i = 0; i < n; i++)
		if ((r = find_id(&c->d, ids[i])) != NULL)
			atomic_store(&r->dirty, 1);
	cache_unlock(c);
}

void
cache_raise_seen(struct cache *c, int64_t id, int64_t seen)
{
	struct cache_right *r;

	cache_rdlock(c);
	if ((r = find_id(&c->d, id)) != NULL)
		atomic_max(&r->seen, seen);
	cache_unlock(c);
}
