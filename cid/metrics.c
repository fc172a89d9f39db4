#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cid.h"
#include "svcstat.h"

/*
 * Counters for the Prometheus page. Checks come at tens of thousands a
 * second from every HTTP thread, so their counters are sharded per thread
 * (one cache line each); the rest are rare and plain atomics.
 */

#define SHARDS 16

static const double lat_bounds[] = {   /* seconds */
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1,
};
#define N_BOUNDS ((int)(sizeof lat_bounds / sizeof lat_bounds[0]))

struct shard {
	_Alignas(64) atomic_ullong checks[CHECK__N];
	atomic_ullong lat[N_BOUNDS + 1];        /* not cumulative; the last is +Inf */
	atomic_ullong lat_ns;
};

static struct shard shards[SHARDS];
static atomic_uint shard_next;
static _Thread_local struct shard *my_shard;

static atomic_ullong handoffs[HANDOFF__N];
static struct svcstat svc_checks = { .cols = CHECK__N };
static atomic_ullong touch_flushes, touch_rights, snapshots, changes;

static const char *const handoff_labels[HANDOFF__N] = {
	[HANDOFF_OK] = "ok", [HANDOFF_BAD_CODE] = "bad_code",
	[HANDOFF_UNKNOWN_CODE] = "unknown_code", [HANDOFF_WRONG_SERVICE] = "wrong_service",
	[HANDOFF_UNAVAILABLE] = "unavailable", [HANDOFF_WRONG_ADDRESS] = "wrong_address",
};

void
metrics_check(int result, int64_t ns)
{
	struct shard *s = my_shard;
	int b = 0;

	if (s == NULL)
		s = my_shard = &shards[atomic_fetch_add(&shard_next, 1) % SHARDS];
	if (result < 0 || result >= CHECK__N)
		return;
	while (b < N_BOUNDS && (double)ns > lat_bounds[b] * 1e9)
		b++;
	atomic_fetch_add_explicit(&s->checks[result], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->lat[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->lat_ns, (unsigned long long)(ns > 0 ? ns : 0),
	                          memory_order_relaxed);
}

void
metrics_service_check(const char *service, int result)
{
	svcstat_add(&svc_checks, service, result);
}

void
metrics_handoff(int result)
{
	if (result >= 0 && result < HANDOFF__N)
		atomic_fetch_add(&handoffs[result], 1);
}

void
metrics_touch(long rows)
{
	atomic_fetch_add(&touch_flushes, 1);
	atomic_fetch_add(&touch_rights, (unsigned long long)rows);
}

void
metrics_sync(int snapshot, long n)
{
	if (snapshot)
		atomic_fetch_add(&snapshots, 1);
	atomic_fetch_add(&changes, (unsigned long long)n);
}

static unsigned long long
sum(size_t off)
{
	unsigned long long n = 0;

	for (int i = 0; i < SHARDS; i++)
		n += atomic_load((atomic_ullong *)((char *)&shards[i] + off));
	return n;
}

/* Per service: the same results with a service label (existing services only). */
static void
render_service_checks(struct buf *b)
{
	const char *names[CHECK__N];

	for (int r = 0; r < CHECK__N; r++)
		names[r] = check_label(r);
	svcstat_render(&svc_checks, b, "sekisho_cid_service_checks_total",
	               "Checks of each existing service, by result (refusals by reason).", "result",
	               names);
}

static void
render_checks(struct buf *b)
{
	unsigned long long cum = 0;

	buf_puts(b, "# HELP sekisho_cid_checks_total Forward-auth checks by result.\n"
	            "# TYPE sekisho_cid_checks_total counter\n");
	for (int r = 0; r < CHECK__N; r++)
		buf_printf(b, "sekisho_cid_checks_total{result=\"%s\"} %llu\n", check_label(r),
		           sum(offsetof(struct shard, checks) + (size_t)r * sizeof(atomic_ullong)));
	buf_puts(b, "# HELP sekisho_cid_check_seconds Time cid spends deciding one check.\n"
	            "# TYPE sekisho_cid_check_seconds histogram\n");
	for (int i = 0; i <= N_BOUNDS; i++) {
		cum += sum(offsetof(struct shard, lat) + (size_t)i * sizeof(atomic_ullong));
		if (i < N_BOUNDS)
			buf_printf(b, "sekisho_cid_check_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i], cum);
		else
			buf_printf(b, "sekisho_cid_check_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	buf_printf(b, "sekisho_cid_check_seconds_sum %.9f\n",
	           (double)sum(offsetof(struct shard, lat_ns)) / 1e9);
	buf_printf(b, "sekisho_cid_check_seconds_count %llu\n", cum);
	render_service_checks(b);
}

static void
counter(struct buf *b, const char *name, const char *help, unsigned long long v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static void
gauge(struct buf *b, const char *name, const char *help, double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v);
}

void
metrics_render(struct buf *b, struct cache *c)
{
	size_t rights;
	int services, usable, loaded;

	render_checks(b);
	buf_puts(b, "# HELP sekisho_cid_handoffs_total Entry code redemptions by result.\n"
	            "# TYPE sekisho_cid_handoffs_total counter\n");
	for (int r = 0; r < HANDOFF__N; r++)
		buf_printf(b, "sekisho_cid_handoffs_total{result=\"%s\"} %llu\n", handoff_labels[r],
		           atomic_load(&handoffs[r]));
	counter(b, "sekisho_cid_touch_flushes_total", "Batched last-seen writes.",
	        atomic_load(&touch_flushes));
	counter(b, "sekisho_cid_touch_rights_total", "Rights whose last-seen time was written.",
	        atomic_load(&touch_rights));
	counter(b, "sekisho_cid_snapshots_total", "Full reloads from the store.",
	        atomic_load(&snapshots));
	counter(b, "sekisho_cid_changes_total", "Change-log entries applied.", atomic_load(&changes));
	cache_sizes(c, &rights, &services);
	cache_rdlock(c);
	usable = cache_usable_locked(c);
	loaded = c->loaded;
	cache_unlock(c);
	gauge(b, "sekisho_cid_cache_rights", "Live rights held in memory.", (double)rights);
	gauge(b, "sekisho_cid_cache_services", "Enabled services held in memory.", services);
	gauge(b, "sekisho_cid_store_sync_age_seconds", "Time since the cache last caught up with the store.",
	      loaded ? (double)(clock_mono_ms() - atomic_load(&c->synced_ms)) / 1e3 : -1);
	gauge(b, "sekisho_cid_up", "1 when checks can be answered (fresh view of the store).", usable);
}
