#ifndef SEKISHO_SERVICE_RULES_H
#define SEKISHO_SERVICE_RULES_H

/*
 * The rules of a service's limits and of who may administer it: the one
 * definition. The store enforces them on every write (store.c); the admin UI
 * (authd/admin_form.c, admin_services.c) and sekishoctl (ctl/service.c) check
 * with the same functions before writing, and show the messages these write,
 * so a person sees the same words whichever interface they use.
 *
 * Each check returns STORE_OK, or STORE_INVALID with one line in err.
 */

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Max usage time and max idle interval, whole minutes. The bound is 366 days,
 * not 365: "up to a year" then holds for a leap year too, and it is the
 * bound the store has always enforced, so no service already in a database
 * becomes invalid on its next edit.
 */
#define SERVICE_MINUTES_MAX  (366 * 24 * 60)
/* Users admitted at once. 0 would be a service nobody may enter: that is "disabled". */
#define SERVICE_CAP_MIN      1
#define SERVICE_CAP_MAX      1000000

int service_usage_check(long long minutes, char *err, size_t errlen);
int service_interval_check(long long minutes, char *err, size_t errlen);
int service_cap_check(long long cap, char *err, size_t errlen);

/* Usage, interval and cap of svc, in that order; the first broken rule is reported. */
int service_limits_check(const struct store_service *svc, char *err, size_t errlen);

/*
 * Whether u may administer a service whose admin is now current_admin_id
 * (0 for a new service): an enabled admin or root. The service's current
 * admin may be kept whatever they have become, so an edit of other fields
 * never fails, nor silently changes the admin, because of them.
 */
int service_admin_check(const struct store_user *u, int64_t current_admin_id,
                        char *err, size_t errlen);

/*
 * The same rule against the store: admin_id must name a user that
 * service_admin_check allows; for an update of service_id (0 for a new
 * service) the service's current admin is read first. STORE_OK, STORE_INVALID or STORE_NOTFOUND with
 * err, or STORE_UNAVAILABLE.
 */
int service_admin_verify(struct store *s, int64_t admin_id, int64_t service_id,
                         char *err, size_t errlen);

#endif
