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

/*
 * One AIMD period with one probe (its reading is that probe): the cap before,
 * the reading, active users, the cap after. cap_min 10, cap 100, target
 * 200 ms: rise at or below 80 ms (40 %), hold up to 120 ms (60 %), fall above.
 */
struct aimd_case {
	int before, active;
	int64_t reading_us;      /* -1: no sample in the period */
	int after;
	int slow_start;
	int last_drop;
};

ParameterizedTestParameters(adaptive, aimd_falls_above_target_holds_in_the_band_rises_below)
{
	static struct aimd_case cases[] = {
		{ 100, 100, 300000, 90, 0, 0 },    /* above target: x 0.9 */
		{ 40,   40, 300000, 36, 0, 0 },
		{ 40,   40, 300000, 36, 1, 0 },    /* in slow start too */
		{ 11,   11, 900000, 10, 0, 0 },    /* never below cap_min */
		{ 10,   10, 900000, 10, 0, 0 },
		{ 50,   50, 200000, 45, 0, 0 },    /* at the target: above 60 %, x 0.9 */
		{ 50,   50, 120001, 45, 0, 0 },    /* just above 60 % of it: x 0.9 */
		{ 50,   50, 120000, 50, 0, 0 },    /* 60 % of it: hold */
		{ 50,   50, 80001,  50, 0, 0 },    /* just above 40 % of it: hold */
		{ 50,   50, 80000,  50 + AIMD_ALPHA, 0, 0 },  /* 40 % of the target: + alpha */
		{ 50,   40, 50000,  50 + AIMD_ALPHA, 0, 0 },  /* 80 % in use counts as busy */
		{ 50,   39, 50000,  50, 0, 0 },    /* idle: nothing learnt, no rise */
		{ 50,   50, 50000,  51, 0, 50 },   /* at the last drop point: + 1 */
		{ 44,   44, 50000,  45, 0, 50 },   /* within 15 % below it: + 1 */
		{ 57,   57, 50000,  58, 0, 50 },   /* within 15 % above it: + 1 */
		{ 40,   40, 50000,  40 + AIMD_ALPHA, 0, 50 },  /* far below it: + alpha */
		{ 20,   20, 50000,  20 + AIMD_SS_STEP_MAX, 1, 0 }, /* slow start: + at most the step */
		{ 96,   96, 50000,  100, 1, 0 },   /* ... up to the configured cap */
		{ 20,   15, 50000,  20, 1, 0 },    /* ... only when busy */
		{ 20,   20, 100000, 20, 1, 0 },    /* in the hold band: holds */
		{ 100, 100, 50000,  100, 0, 0 },   /* never above the configured cap */
		{ 50,   50, -1,     50, 0, 0 },    /* no sample: keep */
	};
	return cr_make_param_array(struct aimd_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct aimd_case *c, adaptive, aimd_falls_above_target_holds_in_the_band_rises_below)
{
	struct aimd a;

	aimd_init(&a, 10, 100, 200000, 0);
	a.effective = c->before;
	a.slow_start = c->slow_start;
	a.last_drop = c->last_drop;
	if (c->reading_us >= 0)
		aimd_sample(&a, c->reading_us);
	cr_assert_eq(aimd_decide(&a, c->active, AIMD_PERIOD_MS), c->after != c->before);
	cr_assert_eq(a.effective, c->after, "from %d: %d", c->before, a.effective);
}

/* n samples 1 .. n ms (in a scrambled order): the reading in ms. */
struct reading_case {
	int n;
	int64_t want_ms;
};

ParameterizedTestParameters(adaptive, aimd_reads_the_p90_of_the_period)
{
	static struct reading_case cases[] = {
		{ 0,   -1 },         /* no sample */
		{ 1,    1 },
		{ 2,    2 },         /* few probes: the worst */
		{ 4,    4 },
		{ 10,   9 },         /* ten probes: all but the worst */
		{ 20,  18 },
		{ 64,  58 },         /* all kept */
		{ 100, 90 },         /* more than kept: the highest are enough */
		{ 630, 567 },        /* the most the kept ones rank */
		{ 640, 577 },        /* beyond: the lowest kept, not below the p90 (576) */
		{ 2000, 1937 },
	};
	return cr_make_param_array(struct reading_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct reading_case *c, adaptive, aimd_reads_the_p90_of_the_period)
{
	struct aimd a;
	int64_t r;

	aimd_init(&a, 1, 100, 200000, 0);
	for (int i = 0; i < c->n; i++)
		aimd_sample(&a, (int64_t)((i * 7919) % c->n + 1) * 1000);
	r = aimd_reading(&a);
	cr_assert_eq(r, c->want_ms < 0 ? -1 : c->want_ms * 1000, "%d samples: %lld", c->n,
	             (long long)r);
}

Test(adaptive, aimd_one_slow_probe_in_ten_does_not_lower_the_cap)
{
	struct aimd a;

	aimd_init(&a, 1, 100, 200000, 0);
	a.effective = 50;
	a.slow_start = 0;
	for (int i = 0; i < 9; i++)
		aimd_sample(&a, 20000);
	aimd_sample(&a, 900000);
	aimd_decide(&a, 50, AIMD_PERIOD_MS);
	cr_assert_eq(a.effective, 50 + AIMD_ALPHA, "the p90 of the period is 20 ms");
	for (int i = 0; i < 8; i++)
		aimd_sample(&a, 20000);
	aimd_sample(&a, 900000);
	aimd_sample(&a, 900000);
	aimd_decide(&a, 52, 2 * AIMD_PERIOD_MS);
	cr_assert_eq(a.effective, 46, "two in ten: the p90 is above the target");
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

/* Periods of one probe each, the cap busy: the caps after each. */
static void
run_periods(struct aimd *a, const int64_t *lat_ms, const int *want, int n)
{
	int64_t t = 0;

	for (int i = 0; i < n; i++) {
		aimd_sample(a, lat_ms[i] * 1000);
		t += AIMD_PERIOD_MS;
		aimd_decide(a, a->effective, t);
		cr_assert_eq(a->effective, want[i], "period %d: %d, want %d", i, a->effective, want[i]);
	}
}

Test(adaptive, aimd_slow_start_doubles_by_at_most_the_step_until_the_first_overload)
{
	struct aimd a;
	static const int64_t lat[] = { 1, 1, 1, 1, 1, 1, 900, 1, 1 };
	static const int want[] = { 2, 4, 8, 12, 16, 20, 18, 19, 20 };

	aimd_init(&a, 1, 100, 200000, 0);
	cr_assert_eq(a.effective, 1);
	run_periods(&a, lat, want, 9);
	cr_assert_eq(a.last_drop, 20);
}

Test(adaptive, aimd_slow_start_ends_when_latency_enters_the_hold_band)
{
	struct aimd a;
	static const int64_t lat[] = { 1, 100, 1, 1 };
	static const int want[] = { 4, 4, 4 + AIMD_ALPHA, 4 + 2 * AIMD_ALPHA };

	aimd_init(&a, 2, 100, 200000, 0);
	run_periods(&a, lat, want, 4);
	cr_assert_eq(a.slow_start, 0);
}

Test(adaptive, aimd_climbs_back_by_one_near_the_last_drop_and_by_alpha_beyond)
{
	struct aimd a;
	/* 40 falls to 36; +1 while within 15 % of 40 (up to 46); +2 past it */
	static const int64_t lat[] = { 900, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const int want[] = { 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 49 };

	aimd_init(&a, 4, 100, 200000, 0);
	a.effective = 40;
	a.slow_start = 0;
	run_periods(&a, lat, want, 13);
}

Test(adaptive, aimd_follows_a_halved_capacity_within_fifteen_periods)
{
	struct aimd a;
	int64_t t = 0;

	aimd_init(&a, 2, 200, 100000, 0);
	a.effective = 40;
	a.slow_start = 0;
	for (int i = 0; i < 15 && a.effective > 20; i++) {
		aimd_sample(&a, 300000);
		t += AIMD_PERIOD_MS;
		aimd_decide(&a, a.effective, t);
	}
	cr_assert_leq(a.effective, 20, "x 0.9 per period halves the cap in 7 periods (14 s)");
}
