#ifndef SEKISHO_CLOCK_H
#define SEKISHO_CLOCK_H

/*
 * The clocks the daemons read. Intervals, deadlines and timers use the
 * monotonic clock, immune to steps of the system clock; only times that are
 * stored or compared with stored ones (unix seconds) use the wall clock.
 */

#include <stdint.h>
#include <time.h>

int64_t clock_mono_us(void);
int64_t clock_mono_ms(void);
/* Unix time in ms. */
int64_t clock_wall_ms(void);
/* Nanoseconds since t0, a CLOCK_MONOTONIC reading: how long something took. */
int64_t clock_elapsed_ns(const struct timespec *t0);
/* The monotonic instant ms from now, for pthread_cond_timedwait on a CLOCK_MONOTONIC condition. */
void clock_mono_after(struct timespec *ts, int64_t ms);

#endif
