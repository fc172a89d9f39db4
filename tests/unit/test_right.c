#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "right.h"

/* Times relative to now = 1000: expires_at, idle deadline, ended_at. */
struct usable_case {
	int64_t ended_at, expires_at, idle_deadline;
	int state;
};

ParameterizedTestParameters(right, usable_only_before_expiry_and_idle_deadline_and_unended)
{
	static struct usable_case cases[] = {
		{ 0,    2000, 1500, RIGHT_USABLE },
		{ 0,    1001, 1001, RIGHT_USABLE },    /* one second left of both */
		{ 0,    1000, 1500, RIGHT_EXPIRED },   /* expiry is exclusive */
		{ 0,     999, 1500, RIGHT_EXPIRED },
		{ 0,    2000, 1000, RIGHT_IDLE },      /* the idle deadline is exclusive */
		{ 0,    2000,  500, RIGHT_IDLE },
		{ 0,     900,  900, RIGHT_EXPIRED },   /* expiry wins over idleness */
		{ 900,  2000, 1500, RIGHT_ENDED },
		{ 900,   900,  900, RIGHT_ENDED },     /* ended wins over everything */
		{ 0,    2000,    0, RIGHT_IDLE },      /* an unfilled deadline is not "never idle" */
	};
	return cr_make_param_array(struct usable_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct usable_case *c, right, usable_only_before_expiry_and_idle_deadline_and_unended)
{
	struct store_right r;

	memset(&r, 0, sizeof r);
	r.ended_at = c->ended_at;
	r.expires_at = c->expires_at;
	r.idle_deadline = c->idle_deadline;
	cr_assert_eq(right_state(c->ended_at, c->expires_at, c->idle_deadline, 1000), c->state,
	             "ended %lld expires %lld idle %lld", (long long)c->ended_at,
	             (long long)c->expires_at, (long long)c->idle_deadline);
	cr_assert_eq(right_usable(&r, 1000), c->state == RIGHT_USABLE);
}
