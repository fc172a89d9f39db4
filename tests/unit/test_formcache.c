#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../authd/authd.h"

/*
 * The anonymous login form's service list (formcache.c): an event thread
 * answers from it and never reads the store; once it is older than a
 * second the refresher thread reads it again while every request is
 * answered from the list as it was. The reader here stands in for the
 * store (a unit test of the cache's logic; test_authd.sh serves the form
 * from a real store).
 */

static atomic_int reads;
static atomic_int failing;
static char next_name[32] = "beta";

static int
fake_reader(void *arg, struct store_service **v, size_t *n)
{
	(void)arg;
	atomic_fetch_add(&reads, 1);
	if (atomic_load(&failing))
		return -1;
	*v = calloc(1, sizeof **v);
	snprintf((*v)[0].name, sizeof (*v)[0].name, "%s", next_name);
	(*v)[0].enabled = 1;
	*n = 1;
	return 0;
}

/* The one name the cache hands out, or "" when it hands out nothing. */
static const char *
cached(int stale_ok)
{
	static char name[64];
	struct store_service *v = NULL;
	size_t n = 0;

	name[0] = '\0';
	if (formcache_get(&v, &n, stale_ok) == 0 && n == 1)
		snprintf(name, sizeof name, "%s", v[0].name);
	free(v);
	return name;
}

/* Waits (bounded) until the cache hands out name to a worker. */
static int
becomes(const char *name)
{
	for (int i = 0; i < 200; i++) {
		if (strcmp(cached(0), name) == 0)
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

static void
setup(void)
{
	cr_assert_eq(formcache_start(fake_reader, NULL), 0);
}

TestSuite(formcache, .init = setup, .fini = formcache_stop);

Test(formcache, a_stale_list_is_served_while_the_refresher_reads_it_again)
{
	struct store_service a;

	memset(&a, 0, sizeof a);
	snprintf(a.name, sizeof a.name, "alpha");
	cr_assert_eq(formcache_fresh(), 0, "nothing kept yet: a worker reads the store");
	cr_assert_str_eq(cached(1), "", "nothing to hand out");
	formcache_put(&a, 1);
	cr_assert_eq(formcache_fresh(), 1);
	cr_assert_str_eq(cached(0), "alpha");
	cr_assert_eq(atomic_load(&reads), 0, "a fresh list is not read again");

	usleep(1100 * 1000);                 /* past FORMCACHE_MS */
	cr_assert_str_eq(cached(0), "", "a worker does not take a list over a second old");
	cr_assert_str_eq(cached(1), "alpha", "an event thread does");
	cr_assert_eq(formcache_fresh(), 1, "every request is answered from the old list");
	cr_assert_eq(formcache_fresh(), 1);
	cr_assert(becomes("beta"), "the refresher read the list again");
	cr_assert_eq(atomic_load(&reads), 1, "once, however many asked");
}

Test(formcache, a_store_that_does_not_answer_is_asked_at_most_once_a_second)
{
	struct store_service a;

	memset(&a, 0, sizeof a);
	snprintf(a.name, sizeof a.name, "alpha");
	formcache_put(&a, 1);
	atomic_store(&failing, 1);
	usleep(1100 * 1000);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(formcache_fresh(), 1, "the old list still serves");
		usleep(10 * 1000);
	}
	cr_assert_eq(atomic_load(&reads), 1, "asked once in half a second, not %d times",
	             atomic_load(&reads));
	cr_assert_str_eq(cached(1), "alpha");
	usleep(600 * 1000);                  /* a second since it was asked */
	cr_assert_eq(formcache_fresh(), 1);
	for (int i = 0; i < 100 && atomic_load(&reads) < 2; i++)
		usleep(10 * 1000);
	cr_assert_eq(atomic_load(&reads), 2, "asked again after a second");
	atomic_store(&failing, 0);
	cr_assert_eq(formcache_fresh(), 1);
	cr_assert(becomes("beta") == 0, "nor a third time within that second");
	cr_assert_eq(atomic_load(&reads), 2);
}
