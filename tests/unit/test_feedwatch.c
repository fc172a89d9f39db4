/*
 * feedwatch (common/feedwatch.c): the thread that turns the store's commit
 * notifications into wake-ups for cid's and ipfd's followers. It must wake
 * once after subscribing (what committed before was announced to nobody),
 * on every commit that appends to the change log, and again after its
 * connection is lost and it subscribes anew. With SQLite it starts nothing.
 * The waits below are deadlines for an event, generous on a loaded machine;
 * a missing wake-up fails them.
 */

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "feedwatch.h"
#include "fixture.h"
#include "pgcluster.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set) { (void)set; pgc_hook_start(); }
ReportHook(POST_ALL)(struct criterion_global_stats *st) { (void)st; pgc_hook_stop(); }

#define DEADLINE_MS 20000

static struct fx fx;
static struct store *s;
static atomic_int wakes;

static void
count(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakes, 1);
}

/* 1 as soon as wakes exceeds n, 0 after DEADLINE_MS. */
static int
woken_past(int n)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < DEADLINE_MS / 10; i++) {
		if (atomic_load(&wakes) > n)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void
setup(void)
{
	fx_init_pg(&fx);
	s = fx_open(&fx);
	atomic_store(&wakes, 0);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(feedwatch, .init = setup, .fini = teardown);

Test(feedwatch, wakes_after_subscribing_and_on_every_commit)
{
	struct feedwatch w;
	int64_t root = fx_user(s, "root", ROLE_ROOT);
	int n;

	cr_assert_eq(feedwatch_start(&w, &fx.db, count, NULL), 0);
	cr_assert(w.running);
	cr_assert(woken_past(0), "no wake-up after subscribing");
	/* A service add appends to the change log: its commit notifies. */
	for (int i = 0; i < 3; i++) {
		char name[16];

		n = atomic_load(&wakes);
		snprintf(name, sizeof name, "svc%d", i);
		fx_service(s, name, 5, 60, 30, root);
		cr_assert(woken_past(n), "no wake-up for commit %d", i);
	}
	feedwatch_stop(&w);
	cr_assert_not(w.running);
}

/* Ends the watcher's server session, as a server restart or a cut link would. */
static void
kill_listener(const char *url)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	              "WHERE datname = current_database() AND query LIKE 'LISTEN%'");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	cr_assert_eq(PQntuples(r), 1, "the watcher's session is not there");
	PQclear(r);
	PQfinish(c);
}

Test(feedwatch, a_lost_connection_subscribes_again_and_wakes)
{
	struct feedwatch w;
	int64_t root = fx_user(s, "root", ROLE_ROOT);
	int n;

	cr_assert_eq(feedwatch_start(&w, &fx.db, count, NULL), 0);
	cr_assert(woken_past(0));
	n = atomic_load(&wakes);
	kill_listener(fx.db.url);
	/* Commits while it reconnects were announced to nobody: the resubscription must wake. */
	fx_service(s, "during", 5, 60, 30, root);
	cr_assert(woken_past(n), "no wake-up after the reconnect");
	n = atomic_load(&wakes);
	fx_service(s, "after", 5, 60, 30, root);
	cr_assert(woken_past(n), "no wake-up for a commit after the reconnect");
	feedwatch_stop(&w);
}

Test(feedwatch_sqlite, starts_nothing_without_notifications)
{
	struct fx f;
	struct feedwatch w;

	fx_init(&f);
	cr_assert_eq(feedwatch_start(&w, &f.db, count, NULL), 0);
	cr_assert_not(w.running);
	feedwatch_stop(&w);
	fx_cleanup(&f);
}
