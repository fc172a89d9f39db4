/*
 * Guards are root's and stay off what must never be firewalled: the store's
 * rules (store.h, docs/security.md "Guards") for each caller, and the
 * ranges of common/net.c they rest on.
 */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "fixture.h"
#include "net.h"
#include "store.h"

#define T0 1700000000LL

static struct fx fx;
static struct store *s;
static int64_t root, ann;

static void
setup(void)
{
	fx_init(&fx);
	s = fx_open(&fx);
	root = fx_user(s, "root", ROLE_ROOT);
	ann = fx_user(s, "ann", ROLE_ADMIN);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(guard, .init = setup, .fini = teardown);
TestSuite(net);

/* A service named name administered by admin, guarding the endpoints in text ("" = none). */
static struct store_service
svc_of(const char *name, int64_t admin, const char *text)
{
	struct store_service v;
	char tok[GUARD_STR_MAX], err[128];
	const char *p = text;
	size_t len;

	memset(&v, 0, sizeof v);
	snprintf(v.name, sizeof v.name, "%s", name);
	snprintf(v.url, sizeof v.url, "http://%s.example/", name);
	v.max_usage_min = 60;
	v.max_interval_min = 10;
	v.cap = 5;
	v.admin_id = admin;
	v.enabled = 1;
	while (*p != '\0') {
		len = strcspn(p, " ");
		snprintf(tok, sizeof tok, "%.*s", (int)len, p);
		cr_assert_eq(guard_parse(tok, &v.guards[v.n_guards++], err, sizeof err), 0, "%s", err);
		p += len + (p[len] == ' ');
	}
	return v;
}

static int
add(const char *name, int role, int64_t admin, const char *guards, char *err, size_t n)
{
	struct store_service v = svc_of(name, admin, guards);

	return store_service_add(s, &v, role, T0, NULL, err, n);
}

static struct store_service
get(const char *name)
{
	struct store_service v;

	cr_assert_eq(store_service_get(s, name, &v), STORE_OK);
	return v;
}

/* Reopens the store with db.guard_forbid and the listen endpoints of a config. */
static void
reopen(const char *forbid, const char *self)
{
	char err[256] = "";

	store_close(s);
	snprintf(fx.db.guard_forbid, sizeof fx.db.guard_forbid, "%s", forbid);
	snprintf(fx.db.guard_self, sizeof fx.db.guard_self, "%s", self);
	s = store_open(&fx.db, 0, err, sizeof err);
	cr_assert_not_null(s, "%s", err);
}

Test(guard, an_admin_registers_a_service_without_guards_but_not_with_them)
{
	char err[256] = "";

	cr_assert_eq(add("lab", ROLE_ADMIN, ann, "", err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(add("grab", ROLE_ADMIN, ann, "10.0.7.2", err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "only root may set"), "%s", err);
	cr_assert_eq(store_service_get(s, "grab", &(struct store_service){ 0 }), STORE_NOTFOUND);
	cr_assert_eq(add("grab", ROLE_ROOT, ann, "10.0.7.2", err, sizeof err), STORE_OK, "%s", err);
}

Test(guard, an_admin_edits_other_fields_but_cannot_change_the_guards)
{
	struct store_service v;
	char err[256] = "";

	cr_assert_eq(add("lab", ROLE_ROOT, ann, "10.0.9.2:80 10.0.9.2:443", err, sizeof err), STORE_OK);
	v = get("lab");
	v.cap = 7;
	v.guards[0] = v.guards[1];                     /* same guards, other order */
	cr_assert_eq(guard_parse("10.0.9.2:80", &v.guards[1], err, sizeof err), 0);
	cr_assert_eq(store_service_update(s, &v, ROLE_ADMIN, T0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(get("lab").cap, 7);

	v = get("lab");
	cr_assert_eq(guard_parse("10.0.9.3", &v.guards[1], err, sizeof err), 0);
	cr_assert_eq(store_service_update(s, &v, ROLE_ADMIN, T0, err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "only root may set or change"), "%s", err);
	v.n_guards = 0;
	cr_assert_eq(store_service_update(s, &v, ROLE_ADMIN, T0, err, sizeof err), STORE_INVALID,
	             "removing guards is a change too");
	v = get("lab");
	cr_assert_eq(v.n_guards, 2, "nothing was written");
	v.n_guards = 1;
	cr_assert_eq(store_service_update(s, &v, ROLE_ROOT, T0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(get("lab").n_guards, 1);
}

Test(guard, only_admins_and_root_write_services)
{
	char err[256] = "";
	struct store_service v;

	cr_assert_eq(add("lab", ROLE_USER, ann, "", err, sizeof err), STORE_INVALID);
	cr_assert_eq(add("lab", ROLE_ROOT, ann, "", err, sizeof err), STORE_OK);
	v = get("lab");
	cr_assert_eq(store_service_update(s, &v, ROLE_USER, T0, err, sizeof err), STORE_INVALID);
	cr_assert_eq(store_service_update(s, &v, 7, T0, err, sizeof err), STORE_INVALID);
}

struct clash { char mine[40], theirs[40]; int refused; };

ParameterizedTestParameters(guard, two_services_may_not_guard_the_same_endpoint)
{
	static struct clash cases[] = {
		{ "10.0.9.2:80", "10.0.9.2:80", 1 },
		{ "10.0.9.2", "10.0.9.2:80", 1 },          /* all ports covers one */
		{ "10.0.9.2:443", "10.0.9.2", 1 },         /* one port inside all ports */
		{ "10.0.9.2", "10.0.9.2", 1 },
		{ "[2001:db8::2]:80", "[2001:db8::2]:80", 1 },
		{ "10.0.9.2:443", "10.0.9.2:80", 0 },      /* other port */
		{ "10.0.9.3", "10.0.9.2", 0 },             /* other host */
		{ "[2001:db8::2]:80", "10.0.9.2:80", 0 },
	};
	return cr_make_param_array(struct clash, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct clash *c, guard, two_services_may_not_guard_the_same_endpoint)
{
	struct store_service v;
	char err[256] = "";
	int want = c->refused ? STORE_INVALID : STORE_OK;

	cr_assert_eq(add("web", ROLE_ROOT, root, c->theirs, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(add("app", ROLE_ROOT, root, c->mine, err, sizeof err), want,
	             "%s against %s: %s", c->mine, c->theirs, err);
	if (c->refused)
		cr_assert(strstr(err, "which service web guards"), "names the other service: %s", err);
	else
		cr_assert_eq(store_service_del(s, get("app").id, T0, err, sizeof err), STORE_OK);
	/* The same rule holds for an edit that moves a guard onto web's. */
	cr_assert_eq(add("edit", ROLE_ROOT, root, "192.0.2.99", err, sizeof err), STORE_OK);
	v = svc_of("edit", root, c->mine);
	v.id = get("edit").id;
	cr_assert_eq(store_service_update(s, &v, ROLE_ROOT, T0, err, sizeof err), want, "%s", err);
}

Test(guard, a_service_keeps_its_own_guards_on_an_edit)
{
	struct store_service v;
	char err[256] = "";

	cr_assert_eq(add("web", ROLE_ROOT, root, "10.0.9.2", err, sizeof err), STORE_OK);
	v = get("web");
	v.cap = 9;
	cr_assert_eq(store_service_update(s, &v, ROLE_ROOT, T0, err, sizeof err), STORE_OK, "%s", err);
}

Test(guard, one_service_may_not_list_an_endpoint_twice_or_inside_another)
{
	char err[256] = "";

	cr_assert_eq(add("a", ROLE_ROOT, root, "10.0.9.2:80 10.0.9.2:80", err, sizeof err),
	             STORE_INVALID);
	cr_assert_eq(add("b", ROLE_ROOT, root, "10.0.9.2 10.0.9.2:80", err, sizeof err),
	             STORE_INVALID);
	cr_assert(strstr(err, "repeats or covers"), "%s", err);
}

struct forbidden { char guard[40]; int refused; };

ParameterizedTestParameters(guard, guards_stay_off_the_forbidden_networks_and_own_endpoints)
{
	static struct forbidden cases[] = {
		{ "10.0.1.7", 1 },              /* the client-side network */
		{ "10.0.1.7:80", 1 },
		{ "10.0.9.1:22", 1 },           /* the gateway's own address, any port */
		{ "10.0.9.2:8443", 1 },         /* one endpoint forbidden ... */
		{ "10.0.9.2", 1 },              /* ... so all ports of its host are too */
		{ "10.0.9.2:80", 0 },           /* ... but another port is fine */
		{ "[2001:db8:1::5]:443", 1 },   /* an IPv6 client network */
		{ "127.0.0.1:8080", 1 },        /* authd.listen */
		{ "127.0.0.1:8081", 1 },        /* cid.listen */
		{ "127.0.0.1:9080", 1 },        /* authd.monitor_listen */
		{ "127.0.0.1", 1 },             /* covers them */
		{ "127.0.0.1:9000", 0 },
		{ "10.0.2.7", 0 },
	};
	return cr_make_param_array(struct forbidden, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct forbidden *c, guard,
                  guards_stay_off_the_forbidden_networks_and_own_endpoints)
{
	char err[256] = "";

	reopen("10.0.1.0/24, 10.0.9.1, 10.0.9.2:8443, 2001:db8:1::/48",
	       "127.0.0.1:8080,127.0.0.1:9080,127.0.0.1:8081,[::1]:9081");
	cr_assert_eq(add("svc", ROLE_ROOT, root, c->guard, err, sizeof err),
	             c->refused ? STORE_INVALID : STORE_OK, "%s: %s", c->guard, err);
	if (c->refused)
		cr_assert(strstr(err, "which no service may guard"), "%s", err);
}

Test(guard, a_wildcard_listen_forbids_nothing_by_itself)
{
	char err[256] = "";

	reopen("", "0.0.0.0:8080,[::]:8081");
	cr_assert_eq(add("svc", ROLE_ROOT, root, "10.0.9.2:8080", err, sizeof err), STORE_OK, "%s", err);
}

Test(guard, a_bad_forbid_list_keeps_the_store_closed)
{
	char err[256] = "";

	store_close(s);
	snprintf(fx.db.guard_forbid, sizeof fx.db.guard_forbid, "10.0.1.0/99");
	s = store_open(&fx.db, 0, err, sizeof err);
	cr_assert_null(s);
	cr_assert(strstr(err, "db.guard_forbid"), "%s", err);
}

struct hit { char net[40], guard[40]; int hits; };

ParameterizedTestParameters(net, a_range_hits_guards_inside_it_on_meeting_ports)
{
	static struct hit cases[] = {
		{ "10.0.1.0/24", "10.0.1.255:80", 1 },
		{ "10.0.1.0/24", "10.0.2.0", 0 },
		{ "10.0.0.0/15", "10.1.200.1", 1 },
		{ "10.0.0.0/15", "10.2.0.1", 0 },
		{ "0.0.0.0/0", "192.0.2.1:1", 1 },
		{ "10.0.0.1:443", "10.0.0.1:443", 1 },
		{ "10.0.0.1:443", "10.0.0.1", 1 },
		{ "10.0.0.1:443", "10.0.0.1:80", 0 },
		{ "10.0.0.1", "10.0.0.1:80", 1 },
		{ "2001:db8::/32", "[2001:db8:ffff::1]:80", 1 },
		{ "2001:db8::/33", "[2001:db8:8000::1]:80", 0 },
		{ "2001:db8::/32", "10.0.0.1", 0 },
	};
	return cr_make_param_array(struct hit, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct hit *c, net, a_range_hits_guards_inside_it_on_meeting_ports)
{
	struct net n;
	struct guard g;
	char err[128];

	cr_assert_eq(net_parse(c->net, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(guard_parse(c->guard, &g, err, sizeof err), 0, "%s", err);
	cr_assert_eq(net_hits(&n, &g), c->hits, "%s hits %s", c->net, c->guard);
}

Test(net, ranges_print_as_they_parse)
{
	static const char *const forms[] = {
		"10.0.1.0/24", "10.0.0.1", "10.0.0.1:443", "2001:db8::/32", "[2001:db8::1]:443",
	};
	char buf[NET_STR_MAX], err[128];
	struct net n;

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		cr_assert_eq(net_parse(forms[i], &n, err, sizeof err), 0, "%s", err);
		cr_assert_str_eq(net_str(&n, buf, sizeof buf), forms[i]);
	}
}

Test(net, listen_endpoints_but_not_wildcards_become_ranges)
{
	struct net n;

	cr_assert_eq(net_from_listen("127.0.0.1:8080", &n), 0);
	cr_assert_eq(n.port, 8080);
	cr_assert_eq(net_from_listen("[::1]:8081", &n), 0);
	cr_assert_eq(net_from_listen("0.0.0.0:8080", &n), -1);
	cr_assert_eq(net_from_listen("[::]:8080", &n), -1);
	cr_assert_eq(net_from_listen("127.0.0.1", &n), -1, "no port: not a listen address");
}
