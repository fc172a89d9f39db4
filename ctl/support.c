#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

int
ctl_store_fail(struct ctl *c, int rc, const char *what, const char *err)
{
	if (err == NULL || err[0] == '\0')
		err = c->s ? store_error(c->s) : "";
	if (rc == STORE_UNAVAILABLE)
		return ctl_fail("%s: store unavailable: %s", what, err[0] ? err : "no answer");
	if (err[0] != '\0')
		return ctl_fail("%s: %s", what, err);
	return ctl_fail("%s: %s", what, store_rc_str(rc));
}

int
ctl_audit(struct ctl *c, const char *action, const char *service, const char *target,
          const char *fmt, ...)
{
	char detail[AUDIT_TEXT_MAX + 1], rest[AUDIT_TEXT_MAX - NAME_MAX_LEN - 4];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	snprintf(detail, sizeof detail, "by=%s%s%s", c->by, rest[0] ? " " : "", rest);
	rc = store_audit(c->s, c->now, CTL_ACTOR, action, service, target, detail);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "audit", NULL);
	return CTL_OK;
}

int
ctl_get_user(struct ctl *c, const char *name, struct store_user *u)
{
	int rc;

	if (!name_valid(name))
		return ctl_fail("invalid user name \"%.*s\" (1..%d of A-Z a-z 0-9 . _ -)",
		                NAME_MAX_LEN + 8, name, NAME_MAX_LEN);
	if ((rc = store_user_get(c->s, name, u)) == STORE_NOTFOUND)
		return ctl_fail("no such user: %s", name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "user", NULL);
	return CTL_OK;
}

int
ctl_get_service(struct ctl *c, const char *name, struct store_service *svc)
{
	int rc;

	if (!name_valid(name))
		return ctl_fail("invalid service name \"%.*s\" (1..%d of A-Z a-z 0-9 . _ -)",
		                NAME_MAX_LEN + 8, name, NAME_MAX_LEN);
	if ((rc = store_service_get(c->s, name, svc)) == STORE_NOTFOUND)
		return ctl_fail("no such service: %s", name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "service", NULL);
	return CTL_OK;
}

const char *
ctl_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || localtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, n, "-");
	return buf;
}
