#include <criterion/criterion.h>
#include <stdio.h>

#include "../../authd/authd.h"

/* Bursts: 3 failures per IP, 2 per account; one attempt back every 10 s. */
static const struct throttle_params params = { .ip_burst = 3, .user_burst = 2, .refill_s = 10 };

static struct throttle *
make(int slots)
{
	struct throttle *t = throttle_new(slots, &params);

	cr_assert_not_null(t);
	return t;
}

/* One attempt at now_ms that ends with result; returns what throttle_begin said. */
static int
attempt(struct throttle *t, const char *ip, const char *user, int result, int64_t now_ms)
{
	struct throttle_ticket tk;
	int retry;

	if (throttle_begin(t, ip, user, now_ms, &tk, &retry) == -1)
		return -1;
	throttle_done(t, ip, user, result, now_ms, &tk);
	return 0;
}

Test(throttle, first_attempt_goes_ahead)
{
	struct throttle *t = make(16);

	cr_assert_eq(attempt(t, "10.0.0.1", "alice", THROTTLE_FAILED, 0), 0);
	throttle_free(t);
}

Test(throttle, failures_from_one_ip_exhaust_its_bucket)
{
	struct throttle *t = make(16);
	struct throttle_ticket tk;
	int retry;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0), 0, "attempt %d", i);
	cr_assert_eq(throttle_begin(t, "10.0.0.1", NULL, 0, &tk, &retry), -1);
	cr_assert_eq(retry, 10, "one attempt comes back after refill_s");
	cr_assert_eq(attempt(t, "10.0.0.2", NULL, THROTTLE_FAILED, 0), 0, "other IPs unaffected");
	throttle_free(t);
}

Test(throttle, an_attempt_comes_back_every_refill_period)
{
	struct throttle *t = make(16);
	struct throttle_ticket tk;
	int retry;

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0);
	cr_assert_eq(throttle_begin(t, "10.0.0.1", NULL, 9999, &tk, &retry), -1);
	cr_assert_eq(retry, 1);
	cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 10000), 0);
	cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 10000), -1);
	throttle_free(t);
}

Test(throttle, successful_logins_never_use_up_the_bucket)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 100; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", "alice", THROTTLE_OK, 0), 0, "login %d", i);
	throttle_free(t);
}

Test(throttle, cancelled_attempts_give_their_token_back)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 10; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", "alice", THROTTLE_CANCEL, 0), 0);
	throttle_free(t);
}

Test(throttle, parallel_attempts_cannot_overdraw_a_bucket)
{
	struct throttle *t = make(16);
	struct throttle_ticket tk[4];
	int retry;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(throttle_begin(t, "10.0.0.1", NULL, 0, &tk[i], &retry), 0);
	cr_assert_eq(throttle_begin(t, "10.0.0.1", NULL, 0, &tk[3], &retry), -1,
	             "three reservations in flight take the whole burst");
	throttle_free(t);
}

Test(throttle, account_bucket_counts_failures_from_every_ip)
{
	struct throttle *t = make(16);

	cr_assert_eq(attempt(t, "10.0.0.1", "alice", THROTTLE_FAILED, 0), 0);
	cr_assert_eq(attempt(t, "10.0.0.2", "alice", THROTTLE_FAILED, 0), 0);
	cr_assert_eq(attempt(t, "10.0.0.3", "alice", THROTTLE_FAILED, 0), -1);
	cr_assert_eq(attempt(t, "10.0.0.3", "bob", THROTTLE_FAILED, 0), 0, "other accounts unaffected");
	throttle_free(t);
}

Test(throttle, others_failures_do_not_stop_a_known_ip_logging_in)
{
	struct throttle *t = make(16);

	cr_assert_eq(attempt(t, "10.0.0.9", "alice", THROTTLE_OK, 0), 0);
	attempt(t, "10.0.0.1", "alice", THROTTLE_FAILED, 0);
	attempt(t, "10.0.0.2", "alice", THROTTLE_FAILED, 0);
	cr_assert_eq(attempt(t, "10.0.0.3", "alice", THROTTLE_FAILED, 0), -1, "account locked");
	cr_assert_eq(attempt(t, "10.0.0.9", "alice", THROTTLE_OK, 0), 0,
	             "alice's own IP still gets through");
	throttle_free(t);
}

Test(throttle, refunds_never_exceed_the_burst)
{
	struct throttle *t = make(16);

	for (int i = 0; i < 5; i++)
		attempt(t, "10.0.0.1", NULL, THROTTLE_OK, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0), 0);
	cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0), -1);
	throttle_free(t);
}

Test(throttle, a_full_table_forgets_the_least_recently_used)
{
	struct throttle *t = make(2);

	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0);
	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.2", NULL, THROTTLE_FAILED, 0);
	cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0), -1, "touches .1 again");
	attempt(t, "10.0.0.3", NULL, THROTTLE_FAILED, 0);
	cr_assert_eq(attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0), -1, ".1 was kept");
	cr_assert_eq(attempt(t, "10.0.0.2", NULL, THROTTLE_FAILED, 0), 0, ".2 was the oldest");
	throttle_free(t);
}

Test(throttle, many_keys_through_a_small_table_stay_consistent)
{
	struct throttle *t = make(8);
	char ip[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof ip, "10.0.%d.%d", i / 250, i % 250);
		cr_assert_eq(attempt(t, ip, "alice", THROTTLE_OK, i), 0);
	}
	throttle_free(t);
}

Test(throttle, check_looks_without_reserving)
{
	struct throttle *t = make(16);
	int retry;

	for (int i = 0; i < 10; i++)
		cr_assert_eq(throttle_check(t, "10.0.0.1", "alice", 0, &retry), 0);
	for (int i = 0; i < 3; i++)
		attempt(t, "10.0.0.1", NULL, THROTTLE_FAILED, 0);
	cr_assert_eq(throttle_check(t, "10.0.0.1", "bob", 0, &retry), -1);
	cr_assert_eq(retry, 10);
	throttle_free(t);
}
