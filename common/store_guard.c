/*
 * The store's rules on guards that need no database (see store.h): the
 * forbidden networks and endpoints from the config, and the guards of one
 * service among themselves. Rules across services live in the backends,
 * inside their write transactions.
 */

#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* One listen endpoint of the daemons; a wildcard names no address of its own and is skipped. */
static int
forbid_listen(void *arg, const char *entry, char *err, size_t errlen)
{
	struct store *s = arg;

	(void)err;
	(void)errlen;
	if (s->n_forbid < STORE_FORBID_MAX && net_from_listen(entry, &s->forbid[s->n_forbid]) == 0)
		s->n_forbid++;
	return 0;
}

/* db.guard_forbid and the daemons' own endpoints. */
int
store_forbid_load(struct store *s, const struct conf_db *db, char *err, size_t errlen)
{
	char why[128];

	if (net_parse_list(db->guard_forbid, s->forbid, CONF_LIST_MAX, &s->n_forbid, why,
	                   sizeof why) == -1) {
		snprintf(err, errlen, "db.guard_forbid: %s", why);
		return -1;
	}
	if (conf_list_each(db->guard_self, forbid_listen, s, why, sizeof why) == -1) {
		snprintf(err, errlen, "the daemons' listen addresses: %s", why);
		return -1;
	}
	return 0;
}

int
store_guards_same(const struct store_service *a, const struct store_service *b)
{
	int found;

	if (a->n_guards != b->n_guards)
		return 0;
	for (int i = 0; i < a->n_guards; i++) {
		found = 0;
		for (int j = 0; j < b->n_guards && !found; j++)
			found = addr_eq(&a->guards[i].addr, &b->guards[j].addr) &&
			        a->guards[i].port == b->guards[j].port;
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Guards that need no database: none listed twice or covering another of the
 * same service, none touching a forbidden network or endpoint.
 */
int
store_guards_check(struct store *s, const struct store_service *v)
{
	char g[GUARD_STR_MAX], o[GUARD_STR_MAX], n[NET_STR_MAX];

	for (int i = 0; i < v->n_guards; i++) {
		for (int j = 0; j < i; j++)
			if (guard_overlap(&v->guards[i], &v->guards[j]))
				return store_fail(s, STORE_INVALID, "guard %s repeats or covers %s",
				                  guard_str(&v->guards[i], g, sizeof g),
				                  guard_str(&v->guards[j], o, sizeof o));
		for (int k = 0; k < s->n_forbid; k++)
			if (net_hits(&s->forbid[k], &v->guards[i]))
				return store_fail(s, STORE_INVALID, "guard %s touches %s, which no service "
				                  "may guard (client side, the gateway itself or sekisho's "
				                  "own endpoints; db.guard_forbid)",
				                  guard_str(&v->guards[i], g, sizeof g),
				                  net_str(&s->forbid[k], n, sizeof n));
	}
	return STORE_OK;
}

