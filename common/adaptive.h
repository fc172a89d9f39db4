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
 * against its bounds, the probe's syntax, cap_min <= cap, and that adaptive
 * mode has a probe (its signal). STORE_OK, or STORE_INVALID with err.
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

/* AIMD parameters (docs/adaptive.md says why these). */
#define AIMD_PERIOD_MS  2000     /* at most one change per period */
#define AIMD_ALPHA      2        /* additive increase, users per period */
#define AIMD_BETA_PCT   90       /* multiplicative decrease: cap *= 0.9 */
#define AIMD_BUSY_PCT   80       /* raise only when active >= 80 % of the cap */
#define AIMD_HYSTART_PCT 75      /* slow start ends when latency passes 75 % of target */

struct aimd {
	int cap_min, cap_max;        /* bounds: the service's cap_min and cap */
	int effective;               /* the current effective cap */
	int slow_start;              /* 1 until the first decrease: increases double */
	int64_t target_us;           /* latency target */
	int64_t worst_us;            /* worst probe latency in this period (timeout = miss) */
	int     samples;             /* probe results in this period */
	int64_t period_start_ms;
};

/* Starts at cap_min, in slow start. */
void aimd_init(struct aimd *a, int cap_min, int cap_max, int64_t target_us, int64_t now_ms);

/* Records one probe's latency (a miss is recorded as its timeout). */
void aimd_sample(struct aimd *a, int64_t latency_us);

/*
 * Ends the period when it is over: lowers the cap by AIMD_BETA_PCT when the
 * worst latency was above target, raises it when below and the service is
 * using most of it (active >= AIMD_BUSY_PCT %: an idle service says nothing
 * about whether it could take more), clamps to [cap_min, cap_max]. Like TCP
 * (RFC 5681), it starts at cap_min in slow start, doubling per period, and
 * adds AIMD_ALPHA per period after the first decrease or once latency passes
 * AIMD_HYSTART_PCT of the target (HyStart's delay exit, Ha and Rhee 2011):
 * the cap cannot evict, so an overshoot would last as long as the rights.
 * Returns 1 when the effective cap changed, else 0. A period with no sample
 * keeps the cap.
 */
int aimd_decide(struct aimd *a, int active, int64_t now_ms);

/* Bounds change (the operator edited the service): clamps effective into them. */
void aimd_bounds(struct aimd *a, int cap_min, int cap_max, int64_t target_us);

#endif
