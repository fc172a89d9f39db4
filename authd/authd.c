#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "authd.h"
#include "daemon.h"
#include "log.h"
#include "passwd.h"
#include "token.h"

/* The daemon's state: made at start, partly replaced on SIGHUP, freed at exit. */

/* The hash verified for unknown names, so a wrong name costs what a wrong password costs. */
static int
make_dummy_hash(char *out, size_t n, char *err, size_t errlen)
{
	char pw[RANDOM_STR_LEN + 1];

	if (random_b64url(pw, sizeof pw, RANDOM_BYTES) == -1) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	return passwd_hash(pw, &passwd_default, out, n, err, errlen);
}

/* hash_workers = 0: one per CPU this process may run on (1..64). */
static int
cpus_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (n > 64 ? 64 : (int)n);
}

/*
 * http_threads = 0: 2 event threads per CPU (they only move bytes and
 * render pages from memory). http_workers = 0: 4 per CPU plus 2 per place
 * that may wait on its own connection, so the waits take at most half the
 * workers (authd_wait_take). 4 per CPU of them (or all, if fewer) run from
 * the start; the rest start when requests find no worker idle.
 */
static void
size_pool(struct authd *a, const struct conf *c)
{
	int direct = a->hash_workers > LINE_DIRECT ? a->hash_workers : LINE_DIRECT;

	a->http_threads = c->authd.http_threads > 0 ? c->authd.http_threads : 2 * cpus_online();
	a->http_workers = c->authd.http_workers > 0 ? c->authd.http_workers :
	                  4 * cpus_online() + 2 * direct;
	a->http_workers_min = a->http_workers < 4 * cpus_online() ? a->http_workers : 4 * cpus_online();
	a->wait_turns = a->http_workers / 2;
	a->line_direct = direct < a->wait_turns ? direct : a->wait_turns;
}

/* The login form's service list for its refresher (formcache.c), from a pooled connection. */
static int
form_services(void *arg, struct store_service **v, size_t *n)
{
	struct authd *a = arg;
	char err[256];
	struct store *st = dbpool_get(a->pool, err, sizeof err);
	int rc;

	if (st == NULL) {
		log_err("event=store_unavailable op=service_list error=\"%s\"", err);
		return -1;
	}
	rc = formcache_read(st, v, n);
	dbpool_put(a->pool, st, rc == STORE_UNAVAILABLE);
	return rc == STORE_OK ? 0 : -1;
}

int
authd_wait_take(struct authd *a)
{
	if (atomic_fetch_add(&a->waiting, 1) < a->wait_turns)
		return 0;
	atomic_fetch_sub(&a->waiting, 1);
	return -1;
}

void
authd_wait_give(struct authd *a)
{
	atomic_fetch_sub(&a->waiting, 1);
}

int
authd_init(struct authd *a, const struct conf *c, char *err, size_t errlen)
{
	struct throttle_params tp;
	int pool;

	memset(a, 0, sizeof *a);
	a->boot = *c;
	pthread_mutex_init(&a->view_lock, NULL);
	if ((a->view = view_load(c, err, errlen)) == NULL)
		return -1;
	throttle_params_conf(c, &tp);
	a->pool = dbpool_new(&c->db, c->db.pool_size > 0 ? c->db.pool_size : CONF_POOL_DEFAULT);
	a->fw = fwc_new(c->ipfd.socket, c->authd.ipfd_timeout_ms, c->ipfd.enabled);
	a->throttle = throttle_new(THROTTLE_SLOTS, &tp, clock_mono_ms());
	if (a->pool == NULL || a->fw == NULL || a->throttle == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* boot keeps the configured 0: SIGHUP compares it with the file's. */
	a->hash_workers = c->authd.hash_workers > 0 ? c->authd.hash_workers : cpus_online();
	size_pool(a, c);
	pool = c->db.pool_size > 0 ? c->db.pool_size : CONF_POOL_DEFAULT;
	if (sem_init(&a->hash_sem, 0, (unsigned)a->hash_workers) == -1 ||
	    sem_init(&a->login_gate, 0, (unsigned)(pool > 1 ? pool / 2 : 1)) == -1) {
		snprintf(err, errlen, "cannot make the hash semaphore");
		return -1;
	}
	if ((a->hashes = hashpool_start(a, a->hash_workers, c->authd.hash_queue_max,
	                                err, errlen)) == NULL ||
	    (a->line = loginline_start(a, c->authd.hash_queue_max, err, errlen)) == NULL)
		return -1;
	if (formcache_start(form_services, a) == -1) {
		snprintf(err, errlen, "cannot start the login form's refresher");
		return -1;
	}
	return make_dummy_hash(a->dummy_hash, sizeof a->dummy_hash, err, errlen);
}

void
authd_fini(struct authd *a)
{
	formcache_stop();
	hashpool_stop(a->hashes);
	loginline_stop(a->line);
	view_swap(a, NULL);
	throttle_free(a->throttle);
	fwc_free(a->fw);
	dbpool_free(a->pool);
	sem_destroy(&a->hash_sem);
	sem_destroy(&a->login_gate);
	pthread_mutex_destroy(&a->view_lock);
}

void
authd_reload(struct authd *a)
{
	struct throttle_params tp;
	struct authd_view *v;
	struct conf c;
	char err[512];

	if (daemon_reread(CONF_AUTHD, &a->boot, &c) == -1)
		return;
	if ((v = view_load(&c, err, sizeof err)) == NULL) {
		log_err("event=reload result=failed file=%s error=\"%s\" effect=kept_old_config", c.file,
		        err);
		return;
	}
	view_swap(a, v);
	throttle_params_conf(&c, &tp);
	throttle_set(a->throttle, &tp);
	fwc_set_timeout(a->fw, c.authd.ipfd_timeout_ms);
	log_set_level(c.log_level);
	log_info("event=reload result=ok file=%s", c.file);
}
