#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "adaptive.h"

/* A run of probe results ('o' answered, 'x' missed) and the state after each. */
struct health_case {
	char results[12];
	char states[12];        /* 'u' up, 'd' down after each result */
};

ParameterizedTestParameters(adaptive, health_goes_down_after_3_misses_and_up_after_2_answers)
{
	static struct health_case cases[] = {
		{ "ooo",       "uuu" },
		{ "xx",        "uu" },          /* two misses are not enough */
		{ "xxx",       "uud" },         /* the third consecutive miss */
		{ "xxoxx",     "uuuuu" },       /* an answer resets the run */
		{ "xxxo",      "uudd" },        /* one answer is not enough */
		{ "xxxoo",     "uuddu" },       /* the second consecutive answer */
		{ "xxxoxoo",   "uuddddu" },     /* a miss resets the answers */
		{ "xxxooxxx",  "uudduuud" },    /* down again after three new misses */
	};
	return cr_make_param_array(struct health_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct health_case *c, adaptive, health_goes_down_after_3_misses_and_up_after_2_answers)
{
	struct health h = { 0 };

	for (int i = 0; c->results[i]; i++) {
		int before = h.state, changed = health_step(&h, c->results[i] == 'o', 3, 2);
		cr_assert_eq(h.state == HEALTH_DOWN ? 'd' : 'u', c->states[i], "%s at %d", c->results, i);
		cr_assert_eq(changed, before != h.state, "%s at %d: transition reported", c->results, i);
	}
}

/* One AIMD period: the cap before, the worst latency, active users, the cap after. */
struct aimd_case {
	int before, active;
	int64_t worst_us;        /* -1: no sample in the period */
	int after;
	int slow_start;
};

ParameterizedTestParameters(adaptive, aimd_falls_above_target_rises_below_within_bounds)
{
	/* cap_min 10, cap 100, target 200 ms */
	static struct aimd_case cases[] = {
		{ 100, 100, 300000, 90, 0 },    /* above target: x 0.9 */
		{ 40,   40, 300000, 36, 0 },
		{ 40,   40, 300000, 36, 1 },    /* in slow start too */
		{ 11,   11, 900000, 10, 0 },    /* never below cap_min */
		{ 10,   10, 900000, 10, 0 },
		{ 50,   50, 100000, 50 + AIMD_ALPHA, 0 },    /* below target and busy: + alpha */
		{ 50,   40, 100000, 50 + AIMD_ALPHA, 0 },    /* 80 % in use counts as busy */
		{ 50,   39, 100000, 50, 0 },    /* idle: nothing learnt, no rise */
		{ 20,   20, 100000, 40, 1 },    /* slow start: doubles */
		{ 60,   60, 50000,  100, 1 },   /* ... up to the configured cap */
		{ 20,   15, 50000,  20, 1 },    /* ... only when busy */
		{ 20,   20, 150001, 20 + AIMD_ALPHA, 1 },    /* past 75 % of the target: additive */
		{ 100, 100, 100000, 100, 0 },   /* never above the configured cap */
		{ 50,   50, 200000, 50 + AIMD_ALPHA, 0 },    /* at the target is within it */
		{ 50,   50, -1,     50, 0 },    /* no sample: keep */
	};
	return cr_make_param_array(struct aimd_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct aimd_case *c, adaptive, aimd_falls_above_target_rises_below_within_bounds)
{
	struct aimd a;

	aimd_init(&a, 10, 100, 200000, 0);
	a.effective = c->before;
	a.slow_start = c->slow_start;
	if (c->worst_us >= 0)
		aimd_sample(&a, c->worst_us);
	cr_assert_eq(aimd_decide(&a, c->active, AIMD_PERIOD_MS), c->after != c->before);
	cr_assert_eq(a.effective, c->after, "from %d: %d", c->before, a.effective);
}

Test(adaptive, aimd_changes_at_most_once_per_period)
{
	struct aimd a;

	aimd_init(&a, 1, 100, 200000, 0);
	a.effective = 100;
	aimd_sample(&a, 500000);
	cr_assert_eq(aimd_decide(&a, 100, AIMD_PERIOD_MS - 1), 0);
	cr_assert_eq(a.effective, 100);
	cr_assert_eq(aimd_decide(&a, 100, AIMD_PERIOD_MS), 1);
	cr_assert_eq(a.effective, 90);
	aimd_sample(&a, 500000);
	cr_assert_eq(aimd_decide(&a, 100, AIMD_PERIOD_MS + 10), 0, "a new period has begun");
}

Test(adaptive, aimd_under_sustained_overload_reaches_cap_min_and_stays)
{
	struct aimd a;
	int64_t t = 0;

	aimd_init(&a, 5, 100, 200000, 0);
	a.effective = 100;
	for (int i = 0; i < 40; i++) {
		aimd_sample(&a, 1000000);
		t += AIMD_PERIOD_MS;
		aimd_decide(&a, a.effective, t);
		cr_assert_geq(a.effective, 5);
	}
	cr_assert_eq(a.effective, 5);
}

Test(adaptive, aimd_new_bounds_clamp_the_effective_cap)
{
	struct aimd a;

	aimd_init(&a, 5, 100, 200000, 0);
	a.effective = 100;
	aimd_bounds(&a, 5, 30, 200000);
	cr_assert_eq(a.effective, 30);
	aimd_bounds(&a, 40, 60, 200000);
	cr_assert_eq(a.effective, 40);
}

Test(adaptive, aimd_starts_at_cap_min_doubles_then_adds_after_the_first_overload)
{
	struct aimd a;
	int64_t t = 0;
	static const int want[] = { 8, 16, 32, 28, 28 + AIMD_ALPHA, 28 + 2 * AIMD_ALPHA };
	static const int64_t lat[] = { 1000, 1000, 1000, 900000, 1000, 1000 };

	aimd_init(&a, 4, 100, 200000, 0);
	cr_assert_eq(a.effective, 4);
	for (int i = 0; i < 6; i++) {
		aimd_sample(&a, lat[i]);
		t += AIMD_PERIOD_MS;
		aimd_decide(&a, a.effective, t);
		cr_assert_eq(a.effective, want[i], "period %d: %d", i, a.effective);
	}
}

Test(adaptive, aimd_slow_start_ends_when_latency_nears_the_target)
{
	struct aimd a;

	aimd_init(&a, 4, 100, 200000, 0);
	aimd_sample(&a, 180000);
	aimd_decide(&a, 4, AIMD_PERIOD_MS);
	cr_assert_eq(a.effective, 4 + AIMD_ALPHA, "within target but past 75 %% of it: + alpha");
	cr_assert_eq(a.slow_start, 0);
	aimd_sample(&a, 1000);
	aimd_decide(&a, a.effective, 2 * AIMD_PERIOD_MS);
	cr_assert_eq(a.effective, 4 + 2 * AIMD_ALPHA, "and additive from then on");
}
