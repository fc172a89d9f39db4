/*
 * A service's waiting room and admission rate on the command line:
 * service add/edit --queue default|on|off --queue-max N --queue-lapse S
 * --rate N (bounds in struct service_queue, checked before anything is
 * written), and the lines of service show / the fields of --json.
 */

#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char *const mode_names[] = { "default", "off", "on" };

static const char *
mode_str(int mode)
{
	return mode >= QUEUE_DEFAULT && mode <= QUEUE_ON ? mode_names[mode + 1] : "?";
}

/* One bounded number option into *dst; CTL_OK when absent or valid. */
static int
queue_number(struct ctl *c, const char *opt, long long max, int *dst, int *given)
{
	long long n;
	int rc = ctl_opt_int(c, opt, 0, max, &n);

	if (rc == -1)
		return CTL_USAGE;
	if (rc == 0) {
		*dst = (int)n;
		(*given)++;
	}
	return CTL_OK;
}

int
ctl_queue_opts(struct ctl *c, struct service_queue *q, int *given)
{
	const char *v = ctl_opt(c, "queue");
	char err[200];
	int rc;

	*given = 0;
	if (v != NULL) {
		int m;
		for (m = QUEUE_DEFAULT; m <= QUEUE_ON && strcmp(v, mode_names[m + 1]) != 0; m++)
			;
		if (m > QUEUE_ON)
			return ctl_usage("--queue: \"%s\" is not default, on or off", v);
		q->mode = m;
		(*given)++;
	}
	if ((rc = queue_number(c, "queue-max", QUEUE_MAX_PLACES, &q->max, given)) != CTL_OK ||
	    (rc = queue_number(c, "queue-lapse", QUEUE_LAPSE_MAX_S, &q->lapse_s, given)) != CTL_OK ||
	    (rc = queue_number(c, "rate", RATE_MAX_PER_MIN, &q->rate_per_min, given)) != CTL_OK)
		return rc;
	if (service_queue_check(q, err, sizeof err) == -1)
		return ctl_usage("%s", err);
	return CTL_OK;
}

int
ctl_queue_apply(struct ctl *c, const struct store_service *svc, const struct service_queue *q)
{
	char err[256] = "";
	int rc;

	if ((rc = store_service_set_queue(c->s, svc->id, q, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "service queue", err);
	return ctl_audit(c, "service.queue", svc->name, NULL, "queue=%s queue_max=%d "
	                 "queue_lapse_s=%d rate_per_min=%d", mode_str(q->mode), q->max, q->lapse_s,
	                 q->rate_per_min);
}

void
ctl_queue_json(struct out *o, const struct store_service *svc)
{
	ctl_json_str(o, "queue", mode_str(svc->queue.mode));
	ctl_json_int(o, "queue_max", svc->queue.max);
	ctl_json_int(o, "queue_lapse_s", svc->queue.lapse_s);
	ctl_json_int(o, "rate_per_min", svc->queue.rate_per_min);
}

void
ctl_queue_text(struct out *o, const struct store_service *svc)
{
	const struct service_queue *q = &svc->queue;
	char max[32], lapse[32];

	snprintf(max, sizeof max, q->max > 0 ? "%d places" : "default places", q->max);
	snprintf(lapse, sizeof lapse, q->lapse_s > 0 ? "lapse %d s" : "default lapse", q->lapse_s);
	ctl_out_text(o, "waiting room:  %s (%s, %s; [authd] keys where default)\n",
	             mode_str(q->mode), max, lapse);
	if (q->rate_per_min > 0)
		ctl_out_text(o, "rate:          %d new users a minute\n", q->rate_per_min);
	else
		ctl_out_text(o, "rate:          none\n");
}
