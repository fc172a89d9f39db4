#include <stdio.h>
#include <string.h>

#include "ctl.h"

/*
 * sekishoctl lockout list|clear: the login throttle's failure counts
 * (docs/security.md, "Login throttling"). Source "*" is the account's count
 * across every source. Clearing takes effect on authd's next login attempt:
 * authd reads the counts from the store each time.
 */

static int
list_one(const struct store_lockout *l, void *arg)
{
	struct out *o = arg;
	char t[32];

	if (o->json) {
		ctl_json_obj(o, NULL);
		ctl_json_str(o, "user", l->name);
		ctl_json_str(o, "source", l->source);
		ctl_json_int(o, "failures", l->failures);
		ctl_json_int(o, "last_at", l->last_at);
		ctl_json_end(o, '}');
		return 0;
	}
	ctl_out_text(o, "%-32s %-48s %8d  %s\n", l->name, l->source, l->failures,
	             ctl_time(l->last_at, t, sizeof t));
	return 0;
}

int
ctl_lockout_list(struct ctl *c)
{
	const char *name = c->npos > 0 ? c->pos[0] : NULL;
	struct out o;
	int rc;

	if (name != NULL && !name_valid(name))
		return ctl_usage("lockout list: \"%s\" is not a user name", name);
	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, "lockouts");
	} else {
		ctl_out_text(&o, "%-32s %-48s %8s  %s\n", "USER", "SOURCE", "FAILURES", "LAST FAILURE");
	}
	if ((rc = store_lockout_list(c->s, name, list_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "lockout list", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

int
ctl_lockout_clear(struct ctl *c)
{
	const char *name = c->pos[0], *source = ctl_opt(c, "source");
	int rc, n;

	if (!name_valid(name))
		return ctl_usage("lockout clear: \"%s\" is not a user name", name);
	if ((rc = store_lockout_clear(c->s, name, source, &n)) != STORE_OK)
		return ctl_store_fail(c, rc, "lockout clear", NULL);
	if ((rc = ctl_audit(c, "lockout.clear", NULL, name, "source=%s rows=%d",
	                    source ? source : "all", n)) != CTL_OK)
		return rc;
	printf("cleared %d lockout row%s of %s\n", n, n == 1 ? "" : "s", name);
	return CTL_OK;
}
