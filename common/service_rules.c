#include <stdio.h>

#include "service_rules.h"

static int
minutes_check(const char *what, long long minutes, char *err, size_t errlen)
{
	if (minutes >= 1 && minutes <= SERVICE_MINUTES_MAX)
		return STORE_OK;
	snprintf(err, errlen, "%s must be whole minutes from 1 to %d (366 days)", what,
	         SERVICE_MINUTES_MAX);
	return STORE_INVALID;
}

int
service_usage_check(long long minutes, char *err, size_t errlen)
{
	return minutes_check("max usage time", minutes, err, errlen);
}

int
service_interval_check(long long minutes, char *err, size_t errlen)
{
	return minutes_check("max interval", minutes, err, errlen);
}

int
service_cap_check(long long cap, char *err, size_t errlen)
{
	if (cap >= SERVICE_CAP_MIN && cap <= SERVICE_CAP_MAX)
		return STORE_OK;
	snprintf(err, errlen, "cap must be a whole number from %d to %d", SERVICE_CAP_MIN,
	         SERVICE_CAP_MAX);
	return STORE_INVALID;
}

int
service_limits_check(const struct store_service *svc, char *err, size_t errlen)
{
	int rc;

	if ((rc = service_usage_check(svc->max_usage_min, err, errlen)) != STORE_OK ||
	    (rc = service_interval_check(svc->max_interval_min, err, errlen)) != STORE_OK)
		return rc;
	return service_cap_check(svc->cap, err, errlen);
}

int
service_admin_check(const struct store_user *u, int64_t current_admin_id,
                    char *err, size_t errlen)
{
	if (current_admin_id != 0 && u->id == current_admin_id)
		return STORE_OK;
	if (u->role != ROLE_ADMIN && u->role != ROLE_ROOT) {
		snprintf(err, errlen, "user %s may not administer a service: role %s, "
		         "needs admin or root", u->name, role_str(u->role));
		return STORE_INVALID;
	}
	if (u->disabled) {
		snprintf(err, errlen, "user %s may not administer a service: disabled", u->name);
		return STORE_INVALID;
	}
	return STORE_OK;
}

int
service_admin_verify(struct store *s, int64_t admin_id, int64_t service_id, char *err,
                     size_t errlen)
{
	struct store_service old;
	struct store_user u;
	int64_t current = 0;
	int rc;

	if (service_id > 0) {
		if ((rc = store_service_get_id(s, service_id, &old)) == STORE_OK)
			current = old.admin_id;
		else if (rc != STORE_NOTFOUND)
			goto fail;
	}
	if ((rc = store_user_get_id(s, admin_id, &u)) == STORE_OK)
		return service_admin_check(&u, current, err, errlen);
	if (rc == STORE_NOTFOUND) {
		snprintf(err, errlen, "no such admin user %lld", (long long)admin_id);
		return rc;
	}
fail:
	snprintf(err, errlen, "%s", store_error(s));
	return rc;
}
