#include <criterion/criterion.h>

#include "clock.h"

Test(clock, a_deadline_is_a_valid_timespec_that_far_ahead)
{
	struct timespec now, at;

	for (int64_t ms = 0; ms < 2000; ms += 7) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		clock_mono_after(&at, ms);
		cr_assert(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L, "ms %lld: tv_nsec %ld",
		          (long long)ms, at.tv_nsec);
		cr_assert_geq(clock_elapsed_ns(&now) + ms * 1000000, 0);
		cr_assert_geq((int64_t)(at.tv_sec - now.tv_sec) * 1000000000 + (at.tv_nsec - now.tv_nsec),
		              ms * 1000000, "ms %lld", (long long)ms);
	}
}

Test(clock, the_units_agree_and_never_go_back)
{
	int64_t us = clock_mono_us(), ms = clock_mono_ms();
	struct timespec t0;

	cr_assert_geq(ms, us / 1000);
	cr_assert_geq(clock_mono_us(), us);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_geq(clock_elapsed_ns(&t0), 0);
	cr_assert_gt(clock_wall_ms(), 1700000000000LL, "unix time in ms");
}
