#include "right.h"

int
right_state(int64_t ended_at, int64_t expires_at, int64_t idle_deadline, int64_t now)
{
	if (ended_at != 0)
		return RIGHT_ENDED;
	if (now >= expires_at)
		return RIGHT_EXPIRED;
	if (now >= idle_deadline)
		return RIGHT_IDLE;
	return RIGHT_USABLE;
}

int
right_usable(const struct store_right *r, int64_t now)
{
	return right_state(r->ended_at, r->expires_at, r->idle_deadline, now) == RIGHT_USABLE;
}
