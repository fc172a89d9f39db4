#ifndef SEKISHO_ADAPTIVE_H
#define SEKISHO_ADAPTIVE_H

/*
 * Load-aware admission, as pure functions (no clock, no I/O) so the rules are
 * tested by tables: the health verdict of a probed service and the AIMD
 * effective cap (docs/adaptive.md names the algorithm and its parameters).
 * authd/probe.c feeds them probe results and writes what they decide to the
 * service row, which admission reads.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

/* Defaults and bounds of a service's load settings (struct service_load). */
#define PROBE_INTERVAL_MS_DEF  1000
#define PROBE_INTERVAL_MS_MIN  100
#define PROBE_INTERVAL_MS_MAX  60000
#define PROBE_TIMEOUT_MS_DEF   500
#define PROBE_TIMEOUT_MS_MIN   10
#define PROBE_TIMEOUT_MS_MAX   30000
#define PROBE_DOWN_AFTER_DEF   3
#define PROBE_UP_AFTER_DEF     2
#define PROBE_RUN_MAX          100      /* misses or answers to change state */
#define LATENCY_TARGET_MS_DEF  200
#define LATENCY_TARGET_MS_MAX  60000

enum probe_kind { PROBE_HTTP = 1, PROBE_TCP = 2 };

/* A parsed probe: where to connect and, for HTTP, what to GET. */
struct probe_target {
	int          kind;                   /* enum probe_kind */
	struct guard to;                     /* address and port (HTTP: 80 when unset) */
	char         hostport[GUARD_STR_MAX]; /* for the Host header */
	char         path[PROBE_URL_MAX + 1];
};

/*
 * "http://IP[:PORT][/PATH]" (GET, a 2xx answers) or "tcp://IP:PORT" (a
 * connect answers). The host is a literal address: the prober never waits
 * on DNS. 0, or -1 with err.
 */
int probe_parse(const char *s, struct probe_target *t, char *err, size_t errlen);

/*
 * Fills the zero fields of l with the defaults, then checks every field
 * against its bounds, the probe's syntax, cap_min <= cap, that adaptive
 * mode has a probe (its signal), and the gauge: none, or an http URL, a
 * series selector and a target above 0. STORE_OK, or STORE_INVALID with err.
 */
int service_load_check(struct service_load *l, int cap, char *err, size_t errlen);

/* The cap admission compares against now: the effective cap when set, else cap. */
int service_cap_now(const struct store_service *svc);

enum health_state { HEALTH_UP = 0, HEALTH_DOWN = 1 };

struct health {
	int state;                   /* enum health_state; a new probe starts up */
	int misses, oks;             /* consecutive, towards the next transition */
};

/*
 * One probe result. Down after down_after consecutive misses, up again after
 * up_after consecutive answers; a result of the other kind resets the run.
 * Returns 1 when the state changed, else 0.
 */
int health_step(struct health *h, int ok, int down_after, int up_after);

const char *health_str(int state);

/*
 * AIMD parameters (docs/adaptive.md says why these). The target is the
 * service's p99 goal; the reading of a period is the p90 of its probes. The
 * cap rises while the reading is at most 40 % of the target, holds up to
 * 60 %, falls above: for an exponential waiting time p99 = 2 p90 - s, so a
 * p90 of 60 % of the target is about a p99 at the target.
 */
#define AIMD_PERIOD_MS   2000    /* at most one change per period */
#define AIMD_PCTL        90      /* the period's reading: p90 of its probes */
#define AIMD_RISE_PCT    40      /* rise only when the reading <= 40 % of the target */
#define AIMD_FALL_PCT    60      /* fall when the reading > 60 % of the target */
#define AIMD_ALPHA       2       /* additive increase, users per period ... */
#define AIMD_NEAR_PCT    15      /* ... 1 within 15 % of the cap of the last decrease */
#define AIMD_BETA_PCT    90      /* multiplicative decrease: cap *= 0.9 */
#define AIMD_BUSY_PCT    80      /* raise only when active >= 80 % of the cap */
#define AIMD_SS_STEP_MAX 4       /* limited slow start: at most +4 per period */
#define AIMD_SAMPLES_MAX 64      /* the highest probes kept per period */

struct aimd {
	int cap_min, cap_max;        /* bounds: the service's cap_min and cap */
	int effective;               /* the current effective cap */
	int slow_start;              /* 1 until the first period that does not rise */
	int last_drop;               /* the cap before the last decrease; 0: none yet */
	int64_t target_us;           /* latency target */
	int64_t top_us[AIMD_SAMPLES_MAX];  /* the highest latencies of the period, unordered */
	int     kept;                /* entries of top_us in use */
	int     samples;             /* probe results in this period */
	int64_t period_start_ms;
};

/* Starts at cap_min, in slow start. */
void aimd_init(struct aimd *a, int cap_min, int cap_max, int64_t target_us, int64_t now_ms);

/* Records one probe's latency (a miss is recorded as its timeout). */
void aimd_sample(struct aimd *a, int64_t latency_us);

/*
 * The period's reading: the AIMD_PCTL percentile (nearest rank) of its
 * samples, or -1 without any. With more samples than AIMD_SAMPLES_MAX / (1 -
 * AIMD_PCTL %) it is the lowest sample kept, which is not below the true one.
 */
int64_t aimd_reading(const struct aimd *a);

/*
 * Ends the period when it is over, on its reading r (aimd_reading):
 *   r > AIMD_FALL_PCT % of the target: cap *= AIMD_BETA_PCT % (and slow
 *   start ends);
 *   r <= AIMD_RISE_PCT % of the target and active >= AIMD_BUSY_PCT % of the
 *   cap (an idle service says nothing about whether it could take more):
 *   in slow start the cap doubles, by at most AIMD_SS_STEP_MAX (RFC 3742's
 *   limited slow start); then + AIMD_ALPHA, or + 1 within AIMD_NEAR_PCT of
 *   the cap at the last decrease (the cautious search near the last known
 *   limit of BIC/CUBIC);
 *   otherwise it holds; a reading in the hold band (between AIMD_RISE_PCT %
 *   and AIMD_FALL_PCT % of the target) ends slow start too (HyStart's delay
 *   exit: latency has risen, the limit is near).
 * The result is clamped to [cap_min, cap_max]. A period without a sample
 * keeps the cap. Returns 1 when the effective cap changed, else 0.
 */
int aimd_decide(struct aimd *a, int active, int64_t now_ms);

/* Bounds change (the operator edited the service): clamps effective into them. */
void aimd_bounds(struct aimd *a, int cap_min, int cap_max, int64_t target_us);

#endif
