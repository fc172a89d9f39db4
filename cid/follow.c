#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cid.h"
#include "log.h"

/*
 * The follower keeps the cache in step with the store: one snapshot at
 * start (and on SIGHUP, a gap in the change log or a reconnect), then the
 * change log whenever the store notifies a commit (PostgreSQL, feedwatch.c)
 * and at least every refresh_ms. A change names a right or a service; the follower re-reads what
 * it names and applies the state it finds, so replaying a change twice or out
 * of order does no harm.
 */

#define FOLLOW_BATCH 512         /* changes read per query */
#define FOLLOW_RESNAP_MIN 4096   /* changes replayed in a round before a snapshot may replace them */

struct snap_arg {
	struct cache_data *d;
	int failed;
};

static int
snap_service(const struct store_service *s, void *arg)
{
	struct snap_arg *a = arg;

	if (!s->enabled)
		return 0;          /* nobody may pass a disabled service's door */
	if (data_put_service(a->d, s) == -1)
		a->failed = 1;
	return a->failed;
}

static int
snap_right(const struct store_right *r, void *arg)
{
	struct snap_arg *a = arg;

	if (data_put_right(a->d, r) == -1)
		a->failed = 1;
	return a->failed;
}

int
follow_snapshot(struct follower *f, int64_t now)
{
	struct cache_data d;
	struct snap_arg a = { &d, 0 };
	struct keyring kr;
	int64_t seq = 0;
	size_t rights;
	int rc, services;

	if (data_init(&d) == -1)
		return STORE_UNAVAILABLE;
	/* Keys after the snapshot: a key change past its seq is replayed anyway. */
	rc = store_snapshot(f->store, now, snap_service, snap_right, &a, &seq);
	if (rc == STORE_OK)
		rc = keyring_load(f->store, now, &kr);
	if (rc == STORE_OK && a.failed)
		rc = STORE_UNAVAILABLE;
	if (rc != STORE_OK) {
		data_free(&d);
		return rc;
	}
	rights = d.count;
	services = d.n_svcs;
	cache_swap(f->cache, &d, &kr, seq);
	f->epoch = store_epoch(f->store);
	f->keys_at = now + CID_KEYS_RELOAD_S;
	metrics_sync(1, 0);
	log_info("event=snapshot services=%d rights=%zu keys=%d seq=%lld",
	         services, rights, kr.n, (long long)seq);
	return STORE_OK;
}

struct change_arg {
	struct store_change ch[FOLLOW_BATCH];
	int n;
};

static int
take_change(const struct store_change *ch, void *arg)
{
	struct change_arg *a = arg;

	if (a->n == FOLLOW_BATCH)
		return 1;
	a->ch[a->n++] = *ch;
	return 0;
}

/* What a change means now, read from the store before the write lock is taken. */
struct change_op {
	int kind;                /* enum change_kind */
	int found;               /* the right is live / the service is enabled */
	int64_t id;
	union {
		struct store_right r;
		struct store_service s;
	} u;
};

/* The rights a batch names, as store_rights_get found them, in id order. */
struct batch_rights {
	struct store_right *r;
	size_t n, max;
};

_Static_assert(FOLLOW_BATCH <= RIGHTS_GET_MAX, "a batch's rights are read in one call");

static int
take_right(const struct store_right *r, void *arg)
{
	struct batch_rights *b = arg;

	if (b->n == b->max)
		return 1;          /* cannot happen: at most one per id asked */
	b->r[b->n++] = *r;
	return 0;
}

static int
cmp_right_id(const void *key, const void *elem)
{
	int64_t x = *(const int64_t *)key, y = ((const struct store_right *)elem)->id;

	return (x > y) - (x < y);
}

/*
 * What each change of a batch means now. The rights the batch names are read
 * in one store_rights_get (one round trip, not one per change: catching up
 * after 100 000 changes took 99 s that way); a right it does not return no
 * longer exists and is dropped. Services (rare) are read one by one.
 */
static int
read_batch(struct store *s, const struct change_arg *a, struct change_op *ops)
{
	struct batch_rights got = { NULL, 0, 0 };
	int64_t ids[FOLLOW_BATCH];
	size_t n = 0;
	int rc = STORE_OK;

	for (int i = 0; i < a->n; i++)
		if (a->ch[i].kind == CHANGE_ADMIT || a->ch[i].kind == CHANGE_END)
			ids[n++] = a->ch[i].right_id;
	got.max = n;
	if (n > 0 && (got.r = malloc(n * sizeof *got.r)) == NULL)
		return STORE_UNAVAILABLE;
	if (n > 0)
		rc = store_rights_get(s, ids, n, take_right, &got);
	for (int i = 0; i < a->n && rc == STORE_OK; i++) {
		const struct store_change *ch = &a->ch[i];
		struct change_op *op = &ops[i];
		const struct store_right *r;

		op->kind = ch->kind;
		switch (ch->kind) {
		case CHANGE_ADMIT:
		case CHANGE_END:
			op->id = ch->right_id;
			r = got.n ? bsearch(&op->id, got.r, got.n, sizeof *got.r, cmp_right_id) : NULL;
			op->found = r != NULL && r->ended_at == 0;
			if (op->found)
				op->u.r = *r;
			break;
		case CHANGE_SERVICE:
			op->id = ch->service_id;
			rc = store_service_get_id(s, ch->service_id, &op->u.s);
			op->found = rc == STORE_OK && op->u.s.enabled;
			if (rc == STORE_NOTFOUND)
				rc = STORE_OK;
			break;
		}
	}
	free(got.r);
	return rc;
}

static void
apply_op(struct cache_data *d, const struct change_op *op)
{
	switch (op->kind) {
	case CHANGE_ADMIT:
	case CHANGE_END:
		if (!op->found)
			data_drop_right(d, op->id);
		else if (data_put_right(d, &op->u.r) == -1)
			log_err("event=cache_error error=\"out of memory\" right=%lld", (long long)op->id);
		break;
	case CHANGE_SERVICE:
		if (!op->found)
			data_drop_service(d, op->id);
		else if (data_put_service(d, &op->u.s) == -1)
			log_err("event=cache_error error=\"out of memory\" service=%lld", (long long)op->id);
		break;
	}
}

static int
reload_keys(struct follower *f, int64_t now)
{
	struct keyring kr;
	int rc;

	if ((rc = keyring_load(f->store, now, &kr)) != STORE_OK)
		return rc;
	cache_set_keyring(f->cache, &kr);
	f->keys_at = now + CID_KEYS_RELOAD_S;
	return STORE_OK;
}

/* Reads, then applies under one write lock, one batch of changes. */
static int
apply_batch(struct follower *f, struct change_arg *a, int64_t now)
{
	struct change_op *ops;
	int keys = 0, rc = STORE_OK;

	if ((ops = calloc((size_t)a->n, sizeof *ops)) == NULL)
		return STORE_UNAVAILABLE;
	rc = read_batch(f->store, a, ops);
	for (int i = 0; i < a->n; i++)
		keys |= a->ch[i].kind == CHANGE_KEYS;
	if (rc == STORE_OK && keys)
		rc = reload_keys(f, now);
	if (rc == STORE_OK) {
		cache_wrlock(f->cache);
		for (int i = 0; i < a->n; i++)
			apply_op(&f->cache->d, &ops[i]);
		f->cache->seq = a->ch[a->n - 1].seq;
		cache_unlock(f->cache);
		metrics_sync(0, a->n);
	}
	free(ops);
	return rc;
}

/*
 * A follower far behind: replaying costs about 0.2 ms a change (a batch of
 * 512 is two round trips and the cache's work), a snapshot about 0.01 ms a
 * live right (bench/results/gateways.txt), so a snapshot is worth as much as
 * replaying a twentieth of the rights held. The length of the backlog is not
 * known in advance: once a round has replayed more than FOLLOW_RESNAP_MIN +
 * rights/16 and the log goes on, the rest is replaced by one snapshot. Either
 * way the cost stays within about twice the cheaper of the two.
 */
static int
too_far_behind(const struct follower *f, long replayed)
{
	return replayed >= FOLLOW_RESNAP_MIN + (long)(f->cache->d.count / 16);
}

/* Reads and applies batches until the log is exhausted. STORE_OK or why not. */
static int
follow_batches(struct follower *f, struct change_arg *a, int64_t now)
{
	int64_t seq = f->cache->seq;
	long replayed = 0;
	int rc;

	do {
		a->n = 0;
		if ((rc = store_changes(f->store, seq, FOLLOW_BATCH, take_change, a)) != STORE_OK)
			return rc;
		for (int i = 0; i < a->n; i++)
			if (a->ch[i].seq != seq + 1 + i) {
				log_warn("event=change_gap after=%lld next=%lld reason=\"pruned or reordered\" effect=\"full reload\"",
				         (long long)seq, (long long)a->ch[i].seq);
				return follow_snapshot(f, now);
			}
		if (a->n > 0 && (rc = apply_batch(f, a, now)) != STORE_OK)
			return rc;
		seq += a->n;
		replayed += a->n;
		if (a->n == FOLLOW_BATCH && too_far_behind(f, replayed)) {
			log_info("event=catch_up replayed=%ld seq=%lld effect=\"full reload\"", replayed,
			         (long long)seq);
			return follow_snapshot(f, now);
		}
	} while (a->n == FOLLOW_BATCH);
	cache_synced(f->cache);
	return STORE_OK;
}

int
follow_changes(struct follower *f, int64_t now)
{
	struct change_arg *a = malloc(sizeof *a);
	int rc;

	if (a == NULL)
		return STORE_UNAVAILABLE;
	rc = follow_batches(f, a, now);
	free(a);
	return rc;
}

static void
store_down(struct follower *f, int rc)
{
	if (!f->down)
		log_err("event=store_unavailable rc=%s error=\"%s\" effect=\"checks answer 503 until it is back\"",
		        store_rc_str(rc), f->store ? store_error(f->store) : "cannot open");
	f->down = 1;
	if (f->store != NULL) {
		store_close(f->store);
		f->store = NULL;
	}
}

int
follow_tick(struct follower *f)
{
	char err[256];
	int64_t now = time(NULL);
	int rc;

	if (f->store == NULL) {
		if ((f->store = store_open(&f->conf->db, 0, err, sizeof err)) == NULL) {
			if (!f->down)
				log_err("event=store_unavailable error=\"%s\" effect=\"checks answer 503 until it is back\"", err);
			f->down = 1;
			return STORE_UNAVAILABLE;
		}
		atomic_store(&f->resnapshot, 1);     /* what happened while away is not in order */
	}
	/* Reconnected (maybe to a promoted standby): the log followed may not be this one. */
	if (store_epoch(f->store) != f->epoch)
		atomic_store(&f->resnapshot, 1);
	if (atomic_exchange(&f->resnapshot, 0) || !f->cache->loaded)
		rc = follow_snapshot(f, now);
	else
		rc = follow_changes(f, now);
	if (rc == STORE_OK && now >= f->keys_at)
		rc = reload_keys(f, now);
	if (rc != STORE_OK) {
		store_down(f, rc);
		return rc;
	}
	if (f->down)
		log_info("event=store_available");
	f->down = 0;
	if (now >= f->purge_at) {
		cache_wrlock(f->cache);
		data_purge(&f->cache->d, now);
		cache_unlock(f->cache);
		f->purge_at = now + CID_PURGE_S;
	}
	return STORE_OK;
}

/* Waits for a sync request or refresh_ms; 1 when the thread should stop. */
static int
follow_wait(struct follower *f, uint64_t *gen)
{
	struct timespec ts;
	int ms = f->conf->cid.refresh_ms, stop;

	clock_mono_after(&ts, ms);
	pthread_mutex_lock(&f->mu);
	while (!f->stop && f->gen_req == f->gen_done &&
	       pthread_cond_timedwait(&f->wake, &f->mu, &ts) != ETIMEDOUT)
		;
	*gen = f->gen_req;
	stop = f->stop;
	pthread_mutex_unlock(&f->mu);
	return stop;
}

static void
follow_done(struct follower *f, uint64_t gen, int rc)
{
	pthread_mutex_lock(&f->mu);
	f->gen_done = gen;
	f->last_rc = rc;
	pthread_cond_broadcast(&f->done);
	pthread_mutex_unlock(&f->mu);
}

static void *
follow_main(void *arg)
{
	struct follower *f = arg;
	uint64_t gen;

	while (!follow_wait(f, &gen))
		follow_done(f, gen, follow_tick(f));
	return NULL;
}

int
follow_sync(struct follower *f, int timeout_ms)
{
	struct timespec ts;
	uint64_t mine;
	int rc = STORE_UNAVAILABLE;

	clock_mono_after(&ts, timeout_ms);
	pthread_mutex_lock(&f->mu);
	mine = ++f->gen_req;
	pthread_cond_signal(&f->wake);
	while (f->gen_done < mine && !f->stop &&
	       pthread_cond_timedwait(&f->done, &f->mu, &ts) != ETIMEDOUT)
		;
	if (f->gen_done >= mine)
		rc = f->last_rc;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* feedwatch: a commit may have grown the log; run a round now. */
static void
follow_wake(void *arg)
{
	struct follower *f = arg;

	pthread_mutex_lock(&f->mu);
	f->gen_req++;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->mu);
}

static void
cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

int
follow_start(struct follower *f, struct cache *c, const struct conf *conf)
{
	memset(f, 0, sizeof *f);
	f->cache = c;
	f->conf = conf;
	pthread_mutex_init(&f->mu, NULL);
	cond_init(&f->wake);
	cond_init(&f->done);
	follow_tick(f);
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0)
		return -1;
	f->running = 1;
	if (feedwatch_start(&f->watch, &conf->db, follow_wake, f) == -1)
		log_warn("event=feed_watch result=failed error=\"cannot start thread\" effect=\"changes are seen every refresh_ms\"");
	return 0;
}

void
follow_request_snapshot(struct follower *f)
{
	atomic_store(&f->resnapshot, 1);
	pthread_mutex_lock(&f->mu);
	f->gen_req++;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->mu);
}

void
follow_stop(struct follower *f)
{
	feedwatch_stop(&f->watch);
	if (f->running) {
		pthread_mutex_lock(&f->mu);
		f->stop = 1;
		pthread_cond_broadcast(&f->wake);
		pthread_cond_broadcast(&f->done);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->thread, NULL);
		f->running = 0;
	}
	if (f->store != NULL)
		store_close(f->store);
	f->store = NULL;
}
