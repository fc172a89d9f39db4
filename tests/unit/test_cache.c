#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../cid/cid.h"
#include "fixture.h"
#include "log.h"

/*
 * The rights cache against a real store in a temporary directory: the
 * snapshot, every kind of change, gaps in the change log, batched last-seen
 * writes, and failing closed when there is no store.
 */

static struct fx fx;
static struct conf conf;
static struct cache cache;
static struct follower fol;
static struct cid_conf cc;
static struct store *st;                /* the test's own connection: "authd" */
static int64_t t0, admin, alice, bob, lab, other;

static void
setup(void)
{
	int added;

	log_set_level(LOG_WARNING);
	fx_init(&fx);
	conf_defaults(&conf);
	conf.db = fx.db;
	st = fx_open(&fx);
	t0 = time(NULL);
	admin = fx_user(st, "root", ROLE_ROOT);
	alice = fx_user(st, "alice", ROLE_USER);
	bob = fx_user(st, "bob", ROLE_USER);
	lab = fx_service(st, "lab", 5, 60, 10, admin);
	other = fx_service(st, "other", 5, 60, 10, admin);
	cr_assert_eq(keyring_ensure(st, t0, 86400, &added), STORE_OK);
	cr_assert_eq(cache_init(&cache, 5000), 0);
	memset(&fol, 0, sizeof fol);
	fol.cache = &cache;
	fol.conf = &conf;
	fol.store = fx_open(&fx);
	memset(&cc, 0, sizeof cc);
	cc.bind_ip = 1;
}

static void
teardown(void)
{
	if (fol.store != NULL)
		store_close(fol.store);
	store_close(st);
	cache_destroy(&cache);
	fx_cleanup(&fx);
}

TestSuite(cache, .init = setup, .fini = teardown);

static struct store_right
admit(int64_t user, int64_t service, const char *ip)
{
	struct store_admission a;
	struct addr a_ip = fx_ip(ip);

	cr_assert_eq(store_admit(st, user, service, &a_ip, t0, &a), STORE_OK);
	return a.right;
}

/* The cookie cid would have set for r, checked for service from ip at now. */
static int
check(const struct store_right *r, const char *service, const char *ip, int64_t now)
{
	struct check_req q;
	struct check_out out;
	struct token t;
	char tok[TOKEN_STR_MAX];

	memset(&t, 0, sizeof t);
	cr_assert_eq(sid_from_hex(r->sid, t.sid), 0);
	t.service_id = r->service_id;
	t.expires_at = r->expires_at;
	cache_rdlock(&cache);
	cr_assert_eq(token_sign(&cache.kr, now, &t, tok, sizeof tok), 0, "a current key is loaded");
	cache_unlock(&cache);
	memset(&q, 0, sizeof q);
	snprintf(q.service, sizeof q.service, "%s", service);
	q.token = tok;
	q.token_len = strlen(tok);
	q.client = fx_ip(ip);
	return check_run(&cache, &cc, &q, now, &out);
}

static size_t
rights(void)
{
	size_t n;
	int s;

	cache_sizes(&cache, &n, &s);
	return n;
}

Test(cache, snapshot_loads_services_live_rights_and_keys)
{
	struct store_right r = admit(alice, lab, "10.0.0.2");

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(rights(), 1);
	cr_assert_gt(cache.kr.n, 0);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_OK);
}

Test(cache, admission_after_the_snapshot_arrives_with_the_change_log)
{
	struct store_right r;

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	r = admit(alice, lab, "10.0.0.2");
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_NO_RIGHT);
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_OK);
}

Test(cache, revocation_arrives_with_the_change_log)
{
	struct store_right r = admit(alice, lab, "10.0.0.2");

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(store_end(st, r.id, END_REVOKED, t0, NULL), STORE_OK);
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_NO_RIGHT);
	cr_assert_eq(rights(), 0);
}

Test(cache, relogin_replaces_the_old_right)
{
	struct store_right r1 = admit(alice, lab, "10.0.0.2"), r2;

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	r2 = admit(alice, lab, "10.0.0.7");
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r1, "lab", "10.0.0.2", t0), CHECK_NO_RIGHT);
	cr_assert_eq(check(&r2, "lab", "10.0.0.7", t0), CHECK_OK);
}

Test(cache, disabled_service_loses_its_rights)
{
	struct store_right r = admit(alice, lab, "10.0.0.2"), r2 = admit(bob, other, "10.0.0.3");
	struct store_service svc;
	char err[128];

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(store_service_get_id(st, lab, &svc), STORE_OK);
	svc.enabled = 0;
	cr_assert_eq(store_service_update(st, &svc, ROLE_ROOT, t0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_UNKNOWN_SERVICE);
	cr_assert_eq(check(&r2, "other", "10.0.0.3", t0), CHECK_OK);
	cr_assert_eq(rights(), 1);
}

Test(cache, shorter_interval_applies_to_rights_already_held)
{
	struct store_right r = admit(alice, lab, "10.0.0.2");
	struct store_service svc;
	char err[128];

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0 + 120), CHECK_OK);
	cr_assert_eq(store_service_get_id(st, lab, &svc), STORE_OK);
	svc.max_interval_min = 1;
	cr_assert_eq(store_service_update(st, &svc, ROLE_ROOT, t0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0 + 180), CHECK_IDLE);
}

Test(cache, new_key_arrives_with_the_change_log)
{
	struct store_key k;
	int n0;

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	n0 = cache.kr.n;
	memset(&k, 0, sizeof k);
	k.kid = 4242;
	k.created_at = k.activates_at = t0 + 10;
	k.expires_at = t0 + 1000;
	cr_assert_eq(store_key_add(st, &k), STORE_OK);
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(cache.kr.n, n0 + 1);
	cr_assert_not_null(keyring_find(&cache.kr, 4242, t0));
}

Test(cache, gap_in_the_change_log_forces_a_full_reload)
{
	struct store_right rb, rc;
	int n;

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	rb = admit(bob, lab, "10.0.0.3");
	cr_assert_eq(store_prune(st, t0 + 100000, &n), STORE_OK);
	rc = admit(alice, other, "10.0.0.4");
	cr_assert_eq(follow_changes(&fol, t0), STORE_OK);
	cr_assert_eq(check(&rb, "lab", "10.0.0.3", t0), CHECK_OK, "the pruned admission is known");
	cr_assert_eq(check(&rc, "other", "10.0.0.4", t0), CHECK_OK);
}

/*
 * A follower far behind: 20 rights held, then a backlog of revocations, n
 * re-logins (two changes each) and new admissions, caught up in one round.
 * The round replays it in batches (each reading its rights in one store call)
 * or, once the backlog outruns what a snapshot costs, takes a snapshot: the
 * keys' reload time, set by a snapshot and by nothing else in a round without
 * key changes, tells which. Either way revoked and replaced rights are refused
 * and the new ones accepted.
 */
static void
far_behind(int n, int snapshot)
{
	int64_t big = fx_service(st, "big", 100, 60, 10, admin), users[20];
	struct store_right first[20], last[20], mid, fresh[5];
	struct store_stats stats;
	char name[16];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "u%d", i);
		users[i] = fx_user(st, name, ROLE_USER);
		first[i] = last[i] = admit(users[i], big, "10.0.1.1");
	}
	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(rights(), 20);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(store_end(st, first[i].id, END_REVOKED, t0, NULL), STORE_OK);
	for (int k = 0; k < n; k++) {
		int i = 10 + k % 10;

		last[i] = admit(users[i], big, "10.0.1.1");
		if (k == n / 2)
			mid = last[i];
	}
	for (int i = 0; i < 5; i++)
		fresh[i] = admit(users[i], big, "10.0.1.1");
	cr_assert_eq(store_stats(st, &stats), STORE_OK);
	cr_assert_gt(stats.last_seq - cache.seq, 2 * 512, "the backlog spans three batches or more");

	cr_assert_eq(follow_changes(&fol, t0 + 1), STORE_OK);
	cr_assert_eq(fol.keys_at == t0 + 1 + CID_KEYS_RELOAD_S, snapshot, "snapshot taken: %d", !snapshot);
	cr_assert_eq(cache.seq, stats.last_seq);
	cr_assert_eq(rights(), 15);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(check(&first[i], "big", "10.0.1.1", t0), CHECK_NO_RIGHT, "revoked u%d", i);
	for (int i = 10; i < 20; i++) {
		cr_assert_eq(check(&first[i], "big", "10.0.1.1", t0), CHECK_NO_RIGHT, "replaced u%d", i);
		cr_assert_eq(check(&last[i], "big", "10.0.1.1", t0), CHECK_OK, "re-logged u%d", i);
	}
	cr_assert_eq(check(&mid, "big", "10.0.1.1", t0), CHECK_NO_RIGHT, "replaced within the backlog");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(check(&fresh[i], "big", "10.0.1.1", t0), CHECK_OK, "new u%d", i);
}

Test(cache, follower_behind_by_batches_replays_them)
{
	far_behind(700, 0);                      /* 1415 changes */
}

Test(cache, follower_far_behind_takes_a_snapshot_instead)
{
	far_behind(2500, 1);                     /* 5015 changes: more than 4096 + 20 / 16 */
}

Test(cache, valid_checks_are_written_in_one_batch)
{
	struct store_right r1 = admit(alice, lab, "10.0.0.2"), r2 = admit(bob, lab, "10.0.0.3"), got;
	struct toucher tc;

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(check(&r1, "lab", "10.0.0.2", t0 + 30), CHECK_OK);
		cr_assert_eq(check(&r2, "lab", "10.0.0.3", t0 + 40), CHECK_OK);
	}
	memset(&tc, 0, sizeof tc);
	tc.cache = &cache;
	tc.conf = &conf;
	cr_assert_eq(touch_flush(&tc), 2, "two rights, one write each");
	cr_assert_eq(store_right_get(st, r1.id, &got), STORE_OK);
	cr_assert_eq(got.last_seen, t0 + 30);
	cr_assert_eq(store_right_get(st, r2.id, &got), STORE_OK);
	cr_assert_eq(got.last_seen, t0 + 40);
	cr_assert_eq(touch_flush(&tc), 0, "nothing new to write");
	store_close(tc.store);
}

Test(cache, full_reload_keeps_unwritten_uses)
{
	struct store_right r = admit(alice, lab, "10.0.0.2");
	int64_t ids[4], seen[4];

	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0 + 300), CHECK_OK);
	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(cache_take_dirty(&cache, ids, seen, 4), 1);
	cr_assert_eq(seen[0], t0 + 300);
}

Test(cache, use_seen_by_the_store_saves_an_idle_looking_right)
{
	struct store_right r = admit(alice, lab, "10.0.0.2");
	struct dbpool *pool = pool_new(&conf);
	int64_t seen = t0 + 500;

	cr_assert_not_null(pool);
	cache.reread = pool_reread;
	cache.reread_arg = pool;
	cr_assert_eq(follow_snapshot(&fol, t0), STORE_OK);
	cr_assert_eq(store_touch(st, &r.id, &seen, 1), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0 + 700), CHECK_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0 + 1400), CHECK_IDLE);
	dbpool_free(pool);
}

Test(cache, follower_thread_syncs_on_request)
{
	struct store_right r;
	struct follower f;

	conf.cid.refresh_ms = 60000;             /* only a request can wake it */
	store_close(fol.store);
	fol.store = NULL;
	cr_assert_eq(follow_start(&f, &cache, &conf), 0);
	r = admit(alice, lab, "10.0.0.2");
	cr_assert_eq(follow_sync(&f, 2000), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_OK);
	cr_assert_eq(store_end(st, r.id, END_LOGOUT, t0, NULL), STORE_OK);
	cr_assert_eq(follow_sync(&f, 2000), STORE_OK);
	cr_assert_eq(check(&r, "lab", "10.0.0.2", t0), CHECK_NO_RIGHT);
	follow_stop(&f);
}

Test(cache, no_store_means_nothing_passes)
{
	struct follower f;
	struct conf bad = conf;

	fx_path(&fx, "missing/sekisho.db", bad.db.path, sizeof bad.db.path);
	memset(&f, 0, sizeof f);
	f.cache = &cache;
	f.conf = &bad;
	cr_assert_neq(follow_tick(&f), STORE_OK);
	cache_rdlock(&cache);
	cr_assert_eq(cache_usable_locked(&cache), 0);
	cache_unlock(&cache);
}
