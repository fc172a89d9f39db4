#ifndef SEKISHO_RIGHT_H
#define SEKISHO_RIGHT_H

/*
 * "Is this right usable now": the one rule, used by ipfd (ops, sync), cid
 * (handoff, check) and the store's own reads. A right is usable at now when
 * it has not ended, now is before its absolute expiry, and now is before its
 * idle deadline (last use + the service's max interval). Both bounds are
 * exclusive: at expires_at the right is expired, at the idle deadline idle.
 * The SQL that filters usable rights states the same rule and points here.
 */

#include <stdint.h>

#include "store.h"

enum right_state { RIGHT_USABLE = 0, RIGHT_ENDED, RIGHT_EXPIRED, RIGHT_IDLE };

/*
 * The state of a right from its times (ended_at 0 = not ended). Ended wins
 * over expired, expired over idle.
 */
int right_state(int64_t ended_at, int64_t expires_at, int64_t idle_deadline, int64_t now);

/* 1 when r (read from the store, idle_deadline filled) is usable at now. */
int right_usable(const struct store_right *r, int64_t now);

#endif
