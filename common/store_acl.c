/*
 * Checked wrappers of the group and access-list operations (store.h,
 * "groups and access lists") and of external accounts: names and kinds are
 * bounded here, once, before either backend sees them.
 */

#include <stddef.h>
#include <string.h>

#include "store_int.h"

int
store_group_add(struct store *s, const char *name, int64_t now, int64_t *id,
                char *err, size_t errlen)
{
	store_clear(s);
	if (!name_valid(name))
		return store_report(s, store_fail(s, STORE_INVALID, "invalid group name"), err, errlen);
	return store_report(s, s->ops->group_add(s, name, now, id), err, errlen);
}

int
store_group_get(struct store *s, const char *name, int64_t id, struct store_group *g)
{
	store_clear(s);
	if (name && !name_valid(name))
		return store_fail(s, STORE_NOTFOUND, "no such group");
	return s->ops->group_get(s, name, name ? 0 : id, g);
}

int
store_group_del(struct store *s, int64_t id, char *err, size_t errlen)
{
	store_clear(s);
	return store_report(s, s->ops->group_del(s, id), err, errlen);
}

int
store_group_list(struct store *s, int64_t user_id,
                 int (*fn)(const struct store_group *, void *), void *arg)
{
	store_clear(s);
	return s->ops->group_list(s, user_id > 0 ? user_id : 0, fn, arg);
}

int
store_group_members(struct store *s, int64_t group_id,
                    int (*fn)(const struct store_user *, void *), void *arg)
{
	store_clear(s);
	return s->ops->group_members(s, group_id, fn, arg);
}

int
store_group_member(struct store *s, int64_t group_id, int64_t user_id, int add,
                   char *err, size_t errlen)
{
	store_clear(s);
	return store_report(s, s->ops->group_member(s, group_id, user_id, add != 0), err, errlen);
}

int
store_acl_restrict(struct store *s, int64_t service_id, int restricted, char *err, size_t errlen)
{
	store_clear(s);
	return store_report(s, s->ops->acl_restrict(s, service_id, restricted != 0), err, errlen);
}

int
store_acl_entry(struct store *s, int64_t service_id, int kind, int64_t member_id, int add,
                char *err, size_t errlen)
{
	store_clear(s);
	if (kind != ACL_USER && kind != ACL_GROUP)
		return store_report(s, store_fail(s, STORE_INVALID, "invalid list entry kind"),
		                    err, errlen);
	return store_report(s, s->ops->acl_entry(s, service_id, kind, member_id, add != 0),
	                    err, errlen);
}

int
store_acl_list(struct store *s, int64_t service_id, int *restricted,
               int (*fn)(const struct store_acl_entry *, void *), void *arg)
{
	int dummy;

	store_clear(s);
	return s->ops->acl_list(s, service_id, restricted ? restricted : &dummy, fn, arg);
}

int
store_acl_allows(struct store *s, int64_t service_id, int64_t user_id)
{
	store_clear(s);
	return s->ops->acl_allows(s, service_id, user_id);
}

const char *
source_str(int source)
{
	switch (source) {
	case SOURCE_LOCAL: return "local";
	case SOURCE_PAM:   return "pam";
	case SOURCE_LDAP:  return "ldap";
	}
	return "unknown";
}

int
source_parse(const char *s)
{
	for (int v = SOURCE_LOCAL; v <= SOURCE_LDAP; v++)
		if (s && strcmp(s, source_str(v)) == 0)
			return v;
	return -1;
}

int
store_user_add_external(struct store *s, const char *name, int source, int64_t now,
                        int64_t *id, char *err, size_t errlen)
{
	store_clear(s);
	if (!name_valid(name))
		return store_report(s, store_fail(s, STORE_INVALID, "invalid user name"), err, errlen);
	if (source != SOURCE_PAM && source != SOURCE_LDAP)
		return store_report(s, store_fail(s, STORE_INVALID, "not an external source"),
		                    err, errlen);
	return store_report(s, s->ops->user_add_external(s, name, source_str(source), now, id),
	                    err, errlen);
}
