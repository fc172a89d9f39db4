#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "log.h"
#include "token.h"

/*
 * The sweeper thread: every sweep_interval_s it ends the rights past their
 * expiry or idle gap and tells ipfd, lapses the waiting-room places nobody
 * polls any more (on every service, whether or not anyone logs in to it:
 * an admission lapses only its own service's), keeps the cookie key ring
 * provisioned, and (hourly) prunes rows older than the retention. Every
 * MAINTAIN_MS it runs the store's housekeeping, so commits on the login path
 * never pay for it.
 */

#define SWEEP_BATCH 1024          /* ended rights revoked one by one; beyond that, a full sync */
#define PRUNE_EVERY_S 3600
/*
 * Waiting lines one sweep lapses; with more services under a waiting room
 * the walk goes on from there at the next sweep (struct sweeper.lapse_from).
 */
#define LAPSE_LINES_MAX 256
/*
 * Store housekeeping (WAL checkpoints) this often: frequent enough that the
 * log never reaches the size at which a commit on the login path would
 * checkpoint itself; nearly free when there is nothing to copy.
 */
#define MAINTAIN_MS   100

struct sweeper {
	struct authd *a;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	int64_t last_prune;
	int lapse_from;
};

struct swept {
	struct store_right *r;
	int n, more;
};

static int
collect(const struct store_right *r, void *arg)
{
	struct swept *s = arg;

	if (s->n == SWEEP_BATCH)
		s->more = 1;
	else
		s->r[s->n++] = *r;
	return 0;
}

int
sweeper_run_once(struct authd *a, struct store *st, int64_t now)
{
	struct swept s = { NULL, 0, 0 };
	char err[160];
	int n = 0, rc;

	if ((s.r = calloc(SWEEP_BATCH, sizeof *s.r)) == NULL)
		return -1;
	rc = store_sweep(st, now, collect, &s, &n);
	if (rc != STORE_OK) {
		log_err("event=sweep_failed error=\"%s\"", store_error(st));
		free(s.r);
		ametrics_sweep(0);
		return -1;
	}
	for (int i = 0; i < s.n; i++)
		admit_ended(st, a->fw, &s.r[i], "sweeper", now);
	if (s.more && fwc_call(a->fw, IPC_SYNC, 0, 0, err, sizeof err) == -1)
		log_warn("event=sync_failed error=\"%s\"", err);
	free(s.r);
	ametrics_sweep(1);
	if (n > 0)
		log_info("event=sweep ended=%d", n);
	return n;
}

struct line_due {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	int lapse_s;
};

struct lines_due {
	struct line_due *v;                   /* the lines taken, at most max */
	const struct conf_authd *c;
	int skip, max, n, seen;               /* seen: services under a waiting room */
};

/* Services under a waiting room, in list order: the skip first passed over. */
static int
note_due(const struct store_service *svc, void *arg)
{
	struct lines_due *d = arg;
	struct store_queue_rules r;

	if (queue_rules(d->c, svc, &r) == NULL || d->seen++ < d->skip)
		return 0;
	if (d->n == d->max)
		return 1;
	d->v[d->n].id = svc->id;
	snprintf(d->v[d->n].name, sizeof d->v[d->n].name, "%s", svc->name);
	d->v[d->n++].lapse_s = r.lapse_s;
	return 0;
}

int
sweeper_lapse(struct store *st, const struct conf_authd *c, int64_t now, int max, int *from)
{
	struct lines_due d = { NULL, c, *from, max, 0, 0 };
	int total = 0, n = 0;

	if (max < 1 || (d.v = calloc((size_t)max, sizeof *d.v)) == NULL)
		return -1;
	if (store_service_list(st, 0, note_due, &d) != STORE_OK) {
		log_err("event=queue_lapse_failed error=\"%s\"", store_error(st));
		free(d.v);
		return -1;
	}
	for (int i = 0; i < d.n && n >= 0; i++) {
		n = queue_lapse(st, d.v[i].id, d.v[i].name, now, d.v[i].lapse_s, "sweeper");
		if (n > 0)
			log_info("event=queue_lapse service=%s places=%d by=sweeper", d.v[i].name, n);
		total += n > 0 ? n : 0;
	}
	if (n >= 0)
		*from = d.n == max ? *from + max : 0;
	free(d.v);
	return n < 0 ? -1 : total;
}

static void
housekeeping(struct sweeper *sw, struct store *st, const struct conf *c, int64_t now)
{
	int n = 0, added = 0;

	sweeper_lapse(st, &c->authd, now, LAPSE_LINES_MAX, &sw->lapse_from);
	if (keyring_ensure(st, now, (int64_t)c->authd.key_rotate_h * 3600, &added) != STORE_OK)
		log_err("event=keyring_failed error=\"%s\"", store_error(st));
	else if (added > 0)
		log_info("event=keys_added count=%d", added);
	if (now - sw->last_prune < PRUNE_EVERY_S)
		return;
	if (store_prune(st, now - (int64_t)c->db.retention_days * 86400, &n) != STORE_OK) {
		log_err("event=prune_failed error=\"%s\"", store_error(st));
		return;
	}
	sw->last_prune = now;
	if (n > 0)
		log_info("event=prune rows=%d", n);
}

static void
sweep_now(struct sweeper *sw)
{
	struct authd_view *v = view_hold(sw->a);
	char err[256];
	struct store *st = dbpool_get(sw->a->pool, err, sizeof err);
	int64_t now = time(NULL);
	int rc;

	if (st == NULL) {
		log_err("event=sweep_failed error=\"%s\"", err);
		ametrics_sweep(0);
		view_release(sw->a, v);
		return;
	}
	rc = sweeper_run_once(sw->a, st, now);
	if (rc >= 0)
		housekeeping(sw, st, &v->conf, now);
	dbpool_put(sw->a->pool, st, rc < 0);
	view_release(sw->a, v);
}

static int
interval_s(struct sweeper *sw)
{
	struct authd_view *v = view_hold(sw->a);
	int s = v->conf.authd.sweep_interval_s;

	view_release(sw->a, v);
	return s > 0 ? s : 60;
}

/* The store's housekeeping off the request path (on SQLite: a WAL checkpoint). */
static void
maintain(struct sweeper *sw)
{
	char err[256];
	struct store *st = dbpool_get(sw->a->pool, err, sizeof err);
	int rc;

	if (st == NULL)
		return;
	if ((rc = store_maintain(st)) != STORE_OK)
		log_warn("event=maintain_failed error=\"%s\"", store_error(st));
	dbpool_put(sw->a->pool, st, rc == STORE_UNAVAILABLE);
}

/* Sweeps every sweep_interval_s (the first at once), maintains the store every MAINTAIN_MS. */
static void *
sweeper_main(void *arg)
{
	struct sweeper *sw = arg;
	struct timespec until;
	int64_t next_sweep = 0;
	int stop = 0;

	while (!stop) {
		if (clock_mono_ms() / 1000 >= next_sweep) {
			sweep_now(sw);
			next_sweep = clock_mono_ms() / 1000 + interval_s(sw);
		}
		maintain(sw);
		clock_mono_after(&until, MAINTAIN_MS);
		pthread_mutex_lock(&sw->lock);
		while (!sw->stop && pthread_cond_timedwait(&sw->wake, &sw->lock, &until) == 0)
			;
		stop = sw->stop;
		pthread_mutex_unlock(&sw->lock);
	}
	return NULL;
}

struct sweeper *
sweeper_start(struct authd *a, char *err, size_t errlen)
{
	struct sweeper *sw = calloc(1, sizeof *sw);
	pthread_condattr_t ca;

	if (sw == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sw->a = a;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
		snprintf(err, errlen, "cannot start the sweeper thread");
		pthread_cond_destroy(&sw->wake);
		pthread_mutex_destroy(&sw->lock);
		free(sw);
		return NULL;
	}
	return sw;
}

void
sweeper_stop(struct sweeper *sw)
{
	if (sw == NULL)
		return;
	pthread_mutex_lock(&sw->lock);
	sw->stop = 1;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
	free(sw);
}
