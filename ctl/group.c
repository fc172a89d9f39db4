/*
 * Groups and service access lists (docs/identity.md): group add|del|list|show,
 * group join|leave, and service access|restrict|open|allow|deny. Every change
 * writes an audit row ("group.*", "acl.*").
 */

#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int
get_group(struct ctl *c, const char *name, struct store_group *g)
{
	int rc;

	if (!name_valid(name))
		return ctl_fail("invalid group name \"%.*s\" (1..%d of A-Z a-z 0-9 . _ -)",
		                NAME_MAX_LEN + 8, name, NAME_MAX_LEN);
	if ((rc = store_group_get(c->s, name, 0, g)) == STORE_NOTFOUND)
		return ctl_fail("no such group: %s", name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "group", NULL);
	return CTL_OK;
}

int
ctl_group_add(struct ctl *c)
{
	const char *name = c->pos[0];
	char err[512] = "";
	int64_t id;
	int rc;

	if (!name_valid(name))
		return ctl_fail("invalid group name \"%.*s\" (1..%d of A-Z a-z 0-9 . _ -)",
		                NAME_MAX_LEN + 8, name, NAME_MAX_LEN);
	rc = store_group_add(c->s, name, c->now, &id, err, sizeof err);
	if (rc == STORE_EXISTS)
		return ctl_fail("group %s already exists", name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "group add", err);
	if ((rc = ctl_audit(c, "group.add", NULL, NULL, "group=%s", name)) != CTL_OK)
		return rc;
	printf("added group %s\n", name);
	return CTL_OK;
}

int
ctl_group_del(struct ctl *c)
{
	struct store_group g;
	char err[512] = "";
	int rc;

	if ((rc = get_group(c, c->pos[0], &g)) != CTL_OK)
		return rc;
	if ((rc = store_group_del(c->s, g.id, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "group del", err);
	if ((rc = ctl_audit(c, "group.del", NULL, NULL, "group=%s members=%d", g.name,
	                    g.members)) != CTL_OK)
		return rc;
	printf("deleted group %s (%d members)\n", g.name, g.members);
	return CTL_OK;
}

static int
list_group(const struct store_group *g, void *arg)
{
	struct out *o = arg;

	if (!o->json) {
		ctl_out_text(o, "%-32s %d\n", g->name, g->members);
		return 0;
	}
	ctl_json_obj(o, NULL);
	ctl_json_str(o, "name", g->name);
	ctl_json_int(o, "members", g->members);
	ctl_json_end(o, '}');
	return 0;
}

/* Opens the JSON object and array "key" (or prints the text header). */
static void
list_begin(struct out *o, const char *key, const char *header)
{
	if (o->json) {
		ctl_json_obj(o, NULL);
		ctl_json_arr(o, key);
	} else if (header != NULL) {
		ctl_out_text(o, "%s\n", header);
	}
}

static int
list_end(struct ctl *c, struct out *o, int rc, const char *what)
{
	if (rc != STORE_OK) {
		buf_free(&o->b);
		return ctl_store_fail(c, rc, what, NULL);
	}
	if (o->json) {
		ctl_json_end(o, ']');
		ctl_json_end(o, '}');
	}
	return ctl_out_flush(o);
}

int
ctl_group_list(struct ctl *c)
{
	struct out o;

	ctl_out_init(&o, ctl_flag(c, "json"));
	list_begin(&o, "groups", "NAME                             MEMBERS");
	return list_end(c, &o, store_group_list(c->s, 0, list_group, &o), "group list");
}

static int
list_member(const struct store_user *u, void *arg)
{
	struct out *o = arg;

	if (o->json)
		ctl_json_str(o, NULL, u->name);
	else
		ctl_out_text(o, "%s%s\n", u->name, u->disabled ? " (disabled)" : "");
	return 0;
}

int
ctl_group_show(struct ctl *c)
{
	struct store_group g;
	struct out o;
	int rc;

	if ((rc = get_group(c, c->pos[0], &g)) != CTL_OK)
		return rc;
	ctl_out_init(&o, ctl_flag(c, "json"));
	list_begin(&o, "members", NULL);
	return list_end(c, &o, store_group_members(c->s, g.id, list_member, &o), "group show");
}

static int
membership(struct ctl *c, int add)
{
	struct store_group g;
	struct store_user u;
	char err[512] = "";
	int rc;

	if ((rc = get_group(c, c->pos[0], &g)) != CTL_OK ||
	    (rc = ctl_get_user(c, c->pos[1], &u)) != CTL_OK)
		return rc;
	rc = store_group_member(c->s, g.id, u.id, add, err, sizeof err);
	if (rc == STORE_NOTFOUND && !add)
		return ctl_fail("%s is not in group %s", u.name, g.name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, add ? "group join" : "group leave", err);
	if ((rc = ctl_audit(c, add ? "group.join" : "group.leave", NULL, u.name, "group=%s",
	                    g.name)) != CTL_OK)
		return rc;
	printf("%s %s group %s\n", u.name, add ? "is in" : "left", g.name);
	return CTL_OK;
}

int
ctl_group_join(struct ctl *c)
{
	return membership(c, 1);
}

int
ctl_group_leave(struct ctl *c)
{
	return membership(c, 0);
}

static int
list_acl(const struct store_acl_entry *e, void *arg)
{
	struct out *o = arg;
	const char *kind = e->kind == ACL_USER ? "user" : "group";

	if (!o->json) {
		ctl_out_text(o, "%-6s %s\n", kind, e->name);
		return 0;
	}
	ctl_json_obj(o, NULL);
	ctl_json_str(o, "kind", kind);
	ctl_json_str(o, "name", e->name);
	ctl_json_end(o, '}');
	return 0;
}

int
ctl_service_access(struct ctl *c)
{
	struct store_service svc;
	struct out o;
	int rc, restricted = 0;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	ctl_out_init(&o, ctl_flag(c, "json"));
	list_begin(&o, "list", NULL);
	rc = store_acl_list(c->s, svc.id, &restricted, list_acl, &o);
	if (rc == STORE_OK && o.json) {
		ctl_json_end(&o, ']');
		ctl_json_bool(&o, "restricted", restricted);
		ctl_json_end(&o, '}');
	} else if (rc == STORE_OK) {
		ctl_out_text(&o, "%s", restricted ? "" : "(open to every user; the list is not used)\n");
	}
	if (rc != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "service access", NULL);
	}
	return ctl_out_flush(&o);
}

static int
restrict_to(struct ctl *c, int restricted)
{
	struct store_service svc;
	char err[512] = "";
	int rc;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK)
		return rc;
	if ((rc = store_acl_restrict(c->s, svc.id, restricted, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, restricted ? "service restrict" : "service open", err);
	if ((rc = ctl_audit(c, restricted ? "acl.restrict" : "acl.open", svc.name, NULL, "%s",
	                    "")) != CTL_OK)
		return rc;
	printf(restricted ? "%s is open only to its access list\n" : "%s is open to every user\n",
	       svc.name);
	return CTL_OK;
}

int
ctl_service_restrict(struct ctl *c)
{
	return restrict_to(c, 1);
}

int
ctl_service_open(struct ctl *c)
{
	return restrict_to(c, 0);
}

/* --user U or --group G, exactly one: its kind and id. */
static int
acl_member(struct ctl *c, int *kind, int64_t *id, const char **name)
{
	const char *user = ctl_opt(c, "user"), *group = ctl_opt(c, "group");
	struct store_user u;
	struct store_group g;
	int rc;

	if ((user == NULL) == (group == NULL))
		return ctl_usage("give exactly one of --user NAME and --group NAME");
	if (user != NULL) {
		if ((rc = ctl_get_user(c, user, &u)) != CTL_OK)
			return rc;
		*kind = ACL_USER, *id = u.id, *name = user;
		return CTL_OK;
	}
	if ((rc = get_group(c, group, &g)) != CTL_OK)
		return rc;
	*kind = ACL_GROUP, *id = g.id, *name = group;
	return CTL_OK;
}

static int
acl_change(struct ctl *c, int add)
{
	struct store_service svc;
	const char *name = NULL, *kind_s;
	char err[512] = "";
	int64_t id = 0;
	int rc, kind = ACL_USER;

	if ((rc = ctl_get_service(c, c->pos[0], &svc)) != CTL_OK ||
	    (rc = acl_member(c, &kind, &id, &name)) != CTL_OK)
		return rc;
	kind_s = kind == ACL_USER ? "user" : "group";
	rc = store_acl_entry(c->s, svc.id, kind, id, add, err, sizeof err);
	if (rc == STORE_NOTFOUND && !add)
		return ctl_fail("%s %s is not on the access list of %s", kind_s, name, svc.name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, add ? "service allow" : "service deny", err);
	if ((rc = ctl_audit(c, add ? "acl.add" : "acl.del", svc.name,
	                    kind == ACL_USER ? name : NULL, "%s=%s", kind_s, name)) != CTL_OK)
		return rc;
	printf("%s %s %s the access list of %s\n", kind_s, name, add ? "is on" : "is off",
	       svc.name);
	return CTL_OK;
}

int
ctl_service_allow(struct ctl *c)
{
	return acl_change(c, 1);
}

int
ctl_service_deny(struct ctl *c)
{
	return acl_change(c, 0);
}
