#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../authd/authd.h"
#include "fixture.h"

/*
 * The login throttle with the clock in the test's hands: the in-memory address
 * and global buckets (throttle.c), the backoff rule, and the per-account counts
 * in a real store (lockout.c). docs/security.md, "Login throttling".
 */

static const struct throttle_params params = {
	.ip_burst = 3, .user_burst = 2, .account_burst = 4, .refill_s = 10,
	.backoff_max_s = 80, .checks_per_s = 100000, .known_days = 90,
};

static struct throttle *
make_with(int slots, const struct throttle_params *p)
{
	struct throttle *t = throttle_new(slots, p, 0);

	cr_assert_not_null(t);
	return t;
}

static struct throttle *
make(int slots)
{
	return make_with(slots, &params);
}

/* One password check at now_ms that ends with result; returns what throttle_begin said. */
static int
attempt_as(struct throttle *t, const char *ip, int flags, int result, int64_t now_ms)
{
	struct throttle_ticket tk;
	int retry;

	if (throttle_begin(t, ip, flags, now_ms, &tk, &retry) == -1)
		return -1;
	throttle_done(t, ip, result, now_ms, &tk);
	return 0;
}

static int
attempt(struct throttle *t, const char *ip, int result, int64_t now_ms)
{
	return attempt_as(t, ip, 0, result, now_ms);
}

static void
ip_of(int i, char *out, size_t n)
{
	snprintf(out, n, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

Test(throttle, first_attempt_goes_ahead)
{
	struct throttle *t = make(16);

	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), 0);
	throttle_free(t);
}

Test(throttle, failures_from_one_ip_exhaust_its_bucket)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 3; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), 0, "attempt %d", i);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), -1);
	cr_assert_eq(attempt(t, "10.0.0.2", THROTTLE_FAILED, 0), 0, "other IPs unaffected");
	throttle_free(t);
}

Test(throttle, an_attempt_comes_back_every_refill_period)
{
	struct throttle *t = make(16);
	struct throttle_ticket tk;
	int retry;

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
	cr_assert_eq(throttle_begin(t, "10.0.0.1", 0, 9999, &tk, &retry), -1);
	cr_assert_eq(retry, 1);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 10000), 0);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 10000), -1);
	throttle_free(t);
}

Test(throttle, successful_logins_never_use_up_the_bucket)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 20; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_OK, 0), 0, "login %d", i);
	throttle_free(t);
}

Test(throttle, cancelled_attempts_give_their_token_back)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 20; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_CANCEL, 0), 0);
	throttle_free(t);
}

Test(throttle, parallel_attempts_cannot_overdraw_a_bucket)
{
	struct throttle *t = make(16);
	struct throttle_ticket tk[4];
	int retry;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(throttle_begin(t, "10.0.0.1", 0, 0, &tk[i], &retry), 0);
	cr_assert_eq(throttle_begin(t, "10.0.0.1", 0, 0, &tk[3], &retry), -1,
	             "three reservations outstanding use up a burst of three");
	throttle_free(t);
}

Test(throttle, refunds_never_exceed_the_burst)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 10; i++)
		attempt(t, "10.0.0.1", THROTTLE_OK, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), 0);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), -1);
	throttle_free(t);
}

Test(throttle, check_looks_without_reserving)
{
	struct throttle *t = make(16);
	int retry;

	for (int i = 0; i < 10; i++)
		cr_assert_eq(throttle_check(t, "10.0.0.1", 0, 0, &retry), 0);
	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
	cr_assert_eq(throttle_check(t, "10.0.0.1", 0, 0, &retry), -1);
	cr_assert_eq(retry, 10);
	throttle_free(t);
}

/* Issue items 1 and 9b: a refused or checked request is no entry in the table. */
Test(throttle, refused_and_checked_requests_leave_no_entry)
{
	struct throttle *t = make(16);
	char ip[32];
	int retry;

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
	for (int i = 0; i < 5000; i++) {
		cr_assert_eq(throttle_begin(t, "10.0.0.1", 0, 0, &(struct throttle_ticket){ 0 }, &retry),
		             -1);
		ip_of(i + 100, ip, sizeof ip);
		throttle_check(t, ip, 0, 0, &retry);
	}
	cr_assert_eq(throttle_entries(t), 1);
	throttle_free(t);
}

/* Issue item 9b: more new addresses than the table holds cannot reset an empty bucket. */
Test(throttle, a_flood_of_new_addresses_leaves_an_empty_bucket_empty)
{
	struct throttle *t = make(4096);
	char ip[32];

	for (int i = 0; i < 3; i++)
		attempt(t, "192.0.2.1", THROTTLE_FAILED, 0);
	for (int i = 0; i < 4100; i++) {
		ip_of(i, ip, sizeof ip);
		attempt(t, ip, THROTTLE_FAILED, 1);
	}
	cr_assert_eq(attempt(t, "192.0.2.1", THROTTLE_FAILED, 2), -1, "the victim's bucket was kept");
	throttle_free(t);
}

Test(throttle, a_full_table_forgets_the_fullest_bucket_first)
{
	struct throttle *t = make(3);

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
	attempt(t, "10.0.0.2", THROTTLE_FAILED, 0);
	attempt(t, "10.0.0.3", THROTTLE_OK, 0);
	cr_assert_eq(attempt(t, "10.0.0.4", THROTTLE_FAILED, 0), 0, ".3 (full) made room");
	cr_assert_eq(attempt(t, "10.0.0.5", THROTTLE_FAILED, 0), 0, ".4 or .2 (two left) made room");
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), -1, ".1 (empty) was kept");
	throttle_free(t);
}

Test(throttle, a_table_full_of_empty_buckets_refuses_new_addresses)
{
	struct throttle *t = make(2);

	for (int i = 0; i < 3; i++) {
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
		attempt(t, "10.0.0.2", THROTTLE_FAILED, 0);
	}
	cr_assert_eq(attempt(t, "10.0.0.3", THROTTLE_FAILED, 0), -1);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_FAILED, 0), -1, ".1 kept");
	cr_assert_eq(attempt(t, "10.0.0.2", THROTTLE_FAILED, 0), -1, ".2 kept");
	cr_assert_eq(attempt(t, "10.0.0.3", THROTTLE_FAILED, 10000), 0, "room once one refilled");
	throttle_free(t);
}

Test(throttle, many_keys_through_a_small_table_stay_consistent)
{
	struct throttle *t = make(8);
	char ip[32];

	for (int i = 0; i < 1000; i++) {
		ip_of(i, ip, sizeof ip);
		cr_assert_eq(attempt(t, ip, i % 3 ? THROTTLE_OK : THROTTLE_FAILED, i * 10000), 0, "%d", i);
	}
	throttle_free(t);
}

/* Issue item 1: a global ceiling on failed password checks per second. */
Test(throttle, the_global_ceiling_bounds_failed_checks_per_second)
{
	struct throttle_params p = params;
	struct throttle *t;
	char ip[32];

	p.checks_per_s = 5;
	t = make_with(64, &p);
	for (int i = 0; i < 5; i++) {
		ip_of(i, ip, sizeof ip);
		cr_assert_eq(attempt(t, ip, THROTTLE_FAILED, 0), 0, "%d", i);
	}
	cr_assert_eq(attempt(t, "10.9.9.9", THROTTLE_FAILED, 0), -1, "sixth in the same second");
	cr_assert_eq(attempt_as(t, "10.9.9.9", THROTTLE_NO_GLOBAL, THROTTLE_FAILED, 0), 0,
	             "a trusted source is not held by the ceiling");
	cr_assert_eq(attempt(t, "10.9.9.9", THROTTLE_FAILED, 200), 0, "one back after 1/5 s");
	throttle_free(t);
}

Test(throttle, right_passwords_do_not_count_against_the_ceiling)
{
	struct throttle_params p = params;
	struct throttle *t;

	p.checks_per_s = 2;
	t = make_with(64, &p);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_OK, 0), 0, "%d", i);
	throttle_free(t);
}

Test(throttle, a_known_device_skips_the_address_bucket)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", THROTTLE_FAILED, 0);
	cr_assert_eq(attempt(t, "10.0.0.1", THROTTLE_OK, 0), -1);
	cr_assert_eq(attempt_as(t, "10.0.0.1", THROTTLE_NO_IP | THROTTLE_NO_GLOBAL, THROTTLE_OK, 0), 0);
	throttle_free(t);
}

Test(backoff, none_below_the_burst)
{
	cr_assert_eq(throttle_backoff_s(&params, 1, 2, 1000, 1000), 0);
}

Test(backoff, doubles_with_each_failure_up_to_the_max)
{
	int want[] = { 10, 20, 40, 80, 80, 80 };

	for (int i = 0; i < 6; i++)
		cr_assert_eq(throttle_backoff_s(&params, 2 + i, 2, 1000, 1000), want[i], "%d", i);
	cr_assert_eq(throttle_backoff_s(&params, 3, 2, 1000, 1015), 5, "the wait runs down");
	cr_assert_eq(throttle_backoff_s(&params, 3, 2, 1000, 1020), 0);
	cr_assert_eq(throttle_backoff_s(&params, 1000000, 2, 1000, 1000), 80, "no overflow");
}

Test(backoff, old_failures_count_no_more)
{
	cr_assert_eq(throttle_backoff_s(&params, 50, 2, 1000, 1000 + THROTTLE_FORGET_S), 0);
}

/* ---- per-account counts in a real store (lockout.c) ---- */

static struct fx fx;
static struct store *st;

static void
store_setup(void)
{
	fx_init(&fx);
	st = fx_open(&fx);
	fx_user(st, "alice", ROLE_USER);
}

static void
store_teardown(void)
{
	store_close(st);
	fx_cleanup(&fx);
}

static struct lockout_src
src_of(const char *source, int trusted)
{
	struct lockout_src s = { .trusted = trusted };

	snprintf(s.source, sizeof s.source, "%s", source);
	return s;
}

/* A failed check by account from source at now: 0 it went ahead, 1 refused. */
static int
fail(const char *account, const char *source, int trusted, int64_t now)
{
	struct lockout_src s = src_of(source, trusted);
	int retry, rc = lockout_begin(st, &params, account, &s, now, &retry);

	cr_assert_neq(rc, -1, "%s", store_error(st));
	return rc;
}

static int
may_try(const char *account, const char *source, int trusted, int64_t now)
{
	struct store_lockout pair = { .failures = 0 }, acct = { .failures = 0 };
	int w;

	cr_assert_eq(store_lockout_state(st, account, source, &pair, &acct), STORE_OK);
	w = throttle_backoff_s(&params, pair.failures, params.user_burst, pair.last_at, now);
	if (!trusted)
		w += throttle_backoff_s(&params, acct.failures, params.account_burst, acct.last_at, now);
	return w == 0;
}

TestSuite(lockout, .init = store_setup, .fini = store_teardown);

Test(lockout, a_source_backs_off_after_its_burst)
{
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1000), 0);
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1000), 0);
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1000), 1);
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1010), 0, "after refill_s");
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1015), 1, "then twice as long");
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1030), 0);
}

/* Issue item 1: made-up names do not push the victim's count out. */
Test(lockout, a_flood_of_made_up_names_leaves_the_victim_throttled)
{
	char name[NAME_MAX_LEN + 1], ip[32];

	fail("alice", "10.0.0.1", 0, 1000);
	fail("alice", "10.0.0.1", 0, 1000);
	for (int i = 0; i < 4100; i++) {
		snprintf(name, sizeof name, "nobody%d", i);
		ip_of(i, ip, sizeof ip);
		fail(name, ip, 0, 1001);
	}
	cr_assert_eq(fail("alice", "10.0.0.1", 0, 1002), 1);
}

/* Issue item 2: a stranger's failures do not refuse the user at a new address. */
Test(lockout, failures_from_one_address_do_not_refuse_another)
{
	for (int i = 0; i < 3; i++)
		fail("alice", "198.51.100.7", 0, 1000);
	cr_assert(may_try("alice", "10.0.0.2", 0, 1000));
}

/* Issue item 2: guesses from many addresses stop strangers, not known sources. */
Test(lockout, an_account_under_attack_still_lets_known_sources_in)
{
	char ip[32];

	for (int i = 0; i < 4; i++) {
		ip_of(i, ip, sizeof ip);
		cr_assert_eq(fail("alice", ip, 0, 1000), 0);
	}
	cr_assert_eq(fail("alice", "10.9.9.9", 0, 1000), 1, "a stranger waits");
	cr_assert_eq(fail("alice", "10.0.0.9", 1, 1000), 0, "a known address goes ahead");
	cr_assert_eq(fail("alice", "d:0123456789abcdef0123456789abcdef", 1, 1000), 0,
	             "a known device goes ahead");
}

/* Issue item 2: a NAT neighbour at the user's known address gets no free guesses. */
Test(lockout, a_known_address_backs_off_after_its_own_failures)
{
	cr_assert_eq(fail("alice", "10.0.0.9", 1, 1000), 0);
	cr_assert_eq(fail("alice", "10.0.0.9", 1, 1000), 0);
	cr_assert_eq(fail("alice", "10.0.0.9", 1, 1000), 1);
	cr_assert(may_try("alice", "d:0123456789abcdef0123456789abcdef", 1, 1000),
	          "the user's own device is not held by the neighbour's failures");
}

Test(lockout, a_right_password_clears_its_source_and_gives_the_account_back)
{
	struct store_lockout pair = { .failures = 0 }, acct = { .failures = 0 };

	fail("alice", "10.0.0.1", 0, 1000);
	fail("alice", "10.0.0.2", 0, 1000);
	cr_assert_eq(store_lockout_refund(st, "alice", "10.0.0.2", 1), STORE_OK);
	cr_assert_eq(store_lockout_state(st, "alice", "10.0.0.2", &pair, &acct), STORE_OK);
	cr_assert_eq(pair.failures, 0);
	cr_assert_eq(acct.failures, 1);
}

Test(lockout, clearing_lets_the_source_in_again)
{
	int n;

	for (int i = 0; i < 3; i++)
		fail("alice", "10.0.0.1", 0, 1000);
	cr_assert_not(may_try("alice", "10.0.0.1", 0, 1000));
	cr_assert_eq(store_lockout_clear(st, "alice", NULL, &n), STORE_OK);
	cr_assert_eq(n, 2, "the source's row and the account's");
	cr_assert(may_try("alice", "10.0.0.1", 0, 1000));
}

Test(lockout, counts_and_known_sources_survive_a_restart)
{
	fail("alice", "10.0.0.1", 0, 1000);
	fail("alice", "10.0.0.1", 0, 1000);
	cr_assert_eq(store_known_add(st, "alice", "10.0.0.9", 1000), STORE_OK);
	store_close(st);
	st = fx_open(&fx);
	cr_assert_not(may_try("alice", "10.0.0.1", 0, 1000));
	cr_assert_eq(store_known_has(st, "alice", "10.0.0.9", 0), STORE_OK);
	cr_assert_eq(store_known_has(st, "alice", "10.0.0.9", 1001), STORE_NOTFOUND, "too old");
	cr_assert_eq(store_known_has(st, "alice", "10.0.0.8", 0), STORE_NOTFOUND);
}

Test(lockout, bad_names_and_sources_are_refused)
{
	cr_assert_eq(store_lockout_fail(st, "bad name", "10.0.0.1", 1, 0), STORE_INVALID);
	cr_assert_eq(store_lockout_fail(st, "alice", "*", 1, 0), STORE_INVALID);
	cr_assert_eq(store_lockout_fail(st, "alice", "", 1, 0), STORE_INVALID);
	cr_assert_eq(store_known_add(st, "alice", "a b", 1), STORE_INVALID);
}
