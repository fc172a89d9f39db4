/*
 * The store contract for groups and access lists (store.h, "groups and
 * access lists"), linked into each backend's contract program beside
 * store_contract.c: open by default, restricted to listed users and groups,
 * idempotent adds, removals that say when there was nothing, and everything
 * a user, group or service names going with it.
 */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "store.h"
#include "store_contract.h"

#define T0 1700000000LL

static struct fx fx;
static struct store *s;
static int64_t root;

static void
setup(void)
{
	contract_backend.init(&fx);
	s = fx_open(&fx);
	root = fx_user(s, "root", ROLE_ROOT);
}

static void
teardown(void)
{
	store_close(s);
	contract_backend.cleanup(&fx);
}

TestSuite(acl, .init = setup, .fini = teardown);

static int64_t
group(const char *name)
{
	int64_t id = 0;

	cr_assert_eq(store_group_add(s, name, T0, &id, NULL, 0), STORE_OK, "%s", store_error(s));
	return id;
}

struct listing {
	char text[512];
};

static int
list_entry(const struct store_acl_entry *e, void *arg)
{
	struct listing *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof l->text - n, "%s%s:%s", n ? " " : "",
	         e->kind == ACL_USER ? "user" : "group", e->name);
	return 0;
}

static int
list_group(const struct store_group *g, void *arg)
{
	struct listing *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof l->text - n, "%s%s(%d)", n ? " " : "", g->name, g->members);
	return 0;
}

Test(acl, a_service_is_open_to_everyone_until_restricted)
{
	int64_t u = fx_user(s, "alice", ROLE_USER), v = fx_service(s, "lab", 5, 60, 10, root);
	int restricted = -1;

	cr_assert_eq(store_acl_allows(s, v, u), STORE_OK);
	cr_assert_eq(store_acl_list(s, v, &restricted, list_entry, &(struct listing){ "" }),
	             STORE_OK);
	cr_assert_eq(restricted, 0);
	cr_assert_eq(store_acl_restrict(s, v, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, u), STORE_DENIED);
	cr_assert_eq(store_acl_allows(s, v + 100, u), STORE_NOTFOUND);
	cr_assert_eq(store_acl_restrict(s, v + 100, 1, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_acl_restrict(s, v, 0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, u), STORE_OK);
}

Test(acl, a_restricted_service_admits_listed_users_and_group_members_only)
{
	int64_t alice = fx_user(s, "alice", ROLE_USER), bob = fx_user(s, "bob", ROLE_USER);
	int64_t carol = fx_user(s, "carol", ROLE_USER), v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t g = group("physics");
	struct listing l = { "" };
	int restricted = 0;

	cr_assert_eq(store_acl_restrict(s, v, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_USER, alice, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_GROUP, g, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, g, bob, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, alice), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, bob), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, carol), STORE_DENIED);
	cr_assert_eq(store_acl_list(s, v, &restricted, list_entry, &l), STORE_OK);
	cr_assert_eq(restricted, 1);
	cr_assert_str_eq(l.text, "user:alice group:physics");

	cr_assert_eq(store_group_member(s, g, bob, 0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, bob), STORE_DENIED);
	cr_assert_eq(store_acl_entry(s, v, ACL_USER, alice, 0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_allows(s, v, alice), STORE_DENIED);
}

Test(acl, adds_are_idempotent_removals_and_missing_ends_are_notfound)
{
	int64_t u = fx_user(s, "alice", ROLE_USER), v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t g = group("physics"), id = 0;
	char err[256] = "";

	cr_assert_eq(store_group_add(s, "physics", T0, &id, err, sizeof err), STORE_EXISTS);
	cr_assert(strstr(err, "physics"), "%s", err);
	cr_assert_eq(store_group_add(s, "no spaces", T0, &id, NULL, 0), STORE_INVALID);
	cr_assert_eq(store_group_member(s, g, u, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, g, u, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, g, u + 100, 1, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_group_member(s, g + 100, u, 1, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_group_member(s, g, u, 0, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, g, u, 0, NULL, 0), STORE_NOTFOUND);

	cr_assert_eq(store_acl_entry(s, v, ACL_GROUP, g, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_GROUP, g, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_USER, u + 100, 1, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_acl_entry(s, v + 100, ACL_USER, u, 1, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_acl_entry(s, v, ACL_USER, u, 0, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_acl_entry(s, v, 7, u, 1, NULL, 0), STORE_INVALID);
}

Test(acl, groups_list_with_member_counts_and_per_user)
{
	int64_t alice = fx_user(s, "alice", ROLE_USER), bob = fx_user(s, "bob", ROLE_USER);
	int64_t phys = group("physics"), chem = group("chem");
	struct listing all = { "" }, mine = { "" };
	struct store_group g;

	cr_assert_eq(store_group_member(s, phys, alice, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, phys, bob, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, chem, bob, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_list(s, 0, list_group, &all), STORE_OK);
	cr_assert_str_eq(all.text, "chem(1) physics(2)");
	cr_assert_eq(store_group_list(s, alice, list_group, &mine), STORE_OK);
	cr_assert_str_eq(mine.text, "physics(2)");
	cr_assert_eq(store_group_get(s, "physics", 0, &g), STORE_OK);
	cr_assert_eq(g.id, phys);
	cr_assert_eq(g.members, 2);
	cr_assert_eq(store_group_get(s, NULL, chem, &g), STORE_OK);
	cr_assert_str_eq(g.name, "chem");
	cr_assert_eq(store_group_get(s, "nope", 0, &g), STORE_NOTFOUND);
}

Test(acl, external_accounts_are_users_whose_hash_matches_nothing)
{
	struct store_user u;
	int64_t id = 0;

	cr_assert_eq(store_user_add_external(s, "pat", SOURCE_PAM, T0, &id, NULL, 0), STORE_OK);
	cr_assert_eq(store_user_get(s, "pat", &u), STORE_OK);
	cr_assert_eq(u.id, id);
	cr_assert_eq(u.source, SOURCE_PAM);
	cr_assert_eq(u.role, ROLE_USER);
	cr_assert_str_eq(u.pwhash, PWHASH_EXTERNAL);
	cr_assert_eq(store_user_get(s, "root", &u), STORE_OK);
	cr_assert_eq(u.source, SOURCE_LOCAL);
	cr_assert_eq(store_user_add_external(s, "pat", SOURCE_LDAP, T0, &id, NULL, 0), STORE_EXISTS);
	cr_assert_eq(store_user_add_external(s, "lee", SOURCE_LOCAL, T0, &id, NULL, 0),
	             STORE_INVALID);
	cr_assert_eq(store_user_add_external(s, "lee", SOURCE_LDAP, T0, &id, NULL, 0), STORE_OK);
	cr_assert_eq(store_user_get_id(s, id, &u), STORE_OK);
	cr_assert_eq(u.source, SOURCE_LDAP);
}

Test(acl, deleting_a_group_user_or_service_drops_what_named_it)
{
	int64_t alice = fx_user(s, "alice", ROLE_USER), bob = fx_user(s, "bob", ROLE_USER);
	int64_t v = fx_service(s, "lab", 5, 60, 10, root), g = group("physics");
	struct listing l = { "" };
	struct store_service svc;
	int restricted = 0;

	cr_assert_eq(store_acl_restrict(s, v, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_GROUP, g, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_entry(s, v, ACL_USER, bob, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_member(s, g, alice, 1, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_del(s, g, NULL, 0), STORE_OK);
	cr_assert_eq(store_group_del(s, g, NULL, 0), STORE_NOTFOUND);
	cr_assert_eq(store_acl_allows(s, v, alice), STORE_DENIED);
	cr_assert_eq(store_user_del(s, bob, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_list(s, v, &restricted, list_entry, &l), STORE_OK);
	cr_assert_str_eq(l.text, "");
	/* an edit of the service's other fields keeps it restricted */
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	svc.cap = 7;
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_list(s, v, &restricted, NULL, NULL), STORE_OK);
	cr_assert_eq(restricted, 1);
	cr_assert_eq(store_service_del(s, v, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_acl_list(s, v, &restricted, NULL, NULL), STORE_NOTFOUND);
}
