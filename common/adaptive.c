/*
 * Health verdicts and the AIMD effective cap (adaptive.h). AIMD is the
 * additive-increase/multiplicative-decrease rule of TCP congestion control
 * (Chiu and Jain, 1989), as used for concurrency limits by Netflix's
 * concurrency-limits library (AIMDLimit): see docs/adaptive.md.
 */

#include "adaptive.h"

int
health_step(struct health *h, int ok, int down_after, int up_after)
{
	if (ok) {
		h->misses = 0;
		if (h->state == HEALTH_DOWN && ++h->oks >= up_after) {
			h->state = HEALTH_UP;
			h->oks = 0;
			return 1;
		}
		return 0;
	}
	h->oks = 0;
	if (h->state == HEALTH_UP && ++h->misses >= down_after) {
		h->state = HEALTH_DOWN;
		h->misses = 0;
		return 1;
	}
	return 0;
}

const char *
health_str(int state)
{
	return state == HEALTH_DOWN ? "down" : "up";
}

static int
clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void
aimd_init(struct aimd *a, int cap_min, int cap_max, int64_t target_us, int64_t now_ms)
{
	a->cap_min = cap_min;
	a->cap_max = cap_max;
	a->effective = cap_max;
	a->target_us = target_us;
	a->worst_us = 0;
	a->samples = 0;
	a->period_start_ms = now_ms;
}

void
aimd_bounds(struct aimd *a, int cap_min, int cap_max, int64_t target_us)
{
	a->cap_min = cap_min;
	a->cap_max = cap_max;
	a->target_us = target_us;
	a->effective = clamp(a->effective, cap_min, cap_max);
}

void
aimd_sample(struct aimd *a, int64_t latency_us)
{
	if (latency_us > a->worst_us)
		a->worst_us = latency_us;
	a->samples++;
}

int
aimd_decide(struct aimd *a, int active, int64_t now_ms)
{
	int before = a->effective, next = before;

	if (now_ms - a->period_start_ms < AIMD_PERIOD_MS)
		return 0;
	if (a->samples > 0) {
		if (a->worst_us > a->target_us)
			next = (int)((int64_t)before * AIMD_BETA_PCT / 100);
		else if ((int64_t)active * 100 >= (int64_t)before * AIMD_BUSY_PCT)
			next = before + AIMD_ALPHA;
	}
	a->effective = clamp(next, a->cap_min, a->cap_max);
	a->worst_us = 0;
	a->samples = 0;
	a->period_start_ms = now_ms;
	return a->effective != before;
}
