#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../authd/authd.h"

/*
 * The anonymous login form's service list (formcache.c): an event thread
 * answers from it and never reads the store; once it is older than a
 * second exactly one request is sent to refresh it while the others are
 * answered from the list as it was.
 */

static struct store_service
service(const char *name)
{
	struct store_service s;

	memset(&s, 0, sizeof s);
	snprintf(s.name, sizeof s.name, "%s", name);
	s.enabled = 1;
	return s;
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

Test(formcache, serves_a_fresh_list_and_sends_one_request_to_refresh_a_stale_one)
{
	struct store_service a = service("alpha"), b = service("beta");

	cr_assert_eq(formcache_fresh(), 0, "nothing kept yet: a worker reads the store");
	cr_assert_str_eq(cached(1), "", "nothing to hand out");
	formcache_put(&a, 1);
	cr_assert_eq(formcache_fresh(), 1);
	cr_assert_str_eq(cached(0), "alpha");

	usleep(1100 * 1000);                 /* past FORMCACHE_MS */
	cr_assert_str_eq(cached(0), "", "a worker does not take a list over a second old");
	cr_assert_str_eq(cached(1), "alpha", "an event thread does");
	cr_assert_eq(formcache_fresh(), 0, "the first request after a second goes to refresh it");
	cr_assert_eq(formcache_fresh(), 1, "the others are answered from the old list meanwhile");
	cr_assert_eq(formcache_fresh(), 1);

	formcache_put(&b, 1);                /* the refresh */
	cr_assert_eq(formcache_fresh(), 1);
	cr_assert_str_eq(cached(0), "beta");
}
