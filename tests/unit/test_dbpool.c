#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "dbpool.h"
#include "fixture.h"

static struct fx fx;

static void
setup(void)
{
	fx_init(&fx);
	store_close(fx_open(&fx));          /* creates and migrates the store */
}

static void
teardown(void)
{
	fx_cleanup(&fx);
}

TestSuite(dbpool, .init = setup, .fini = teardown);

Test(dbpool, a_returned_connection_is_lent_again)
{
	struct dbpool *p = dbpool_new(&fx.db, 2);
	struct store *a, *b;
	char err[256];

	cr_assert_not_null(a = dbpool_get(p, err, sizeof err), "%s", err);
	dbpool_put(p, a, 0);
	cr_assert_not_null(b = dbpool_get(p, err, sizeof err), "%s", err);
	cr_assert_eq(a, b);
	dbpool_put(p, b, 0);
	dbpool_free(p);
}

Test(dbpool, an_unreachable_store_is_an_error_and_frees_its_place)
{
	struct conf_db db = fx.db;
	struct dbpool *p;
	char err[256] = "";

	cr_assert_lt(snprintf(db.path, sizeof db.path, "%.200s/no/such/dir/sekisho.db", fx.dir),
	             (int)sizeof db.path);
	p = dbpool_new(&db, 1);
	cr_assert_null(dbpool_get(p, err, sizeof err));
	cr_assert_neq(err[0], '\0');
	cr_assert_null(dbpool_get(p, err, sizeof err), "the failed open kept its place: this get would wait");
	dbpool_free(p);
}

struct waiter {
	struct dbpool *p;
	atomic_int got;
};

static void *
get_one(void *arg)
{
	struct waiter *w = arg;
	char err[256];
	struct store *s = dbpool_get(w->p, err, sizeof err);

	atomic_store(&w->got, 1);
	dbpool_put(w->p, s, 0);
	return NULL;
}

Test(dbpool, at_its_maximum_a_thread_waits_until_one_comes_back)
{
	struct waiter w = { dbpool_new(&fx.db, 1), 0 };
	struct store *s;
	pthread_t t;
	char err[256];

	cr_assert_not_null(s = dbpool_get(w.p, err, sizeof err), "%s", err);
	pthread_create(&t, NULL, get_one, &w);
	usleep(100 * 1000);
	cr_assert_eq(atomic_load(&w.got), 0, "a second connection was lent beyond the maximum");
	dbpool_put(w.p, s, 1);              /* broken: closed, its place freed */
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&w.got), 1);
	dbpool_free(w.p);
}
