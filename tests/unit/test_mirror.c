/* ipfd's mirror: the per-service address sets and the service table. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../ipfd/ipfd.h"

static struct addr
v4(uint32_t n)
{
	struct addr a;

	memset(&a, 0, sizeof a);
	a.family = AF_INET;
	a.bytes[0] = 10;
	a.bytes[1] = (uint8_t)(n >> 16);
	a.bytes[2] = (uint8_t)(n >> 8);
	a.bytes[3] = (uint8_t)n;
	return a;
}

Test(ipset, put_get_and_update)
{
	struct ipset s = { 0 };
	struct addr a = v4(1), b = v4(2);

	cr_assert_null(ipset_get(&s, &a));
	cr_assert_eq(ipset_put(&s, &a, 1000), 0);
	cr_assert_eq(ipset_put(&s, &a, 5000), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(ipset_get(&s, &a)->until_ms, 5000);
	cr_assert_null(ipset_get(&s, &b));
	ipset_free(&s);
}

Test(ipset, v4_and_v6_with_the_same_bytes_are_different)
{
	struct ipset s = { 0 };
	struct addr a = v4(7), b = v4(7);

	b.family = AF_INET6;
	ipset_put(&s, &a, 10);
	cr_assert_null(ipset_get(&s, &b));
	ipset_put(&s, &b, 20);
	cr_assert_eq(s.n, 2);
	ipset_free(&s);
}

/* Random puts and deletes against a plain array: the set must agree after every step. */
Test(ipset, agrees_with_a_reference_under_churn)
{
	enum { N = 3000, STEPS = 40000 };
	static int64_t ref[N];
	struct ipset s = { 0 };
	struct addr a;
	size_t live = 0;
	int i, k;

	srand(7);
	for (i = 0; i < STEPS; i++) {
		k = rand() % N;
		a = v4((uint32_t)k);
		if (rand() % 3 == 0) {
			ipset_del(&s, &a);
			live -= ref[k] != 0;
			ref[k] = 0;
		} else {
			cr_assert_eq(ipset_put(&s, &a, i + 1), 0);
			live += ref[k] == 0;
			ref[k] = i + 1;
		}
	}
	cr_assert_eq(s.n, live);
	for (k = 0; k < N; k++) {
		a = v4((uint32_t)k);
		if (ref[k] == 0)
			cr_assert_null(ipset_get(&s, &a), "%d should be gone", k);
		else
			cr_assert_eq(ipset_get(&s, &a)->until_ms, ref[k], "%d", k);
	}
	ipset_free(&s);
}

Test(ipset, prune_drops_what_the_kernel_has_timed_out)
{
	struct ipset s = { 0 };
	struct addr a;
	int i;

	for (i = 0; i < 1000; i++) {
		a = v4((uint32_t)i);
		ipset_put(&s, &a, i % 2 ? 100 : 300);
	}
	cr_assert_eq(ipset_prune(&s, 100), 500);
	for (i = 0; i < 1000; i++) {
		a = v4((uint32_t)i);
		if (i % 2)
			cr_assert_null(ipset_get(&s, &a));
		else
			cr_assert_not_null(ipset_get(&s, &a));
	}
	cr_assert_eq(ipset_prune(&s, 300), 0);
	ipset_free(&s);
}

static struct store_service
service(int64_t id, const char *guard_text)
{
	struct store_service ss;
	char err[64];

	memset(&ss, 0, sizeof ss);
	ss.id = id;
	ss.cap = 3;
	ss.enabled = 1;
	if (guard_text != NULL) {
		cr_assert_eq(guard_parse(guard_text, &ss.guards[0], err, sizeof err), 0, "%s", err);
		ss.n_guards = 1;
	}
	return ss;
}

Test(mirror, finds_services_by_id_after_sorting)
{
	struct mirror m = { 0 };
	struct store_service ss;
	int64_t ids[] = { 40, 3, 17, 1000, 5 };
	size_t i;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		ss = service(ids[i], NULL);
		cr_assert_not_null(mirror_add(&m, &ss));
	}
	mirror_sort(&m);
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
		cr_assert_eq(mirror_find(&m, ids[i])->id, ids[i]);
	cr_assert_null(mirror_find(&m, 4));
	cr_assert_null(mirror_find(&m, 0));
	mirror_free(&m);
}

Test(mirror, rules_change_when_guards_change)
{
	struct mirror m = { 0 };
	struct store_service a = service(1, "10.0.0.5:80"), b = service(1, "10.0.0.5:81");
	struct store_service c = service(1, NULL);
	struct svc *v = mirror_add(&m, &a);

	cr_assert(svc_same_rules(v, &a));
	cr_assert_not(svc_same_rules(v, &b));
	cr_assert_not(svc_same_rules(v, &c));
	mirror_free(&m);
}
