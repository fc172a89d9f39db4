/*
 * Checked wrappers of a service's waiting room settings and of the
 * operators' view of a line (store.h, "the waiting room"): bounds are
 * checked here, once, before either backend sees them.
 */

#include <stdio.h>
#include <string.h>

#include "store_int.h"

int
service_queue_check(const struct service_queue *sq, char *err, size_t errlen)
{
	if (sq->mode != QUEUE_DEFAULT && sq->mode != QUEUE_OFF && sq->mode != QUEUE_ON)
		snprintf(err, errlen, "waiting room must be default, on or off");
	else if (sq->max < 0 || sq->max > QUEUE_MAX_PLACES)
		snprintf(err, errlen, "places in line must be 0 (default) to %d", QUEUE_MAX_PLACES);
	else if (sq->lapse_s != 0 &&
	         (sq->lapse_s < QUEUE_LAPSE_MIN_S || sq->lapse_s > QUEUE_LAPSE_MAX_S))
		snprintf(err, errlen, "lapse must be 0 (default) or %d to %d seconds",
		         QUEUE_LAPSE_MIN_S, QUEUE_LAPSE_MAX_S);
	else if (sq->rate_per_min < 0 || sq->rate_per_min > RATE_MAX_PER_MIN)
		snprintf(err, errlen, "admission rate must be 0 (none) to %d per minute",
		         RATE_MAX_PER_MIN);
	else
		return 0;
	return -1;
}

int
store_service_set_queue(struct store *s, int64_t id, const struct service_queue *sq,
                        char *err, size_t errlen)
{
	char why[160];

	store_clear(s);
	if (service_queue_check(sq, why, sizeof why) == -1)
		return store_report(s, store_fail(s, STORE_INVALID, "%s", why), err, errlen);
	return store_report(s, s->ops->service_set_queue(s, id, sq), err, errlen);
}

int
store_queue_places(struct store *s, int64_t service_id, struct store_qplace *out, int max,
                   int *n)
{
	store_clear(s);
	*n = 0;
	if (max < 1 || max > QUEUE_MAX_PLACES)
		return store_fail(s, STORE_INVALID, "bad place count %d", max);
	return s->ops->queue_places(s, service_id, out, max, n);
}

int
store_queue_lapse(struct store *s, int64_t service_id, int64_t now, int lapse_s,
                  int (*fn)(const struct store_qplace *, void *), void *arg, int *n)
{
	int dummy;

	store_clear(s);
	if (!n)
		n = &dummy;
	*n = 0;
	if (lapse_s < 1 || lapse_s > QUEUE_LAPSE_MAX_S)
		return store_fail(s, STORE_INVALID, "bad lapse %d s", lapse_s);
	return s->ops->queue_lapse(s, service_id, now, lapse_s, fn, arg, n);
}
