/*
 * Health verdicts and the AIMD effective cap (adaptive.h). AIMD is the
 * additive-increase/multiplicative-decrease rule of TCP congestion control
 * (Chiu and Jain, 1989), as used for concurrency limits by Netflix's
 * concurrency-limits library (AIMDLimit): see docs/adaptive.md.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adaptive.h"
#include "gauge.h"

/* The path: printable, no space (it goes into a request line as is). */
static int
path_ok(const char *p)
{
	if (*p != '/')
		return 0;
	for (; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

int
probe_parse(const char *s, struct probe_target *t, char *err, size_t errlen)
{
	const char *rest;
	size_t hp;

	memset(t, 0, sizeof *t);
	if (strlen(s) > PROBE_URL_MAX)
		return snprintf(err, errlen, "probe longer than %d characters", PROBE_URL_MAX), -1;
	if (strncmp(s, "http://", 7) == 0) {
		t->kind = PROBE_HTTP;
		rest = s + 7;
	} else if (strncmp(s, "tcp://", 6) == 0) {
		t->kind = PROBE_TCP;
		rest = s + 6;
	} else {
		return snprintf(err, errlen, "probe must start with http:// or tcp://"), -1;
	}
	hp = strcspn(rest, "/");
	if (hp == 0 || hp >= sizeof t->hostport)
		return snprintf(err, errlen, "probe needs an address[:port]"), -1;
	memcpy(t->hostport, rest, hp);
	t->hostport[hp] = '\0';
	if (guard_parse(t->hostport, &t->to, err, errlen) == -1)
		return -1;
	if (t->to.port == 0 && t->kind == PROBE_TCP)
		return snprintf(err, errlen, "a tcp probe needs a port"), -1;
	if (t->to.port == 0)
		t->to.port = 80;
	snprintf(t->path, sizeof t->path, "%s", rest[hp] ? rest + hp : "/");
	if (t->kind == PROBE_TCP && rest[hp] != '\0')
		return snprintf(err, errlen, "a tcp probe has no path"), -1;
	if (!path_ok(t->path))
		return snprintf(err, errlen, "probe path must be printable without spaces"), -1;
	return 0;
}

static int
range_check(const char *what, int *v, int def, int lo, int hi, char *err, size_t errlen)
{
	if (*v == 0)
		*v = def;
	if (*v >= lo && *v <= hi)
		return STORE_OK;
	snprintf(err, errlen, "%s must be a whole number from %d to %d", what, lo, hi);
	return STORE_INVALID;
}

/* The gauge: all three settings or none; an http URL, a selector, a positive target. */
static int
gauge_check(const struct service_load *l, char *err, size_t errlen)
{
	struct probe_target t;
	struct gauge_sel g;

	if (!l->gauge_url[0]) {
		if (l->gauge_metric[0] || l->gauge_target != 0)
			return snprintf(err, errlen, "a gauge metric or target needs a gauge URL"),
			       STORE_INVALID;
		return STORE_OK;
	}
	if (probe_parse(l->gauge_url, &t, err, errlen) == -1)
		return STORE_INVALID;
	if (t.kind != PROBE_HTTP)
		return snprintf(err, errlen, "a gauge URL is http://ADDR[:PORT]/PATH"), STORE_INVALID;
	if (gauge_sel_parse(l->gauge_metric, &g, err, errlen) == -1)
		return STORE_INVALID;
	if (!(l->gauge_target >= GAUGE_TARGET_MIN && l->gauge_target <= GAUGE_TARGET_MAX))
		return snprintf(err, errlen, "the gauge target must be from %g to %g",
		                GAUGE_TARGET_MIN, GAUGE_TARGET_MAX), STORE_INVALID;
	return STORE_OK;
}

int
service_load_check(struct service_load *l, int cap, char *err, size_t errlen)
{
	struct probe_target t;

	if (range_check("probe interval (ms)", &l->interval_ms, PROBE_INTERVAL_MS_DEF,
	                PROBE_INTERVAL_MS_MIN, PROBE_INTERVAL_MS_MAX, err, errlen) ||
	    range_check("probe timeout (ms)", &l->timeout_ms, PROBE_TIMEOUT_MS_DEF,
	                PROBE_TIMEOUT_MS_MIN, PROBE_TIMEOUT_MS_MAX, err, errlen) ||
	    range_check("misses to go down", &l->down_after, PROBE_DOWN_AFTER_DEF, 1,
	                PROBE_RUN_MAX, err, errlen) ||
	    range_check("answers to come back", &l->up_after, PROBE_UP_AFTER_DEF, 1,
	                PROBE_RUN_MAX, err, errlen) ||
	    range_check("latency target (ms)", &l->target_ms, LATENCY_TARGET_MS_DEF, 1,
	                LATENCY_TARGET_MS_MAX, err, errlen))
		return STORE_INVALID;
	if (l->timeout_ms >= l->interval_ms * 2)
		return snprintf(err, errlen, "probe timeout must be under twice the interval"),
		       STORE_INVALID;
	if (l->probe[0] && probe_parse(l->probe, &t, err, errlen) == -1)
		return STORE_INVALID;
	if (l->cap_mode != CAP_FIXED && l->cap_mode != CAP_ADAPTIVE)
		return snprintf(err, errlen, "cap mode must be fixed or adaptive"), STORE_INVALID;
	if (l->cap_min == 0)
		l->cap_min = 1;
	if (l->cap_min < 1 || l->cap_min > cap)
		return snprintf(err, errlen, "cap_min must be from 1 to the cap (%d)", cap),
		       STORE_INVALID;
	if (l->cap_mode == CAP_ADAPTIVE && !l->probe[0])
		return snprintf(err, errlen, "an adaptive cap needs a probe (its load signal)"),
		       STORE_INVALID;
	return gauge_check(l, err, errlen);
}

int
service_cap_now(const struct store_service *svc)
{
	if (svc->cap_effective >= 0 && svc->cap_effective < svc->cap)
		return svc->cap_effective;
	return svc->cap;
}

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
	memset(a, 0, sizeof *a);
	a->cap_min = cap_min;
	a->cap_max = cap_max;
	a->effective = cap_min;
	a->slow_start = 1;
	a->target_us = target_us;
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

/* Keeps the AIMD_SAMPLES_MAX highest: a high percentile needs only those. */
void
aimd_sample(struct aimd *a, int64_t latency_us)
{
	int low = 0;

	a->samples++;
	if (a->kept < AIMD_SAMPLES_MAX) {
		a->top_us[a->kept++] = latency_us;
		return;
	}
	for (int i = 1; i < a->kept; i++)
		if (a->top_us[i] < a->top_us[low])
			low = i;
	if (latency_us > a->top_us[low])
		a->top_us[low] = latency_us;
}

static int
cmp_desc(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? 1 : a > b ? -1 : 0;
}

int64_t
aimd_reading(const struct aimd *a)
{
	int64_t v[AIMD_SAMPLES_MAX];
	int rank, from_top;

	if (a->samples == 0)
		return -1;
	memcpy(v, a->top_us, (size_t)a->kept * sizeof v[0]);
	qsort(v, (size_t)a->kept, sizeof v[0], cmp_desc);
	/* nearest rank: the ceil(n * p / 100)-th smallest of n */
	rank = (a->samples * AIMD_PCTL + 99) / 100;
	from_top = a->samples - rank;
	return v[from_top < a->kept ? from_top : a->kept - 1];
}

/* The increase of one period in congestion avoidance or slow start. */
static int
aimd_rise(struct aimd *a, int before)
{
	int near = a->last_drop > 0 && (int64_t)(before > a->last_drop ? before - a->last_drop :
	           a->last_drop - before) * 100 <= (int64_t)a->last_drop * AIMD_NEAR_PCT;

	if (a->slow_start)
		return before + (before < AIMD_SS_STEP_MAX ? before : AIMD_SS_STEP_MAX);
	return before + (near ? 1 : AIMD_ALPHA);
}

int
aimd_decide(struct aimd *a, int active, int64_t now_ms)
{
	int before = a->effective, next = before;
	int64_t r = aimd_reading(a);

	if (now_ms - a->period_start_ms < AIMD_PERIOD_MS)
		return 0;
	if (r * 100 > a->target_us * AIMD_FALL_PCT) {
		next = (int)((int64_t)before * AIMD_BETA_PCT / 100);
		a->last_drop = before;
		a->slow_start = 0;
	} else if (r >= 0 && r * 100 <= a->target_us * AIMD_RISE_PCT) {
		if ((int64_t)active * 100 >= (int64_t)before * AIMD_BUSY_PCT)
			next = aimd_rise(a, before);
	} else if (r >= 0) {
		a->slow_start = 0;
	}
	a->effective = clamp(next, a->cap_min, a->cap_max);
	a->kept = a->samples = 0;
	a->period_start_ms = now_ms;
	return a->effective != before;
}
