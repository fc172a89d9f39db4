/*
 * The store contract (common/store.h), run against one backend: exact
 * admission, expiry and idle arithmetic, ending and sweeping, codes, users,
 * services, snapshots and the change log. Nothing here knows which database
 * answers: the program that links this file names the backend
 * (test_store_contract_<backend>.c), so every backend runs the same suite.
 * Each test gets a fresh, empty store of its own.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "store.h"
#include "adaptive.h"
#include "store_contract.h"
#include "store_int.h"

#define T0 1700000000LL          /* the tests' clock starts here */
#define MIN 60

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

TestSuite(store, .init = setup, .fini = teardown);

static int
take(const char *code, const char *ip, const char *service, int64_t now, struct store_right *r)
{
	struct addr addr = fx_ip(ip);

	return store_code_take(s, code, &addr, service, now, r);
}

static int
admit(int64_t user, int64_t service, const char *ip, int64_t now, struct store_admission *a)
{
	return fx_admit(s, user, service, ip, now, a);
}

static int
count_right(const struct store_right *r, void *arg)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

static int64_t
last_seq(void)
{
	struct store_stats st;

	cr_assert_eq(store_stats(s, &st), STORE_OK);
	return st.last_seq;
}

Test(store, admit_grants_a_right_that_expires_after_max_usage)
{
	int64_t u = fx_user(s, "alice", ROLE_USER);
	int64_t v = fx_service(s, "lab", 3, 90, 15, root);
	struct store_admission a;
	struct store_right r;

	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a), STORE_OK);
	cr_assert_eq(a.right.expires_at, T0 + 90 * MIN);
	cr_assert_eq(a.right.last_seen, T0);
	cr_assert_eq(a.right.idle_deadline, T0 + 15 * MIN);
	cr_assert_eq(strlen(a.right.sid), SID_HEX_LEN);
	cr_assert_eq(a.active, 1);
	cr_assert_eq(a.cap, 3);
	cr_assert_eq(a.replaced, 0);

	cr_assert_eq(store_right_by_sid(s, a.right.sid, &r), STORE_OK);
	cr_assert_eq(r.id, a.right.id);
	cr_assert_str_eq(r.user_name, "alice");
	cr_assert_str_eq(r.service_name, "lab");
	cr_assert(addr_eq(&r.ip, &a.right.ip));
	cr_assert_eq(r.expires_at, T0 + 90 * MIN);
	cr_assert_eq(r.idle_deadline, T0 + 15 * MIN);
	cr_assert_eq(r.ended_at, 0);
}

Test(store, admit_refuses_when_cap_reached)
{
	int64_t v = fx_service(s, "lab", 2, 60, 10, root);
	int64_t u[3] = { fx_user(s, "u1", 0), fx_user(s, "u2", 0), fx_user(s, "u3", 0) };
	struct store_admission a;
	int64_t seq;

	cr_assert_eq(admit(u[0], v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(admit(u[1], v, "10.0.0.2", T0, &a), STORE_OK);
	seq = last_seq();
	cr_assert_eq(admit(u[2], v, "10.0.0.3", T0 + 1, &a), STORE_DENIED);
	cr_assert_eq(a.active, 2);
	cr_assert_eq(a.cap, 2);
	cr_assert(strstr(store_error(s), "full"), "%s", store_error(s));
	cr_assert_eq(last_seq(), seq, "a denial writes nothing");
	cr_assert_eq(fx_live_rights(s, v), 2);
	cr_assert_eq(fx_active(s, v), 2);
}

Test(store, admit_refuses_disabled_service_user_and_unknown_ids)
{
	int64_t u = fx_user(s, "alice", ROLE_USER);
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	struct store_service svc;
	struct store_admission a;

	cr_assert_eq(admit(u, v + 100, "10.0.0.2", T0, &a), STORE_NOTFOUND);
	cr_assert_eq(admit(u + 100, v, "10.0.0.2", T0, &a), STORE_NOTFOUND);
	cr_assert_eq(store_user_set_disabled(s, u, 1, T0, NULL, 0), STORE_OK);
	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a), STORE_NOTFOUND);
	cr_assert_eq(store_user_set_disabled(s, u, 0, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	svc.enabled = 0;
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0, NULL, 0), STORE_OK);
	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a), STORE_NOTFOUND);
	svc.enabled = 1;
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0, NULL, 0), STORE_OK);
	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a), STORE_OK);
}

Test(store, relogin_replaces_the_old_right_and_reports_its_ip)
{
	int64_t u = fx_user(s, "alice", ROLE_USER);
	int64_t v = fx_service(s, "lab", 1, 60, 10, root);
	struct store_admission a1, a2;
	struct store_right old;
	struct addr ip1 = fx_ip("10.0.0.2");

	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u, v, "2001:db8::7", T0 + 30, &a2), STORE_OK, "own slot is reused at cap 1");
	cr_assert_eq(a2.replaced, 1);
	cr_assert_eq(a2.replaced_id, a1.right.id);
	cr_assert(addr_eq(&a2.replaced_ip, &ip1));
	cr_assert_eq(a2.active, 1);
	cr_assert_neq(a2.right.id, a1.right.id);
	cr_assert_str_neq(a2.right.sid, a1.right.sid);
	cr_assert_eq(store_right_get(s, a1.right.id, &old), STORE_OK);
	cr_assert_eq(old.end_reason, END_REPLACED);
	cr_assert_eq(old.ended_at, T0 + 30);
	cr_assert_eq(fx_live_rights(s, v), 1);
}

struct got_rights {
	struct store_right r[8];
	int n;
};

static int
got_right(const struct store_right *r, void *arg)
{
	struct got_rights *g = arg;

	cr_assert_lt(g->n, 8);
	g->r[g->n++] = *r;
	return 0;
}

/* cid reads the rights of a whole batch of changes at once (cid/follow.c). */
Test(store, rights_get_reads_the_named_rights_live_or_ended_each_once_in_id_order)
{
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	struct store_admission a1, a2;
	struct got_rights g = { .n = 0 };
	int64_t ids[5], many[RIGHTS_GET_MAX + 1] = { 0 };

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0, &a2), STORE_OK);
	cr_assert_eq(store_end(s, a1.right.id, END_REVOKED, T0 + 1, NULL), STORE_OK);
	ids[0] = a2.right.id;
	ids[1] = a2.right.id + 1000;             /* names no right: skipped */
	ids[2] = a1.right.id;
	ids[3] = a2.right.id;                    /* asked twice: seen once */
	ids[4] = a1.right.id;
	cr_assert_eq(store_rights_get(s, ids, 5, got_right, &g), STORE_OK);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.r[0].id, a1.right.id);
	cr_assert_eq(g.r[0].ended_at, T0 + 1, "an ended right is returned, marked ended");
	cr_assert_eq(g.r[0].end_reason, END_REVOKED);
	cr_assert_eq(g.r[1].id, a2.right.id);
	cr_assert_eq(g.r[1].ended_at, 0);
	cr_assert_str_eq(g.r[1].sid, a2.right.sid);
	cr_assert_eq(g.r[1].vouched, 1);
	cr_assert_eq(store_rights_get(s, ids, 0, got_right, &g), STORE_OK);
	cr_assert_eq(g.n, 2, "nothing asked, nothing seen");
	ids[1] = 0;
	cr_assert_eq(store_rights_get(s, ids, 2, got_right, &g), STORE_INVALID);
	for (int i = 0; i < RIGHTS_GET_MAX + 1; i++)
		many[i] = i + 1;
	cr_assert_eq(store_rights_get(s, many, RIGHTS_GET_MAX + 1, got_right, &g), STORE_INVALID);
	cr_assert_eq(g.n, 2);
}

Test(store, expired_right_no_longer_counts_and_is_reaped_by_next_admit)
{
	int64_t v = fx_service(s, "lab", 1, 30, 1000, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a1, a2;
	struct store_right r;

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 30 * MIN - 1, &a2), STORE_DENIED,
	             "one second before expiry the slot is still taken");
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 30 * MIN, &a2), STORE_OK,
	             "at expires_at the right no longer counts");
	cr_assert_eq(a2.reaped, 1);
	cr_assert_eq(store_right_get(s, a1.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_EXPIRED);
	cr_assert_eq(r.ended_at, T0 + 30 * MIN);
}

Test(store, idle_right_is_reaped_by_admit_after_max_interval)
{
	int64_t v = fx_service(s, "lab", 1, 600, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a1, a2;
	struct store_right r;
	int64_t seen = T0 + 5 * MIN;

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a1), STORE_OK);
	cr_assert_eq(store_touch(s, &a1.right.id, &seen, 1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 15 * MIN - 1, &a2), STORE_DENIED,
	             "idle deadline moved by the touch");
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 15 * MIN, &a2), STORE_OK);
	cr_assert_eq(a2.reaped, 1);
	cr_assert_eq(store_right_get(s, a1.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_IDLE);
}

Test(store, end_frees_the_slot_and_keeps_the_right_for_audit)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a;
	struct store_right r;

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_end(s, a.right.id, END_REVOKED, T0 + 5, &r), STORE_OK);
	cr_assert_eq(r.id, a.right.id);
	cr_assert_eq(r.end_reason, END_REVOKED);
	cr_assert_eq(r.ended_at, T0 + 5);
	cr_assert_eq(store_end(s, a.right.id, END_LOGOUT, T0 + 6, NULL), STORE_NOTFOUND,
	             "a right ends once");
	cr_assert_eq(store_end(s, a.right.id, END_NONE, T0 + 6, NULL), STORE_INVALID);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_REVOKED, "the first reason stays");
	cr_assert_eq(fx_active(s, v), 0);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 7, &a), STORE_OK);
}

Test(store, end_user_ends_one_service_or_all)
{
	int64_t u = fx_user(s, "alice", 0);
	int64_t v1 = fx_service(s, "lab", 5, 60, 10, root), v2 = fx_service(s, "wiki", 5, 60, 10, root);
	struct store_admission a;
	int n = 0;

	cr_assert_eq(admit(u, v1, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(admit(u, v2, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_end_user(s, u, v1, END_LOGOUT, T0 + 1, count_right, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(fx_live_rights(s, v1), 0);
	cr_assert_eq(fx_live_rights(s, v2), 1);
	n = 0;
	cr_assert_eq(store_end_user(s, u, 0, END_LOGOUT, T0 + 2, count_right, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(fx_live_rights(s, 0), 0);
}

struct swept {
	const struct fx *f;
	int expired, idle, seen_ended;
};

/* Checks from a second connection that the sweep had committed before fn ran. */
static int
on_swept(const struct store_right *r, void *arg)
{
	struct swept *w = arg;
	struct store *other = fx_open(w->f);
	struct store_right again;

	if (store_right_get(other, r->id, &again) == STORE_OK && again.ended_at)
		w->seen_ended++;
	store_close(other);
	w->expired += r->end_reason == END_EXPIRED;
	w->idle += r->end_reason == END_IDLE;
	return 0;
}

Test(store, sweep_ends_expired_and_idle_rights_with_their_reasons)
{
	int64_t v = fx_service(s, "lab", 10, 30, 25, root);
	int64_t u[4] = { fx_user(s, "u1", 0), fx_user(s, "u2", 0), fx_user(s, "u3", 0),
	                 fx_user(s, "u4", 0) };
	struct store_admission a[4];
	struct swept w = { .f = &fx };
	int64_t now = T0 + 30 * MIN, seen[2] = { now - 5 * MIN, now - 25 * MIN + 1 };
	int64_t ids[2];
	int n = -1;

	cr_assert_eq(admit(u[0], v, "10.0.0.1", T0, &a[0]), STORE_OK);            /* expires */
	cr_assert_eq(admit(u[1], v, "10.0.0.2", now - 26 * MIN, &a[1]), STORE_OK); /* idle */
	cr_assert_eq(admit(u[2], v, "10.0.0.3", now - 26 * MIN, &a[2]), STORE_OK); /* touched */
	cr_assert_eq(admit(u[3], v, "10.0.0.4", now - 26 * MIN, &a[3]), STORE_OK); /* touched */
	cr_assert_eq(a[3].reaped, 0);
	ids[0] = a[2].right.id;
	ids[1] = a[3].right.id;
	cr_assert_eq(store_touch(s, ids, seen, 2), STORE_OK);

	cr_assert_eq(store_sweep(s, now, on_swept, &w, &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(w.expired, 1);
	cr_assert_eq(w.idle, 1);
	cr_assert_eq(w.seen_ended, 2, "fn runs after commit");
	cr_assert_eq(fx_live_rights(s, v), 2);
	cr_assert_eq(fx_active(s, v), 2);
	cr_assert_eq(store_sweep(s, now, NULL, NULL, &n), STORE_OK);
	cr_assert_eq(n, 0, "nothing left to sweep");
	cr_assert_eq(store_sweep(s, now + 1, NULL, NULL, &n), STORE_OK);
	cr_assert_eq(n, 1, "u4's idle deadline was now - 25 min + 1 + 25 min");
}

Test(store, touch_never_moves_last_seen_backwards_and_ignores_ended_rights)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a1, a2;
	struct store_right r;
	int64_t ids[3], seen[3];

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0, &a2), STORE_OK);
	cr_assert_eq(store_end(s, a2.right.id, END_LOGOUT, T0 + 1, NULL), STORE_OK);
	ids[0] = a1.right.id; seen[0] = T0 + 100;
	ids[1] = a1.right.id; seen[1] = T0 + 50;
	ids[2] = a2.right.id; seen[2] = T0 + 100;
	cr_assert_eq(store_touch(s, ids, seen, 3), STORE_OK);
	cr_assert_eq(store_right_get(s, a1.right.id, &r), STORE_OK);
	cr_assert_eq(r.last_seen, T0 + 100, "the later of the two stays");
	cr_assert_eq(r.idle_deadline, T0 + 100 + 10 * MIN);
	cr_assert_eq(store_right_get(s, a2.right.id, &r), STORE_OK);
	cr_assert_eq(r.last_seen, T0, "an ended right is left alone");
	ids[0] = 424242;
	cr_assert_eq(store_touch(s, ids, seen, 1), STORE_OK, "unknown ids are ignored");
}

Test(store, entry_code_works_once_before_expiry_for_a_live_right)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u = fx_user(s, "alice", 0);
	struct store_admission a;
	struct store_right r;
	const char *c1 = "aa01", *c2 = "aa02", *c3 = "aa03";

	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_code_put(s, c1, a.right.id, T0 + 30), STORE_OK);
	cr_assert_eq(store_code_put(s, c1, a.right.id, T0 + 30), STORE_EXISTS);
	cr_assert_eq(store_code_put(s, c2, a.right.id, T0 + 30), STORE_OK);
	cr_assert_eq(store_code_put(s, c3, a.right.id, T0 + 30), STORE_OK);
	cr_assert_eq(store_code_put(s, "ZZ", a.right.id, T0 + 30), STORE_INVALID);

	cr_assert_eq(take(c1, "10.0.0.1", "lab", T0 + 5, &r), STORE_OK);
	cr_assert_eq(r.id, a.right.id);
	cr_assert_eq(take(c1, "10.0.0.1", "lab", T0 + 6, &r), STORE_NOTFOUND, "single use");
	cr_assert_eq(take(c2, "10.0.0.1", "lab", T0 + 30, &r), STORE_NOTFOUND, "expired");
	cr_assert_eq(take(c2, "10.0.0.1", "lab", T0 + 5, &r), STORE_NOTFOUND, "an expired try uses it up");
	cr_assert_eq(store_end(s, a.right.id, END_LOGOUT, T0 + 7, NULL), STORE_OK);
	cr_assert_eq(take(c3, "10.0.0.1", "lab", T0 + 8, &r), STORE_NOTFOUND, "right ended");
	cr_assert_eq(store_code_put(s, "aa04", a.right.id, T0 + 30), STORE_NOTFOUND);
	cr_assert_eq(take("beef", "10.0.0.1", "lab", T0, &r), STORE_NOTFOUND);
}

Test(store, entry_code_from_another_address_or_door_is_refused_and_kept_for_its_owner)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u = fx_user(s, "alice", 0);
	struct store_admission a;
	struct store_right r;
	char err[256];

	fx_service(s, "wiki", 5, 60, 10, root);
	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_code_put(s, "aa01", a.right.id, T0 + 30), STORE_OK);

	memset(&r, 0, sizeof r);
	cr_assert_eq(take("aa01", "10.0.0.66", "lab", T0 + 1, &r), STORE_INVALID, "another address");
	snprintf(err, sizeof err, "%s", store_error(s));
	cr_assert(strstr(err, "issued to 10.0.0.1"), "%s", err);
	cr_assert_eq(r.id, a.right.id, "the right is named for the log");
	cr_assert_eq(take("aa01", "2001:db8::1", "lab", T0 + 1, &r), STORE_INVALID, "another family");
	cr_assert_eq(take("aa01", "10.0.0.1", "wiki", T0 + 2, &r), STORE_INVALID, "another door");
	cr_assert(strstr(store_error(s), "is for service lab, not wiki"), "%s", store_error(s));
	cr_assert_eq(take("aa01", "10.0.0.1", "nosuch", T0 + 2, &r), STORE_INVALID, "an unknown door");

	memset(&r, 0, sizeof r);
	cr_assert_eq(take("aa01", "10.0.0.1", "lab", T0 + 3, &r), STORE_OK, "still good for its owner");
	cr_assert_eq(r.id, a.right.id);

	cr_assert_eq(store_code_put(s, "aa02", a.right.id, T0 + 30), STORE_OK);
	cr_assert_eq(take("aa02", "10.0.0.1", NULL, T0 + 4, &r), STORE_OK,
	             "a door that names no service checks the address only");
	cr_assert_eq(store_code_put(s, "aa03", a.right.id, T0 + 30), STORE_OK);
	cr_assert_eq(take("aa03", "10.0.0.66", "lab", T0 + 31, &r), STORE_NOTFOUND,
	             "an expired code is dead from anywhere");
	cr_assert_eq(take("aa03", "10.0.0.1", "lab", T0 + 5, &r), STORE_NOTFOUND, "and gone");
}

Test(store, last_enabled_root_cannot_be_demoted_disabled_or_deleted)
{
	char err[256] = "";
	int64_t r2;

	cr_assert_eq(store_user_set_role(s, root, ROLE_ADMIN, err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "last enabled root") && strstr(err, "root"), "%s", err);
	cr_assert_eq(store_user_set_disabled(s, root, 1, T0, err, sizeof err), STORE_INVALID);
	cr_assert_eq(store_user_del(s, root, T0, err, sizeof err), STORE_INVALID);

	r2 = fx_user(s, "root2", ROLE_ROOT);
	cr_assert_eq(store_user_set_disabled(s, r2, 1, T0, err, sizeof err), STORE_OK);
	cr_assert_eq(store_user_set_role(s, root, ROLE_USER, err, sizeof err), STORE_INVALID,
	             "a disabled root does not count");
	cr_assert_eq(store_user_set_disabled(s, r2, 0, T0, err, sizeof err), STORE_OK);
	cr_assert_eq(store_user_set_role(s, root, ROLE_USER, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_user_del(s, r2, T0, err, sizeof err), STORE_INVALID);
	cr_assert_eq(store_user_set_role(s, root, ROLE_ROOT, err, sizeof err), STORE_OK);
	cr_assert_eq(store_user_del(s, r2, T0, err, sizeof err), STORE_OK, "%s", err);
}

Test(store, user_who_administers_services_cannot_be_deleted)
{
	int64_t adm = fx_user(s, "carol", ROLE_ADMIN);
	char err[256] = "";

	fx_service(s, "wiki", 5, 60, 10, adm);
	fx_service(s, "lab", 5, 60, 10, adm);
	cr_assert_eq(store_user_del(s, adm, T0, err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "carol") && strstr(err, "lab, wiki"), "%s", err);
}

Test(store, deleting_a_user_ends_their_rights_which_keep_the_name)
{
	int64_t u = fx_user(s, "alice", 0);
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	struct store_admission a;
	struct store_right r;
	struct store_user gone;

	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_user_del(s, u, T0 + 5, NULL, 0), STORE_OK);
	cr_assert_eq(store_user_get_id(s, u, &gone), STORE_NOTFOUND);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_USER_DISABLED);
	cr_assert_str_eq(r.user_name, "alice");
	cr_assert_eq(fx_active(s, v), 0);
	cr_assert_neq(fx_user(s, "alice", 0), u, "ids are never reused");
}

Test(store, disabling_a_user_ends_their_rights_and_logins)
{
	int64_t u = fx_user(s, "alice", 0);
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	struct store_admission a;
	struct store_login l;
	struct store_right r;

	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_login_put(s, "ab12", u, "csrf", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_user_set_disabled(s, u, 1, T0 + 9, NULL, 0), STORE_OK);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_USER_DISABLED);
	cr_assert_eq(r.ended_at, T0 + 9);
	cr_assert_eq(store_user_set_disabled(s, u, 0, T0 + 10, NULL, 0), STORE_OK);
	cr_assert_eq(store_login_get(s, "ab12", T0 + 11, 0, &l), STORE_NOTFOUND,
	             "logins do not come back with the account");
}

Test(store, a_new_password_ends_the_users_logins_and_no_one_elses)
{
	int64_t u = fx_user(s, "pia", 0), other = fx_user(s, "quin", 0);
	struct store_login l;

	cr_assert_eq(store_login_put(s, "aa11", u, "csrf", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_login_put(s, "bb22", u, "csrf", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_login_put(s, "cc33", other, "csrf", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_user_set_password(s, u, "$scrypt$new"), STORE_OK);
	cr_assert_eq(store_login_get(s, "aa11", T0 + 1, 0, &l), STORE_NOTFOUND, "old login lives on");
	cr_assert_eq(store_login_get(s, "bb22", T0 + 1, 0, &l), STORE_NOTFOUND, "old login lives on");
	cr_assert_eq(store_login_get(s, "cc33", T0 + 1, 0, &l), STORE_OK, "someone else's login ended");
	cr_assert_eq(store_user_set_password(s, 999999, "$scrypt$new"), STORE_NOTFOUND);
}

Test(store, a_rehash_replaces_only_the_hash_it_was_made_from_and_keeps_logins)
{
	int64_t u = fx_user(s, "pia", 0);
	struct store_user got;
	struct store_login l;

	cr_assert_eq(store_user_set_password(s, u, "$scrypt$weak"), STORE_OK);
	cr_assert_eq(store_login_put(s, "aa11", u, "csrf", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_user_rehash(s, u, "$scrypt$weak", "$scrypt$strong"), STORE_OK);
	cr_assert_eq(store_user_get_id(s, u, &got), STORE_OK);
	cr_assert_str_eq(got.pwhash, "$scrypt$strong");
	cr_assert_eq(store_login_get(s, "aa11", T0 + 1, 0, &l), STORE_OK, "same password: the login stands");
	cr_assert_eq(store_user_rehash(s, u, "$scrypt$weak", "$scrypt$stale"), STORE_NOTFOUND,
	             "a rehash of a password changed meanwhile is dropped");
	cr_assert_eq(store_user_get_id(s, u, &got), STORE_OK);
	cr_assert_str_eq(got.pwhash, "$scrypt$strong");
	cr_assert_eq(store_user_rehash(s, u, "$scrypt$strong", ""), STORE_INVALID);
}

Test(store, login_is_refused_when_expired_idle_or_user_disabled)
{
	int64_t u = fx_user(s, "alice", ROLE_ADMIN);
	struct store_login l;

	cr_assert_eq(store_login_put(s, "ab12", u, "tok", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_login_put(s, "ab12", u, "tok", T0, T0 + 3600), STORE_EXISTS);
	cr_assert_eq(store_login_get(s, "ab12", T0 + 100, 600, &l), STORE_OK);
	cr_assert_str_eq(l.user_name, "alice");
	cr_assert_eq(l.role, ROLE_ADMIN);
	cr_assert_str_eq(l.csrf, "tok");
	cr_assert_eq(l.last_seen, T0 + 100);
	cr_assert_eq(store_login_get(s, "ab12", T0 + 699, 600, &l), STORE_OK, "refreshed at +100");
	cr_assert_eq(store_login_get(s, "ab12", T0 + 1299, 600, &l), STORE_NOTFOUND, "idle");
	cr_assert_eq(store_login_get(s, "ab12", T0 + 1299, 0, &l), STORE_OK, "no idle limit");
	cr_assert_eq(store_login_get(s, "ab12", T0 + 3600, 0, &l), STORE_NOTFOUND, "expired");
	cr_assert_eq(store_login_put(s, "cd34", u, "tok", T0, T0 + 3600), STORE_OK);
	cr_assert_eq(store_user_set_disabled(s, u, 1, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_login_put(s, "ef56", u, "tok", T0, T0 + 3600), STORE_NOTFOUND);
	cr_assert_eq(store_login_get(s, "cd34", T0 + 1, 0, &l), STORE_NOTFOUND);
	cr_assert_eq(store_login_del(s, "cd34"), STORE_NOTFOUND);
}

static struct store_service
service_of(int64_t id)
{
	struct store_service v;

	cr_assert_eq(store_service_get_id(s, id, &v), STORE_OK);
	return v;
}

Test(store, service_delete_ends_rights_and_keeps_them_for_audit)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u = fx_user(s, "alice", 0);
	struct store_admission a;
	struct store_service svc;
	struct store_right r;

	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_service_del(s, v, T0 + 3, NULL, 0), STORE_OK);
	cr_assert_eq(store_service_get(s, "lab", &svc), STORE_NOTFOUND);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_SERVICE_DELETED);
	cr_assert_eq(r.ended_at, T0 + 3);
	cr_assert_str_eq(r.service_name, "lab");
	cr_assert_eq(r.service_id, v);
	cr_assert_eq(store_service_del(s, v, T0 + 4, NULL, 0), STORE_NOTFOUND);
	cr_assert_neq(fx_service(s, "lab", 5, 60, 10, root), v, "ids are never reused");
}

Test(store, service_update_replaces_fields_and_guards_keeps_rights)
{
	int64_t v = fx_service(s, "lab", 2, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a;
	struct store_service svc = service_of(v);
	char err[256] = "";

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0, &a), STORE_OK);
	svc.cap = 1;
	svc.n_guards = 2;
	svc.guards[0].addr = fx_ip("2001:db8::1");
	svc.guards[0].port = 443;
	svc.guards[1].addr = fx_ip("192.0.2.20");
	svc.guards[1].port = 0;
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0 + 1, err, sizeof err), STORE_OK,
	             "%s", err);
	svc = service_of(v);
	cr_assert_eq(svc.cap, 1);
	cr_assert_eq(svc.active, 2, "a lower cap evicts nobody");
	cr_assert_eq(svc.n_guards, 2);
	cr_assert_eq(svc.guards[0].port, 443);
	cr_assert(addr_eq(&svc.guards[1].addr, &(struct addr){ AF_INET, { 192, 0, 2, 20 } }));
	cr_assert_eq(svc.guards[1].port, 0);
	cr_assert_eq(svc.updated_at, T0 + 1);

	svc.enabled = 0;
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0 + 2, err, sizeof err), STORE_OK);
	cr_assert_eq(fx_live_rights(s, v), 0);
	cr_assert_eq(store_right_get(s, a.right.id, &a.right), STORE_OK);
	cr_assert_eq(a.right.end_reason, END_SERVICE_DISABLED);

	fx_service(s, "wiki", 1, 60, 10, root);
	snprintf(svc.name, sizeof svc.name, "wiki");
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0 + 3, err, sizeof err), STORE_EXISTS);
	svc.id = 999;
	snprintf(svc.name, sizeof svc.name, "lab");
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0 + 3, err, sizeof err), STORE_NOTFOUND);
}

Test(store, service_add_checks_its_fields)
{
	struct store_service v = service_of(fx_service(s, "lab", 2, 60, 10, root));
	char err[256] = "";

	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_EXISTS);
	cr_assert(strstr(err, "lab"), "%s", err);
	snprintf(v.name, sizeof v.name, "lab2");
	v.cap = -1;
	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_INVALID);
	v.cap = 1;
	v.max_usage_min = 0;
	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_INVALID);
	v.max_usage_min = 5;
	v.n_guards = GUARDS_MAX + 1;
	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_INVALID);
	v.n_guards = 0;
	v.admin_id = 777;
	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_NOTFOUND);
	v.admin_id = root;
	memset(v.url, 'x', sizeof v.url);
	cr_assert_eq(store_service_add(s, &v, ROLE_ROOT, T0, NULL, err, sizeof err), STORE_INVALID,
	             "an unterminated url is refused, not read past");
}

static int
collect_names(const struct store_service *v, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 128 - strlen(out), "%s:%d:%s ", v->name, v->active,
	         v->admin_name);
	return 0;
}

Test(store, service_list_fills_active_and_admin_name_by_name)
{
	int64_t adm = fx_user(s, "carol", ROLE_ADMIN);
	int64_t v1 = fx_service(s, "wiki", 5, 60, 10, adm);
	struct store_admission a;
	char out[128] = "";

	fx_service(s, "lab", 5, 60, 10, root);
	cr_assert_eq(admit(fx_user(s, "alice", 0), v1, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_service_list(s, 0, collect_names, out), STORE_OK);
	cr_assert_str_eq(out, "lab:0:root wiki:1:carol ");
	out[0] = '\0';
	cr_assert_eq(store_service_list(s, adm, collect_names, out), STORE_OK);
	cr_assert_str_eq(out, "wiki:1:carol ");
}

struct snap {
	char log[512];
};

static int
snap_svc(const struct store_service *v, void *arg)
{
	struct snap *sn = arg;
	char g[GUARD_STR_MAX];

	snprintf(sn->log + strlen(sn->log), sizeof sn->log - strlen(sn->log), "[%s %s] ",
	         v->name, v->n_guards ? guard_str(&v->guards[0], g, sizeof g) : "-");
	return 0;
}

static int
snap_right(const struct store_right *r, void *arg)
{
	struct snap *sn = arg;

	snprintf(sn->log + strlen(sn->log), sizeof sn->log - strlen(sn->log), "%s ",
	         r->user_name);
	return 0;
}

Test(store, snapshot_lists_services_and_the_usable_rights_of_enabled_ones)
{
	int64_t v1 = fx_service(s, "lab", 5, 60, 10, root);
	int64_t v2 = fx_service(s, "wiki", 5, 60, 10, root);
	int64_t v3 = fx_service(s, "off", 5, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0), u3 = fx_user(s, "u3", 0);
	struct store_service off = service_of(v3);
	struct store_admission a;
	struct snap sn = { "" };
	int64_t seq = 0;

	cr_assert_eq(admit(u1, v1, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(admit(u2, v1, "10.0.0.2", T0 - 11 * MIN, &a), STORE_OK);  /* idle at T0 */
	cr_assert_eq(admit(u3, v2, "10.0.0.3", T0, &a), STORE_OK);
	cr_assert_eq(admit(u3, v1, "10.0.0.3", T0, &a), STORE_OK);
	off.enabled = 0;
	cr_assert_eq(store_service_update(s, &off, ROLE_ROOT, T0, NULL, 0), STORE_OK);

	cr_assert_eq(store_snapshot(s, T0, snap_svc, snap_right, &sn, &seq), STORE_OK);
	cr_assert_str_eq(sn.log,
	                 "[lab 192.0.2.10:80] u1 u3 [off 192.0.2.10:82] [wiki 192.0.2.10:81] u3 ");
	cr_assert_eq(seq, last_seq());
}

struct replay {
	int64_t service_id;
	int64_t last;
	int kinds[5];
	int running, max, ordered;
};

static int
on_change(const struct store_change *c, void *arg)
{
	struct replay *rp = arg;

	rp->ordered &= c->seq == rp->last + 1;      /* gap-free, in order: store.h, contract 3 */
	rp->last = c->seq;
	if (c->kind >= 1 && c->kind <= 4)
		rp->kinds[c->kind]++;
	if (rp->service_id && c->service_id == rp->service_id) {
		rp->running += c->kind == CHANGE_ADMIT ? 1 : c->kind == CHANGE_END ? -1 : 0;
		if (rp->running > rp->max)
			rp->max = rp->running;
	}
	return 0;
}

/* Replays the whole change log for service_id in pages of 7. */
static struct replay
replay(struct store *c, int64_t service_id)
{
	struct replay rp = { .service_id = service_id, .ordered = 1 };
	int64_t before;

	do {
		before = rp.last;
		cr_assert_eq(store_changes(c, rp.last, 7, on_change, &rp), STORE_OK);
	} while (rp.last != before);
	return rp;
}

Test(store, every_state_change_is_logged_in_order)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u = fx_user(s, "alice", 0);
	struct store_admission a;
	struct store_key k = { .kid = 7, .created_at = T0, .activates_at = T0, .expires_at = T0 + 10 };
	struct store_service svc = service_of(v);
	struct replay rp;
	int n;

	cr_assert_eq(admit(u, v, "10.0.0.1", T0, &a), STORE_OK);              /* admit */
	cr_assert_eq(admit(u, v, "10.0.0.1", T0 + 1, &a), STORE_OK);          /* end + admit */
	cr_assert_eq(store_end(s, a.right.id, END_LOGOUT, T0 + 2, NULL), STORE_OK);
	cr_assert_eq(store_service_update(s, &svc, ROLE_ROOT, T0 + 3, NULL, 0), STORE_OK);
	cr_assert_eq(store_key_add(s, &k), STORE_OK);
	cr_assert_eq(store_key_del_expired(s, T0 + 10, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_service_del(s, v, T0 + 4, NULL, 0), STORE_OK);

	rp = replay(s, v);
	cr_assert(rp.ordered);
	cr_assert_eq(rp.kinds[CHANGE_ADMIT], 2);
	cr_assert_eq(rp.kinds[CHANGE_END], 2);
	cr_assert_eq(rp.kinds[CHANGE_SERVICE], 3, "add, update, delete");
	cr_assert_eq(rp.kinds[CHANGE_KEYS], 2, "add, expire");
	cr_assert_eq(rp.running, 0);
	cr_assert_eq(rp.last, last_seq());
	cr_assert_eq(store_changes(s, 0, 0, on_change, &rp), STORE_INVALID);
}

struct ids { int64_t v[8]; int n; };

static int
collect_id(const struct store_right *r, void *arg)
{
	struct ids *ids = arg;

	if (ids->n < 8)
		ids->v[ids->n++] = r->id;
	return 0;
}

Test(store, ip_rights_lists_the_live_rights_behind_one_nat_address)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root), w = fx_service(s, "wiki", 5, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0), u3 = fx_user(s, "u3", 0);
	struct store_admission a1, a2, a3, a4;
	struct addr nat = fx_ip("198.51.100.7");
	struct ids ids = { { 0 }, 0 };

	cr_assert_eq(admit(u1, v, "198.51.100.7", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u2, v, "198.51.100.7", T0, &a2), STORE_OK);
	cr_assert_eq(admit(u3, w, "198.51.100.7", T0, &a3), STORE_OK);
	cr_assert_eq(admit(u3, v, "198.51.100.8", T0, &a4), STORE_OK);
	cr_assert_eq(store_ip_rights(s, v, &nat, collect_id, &ids), STORE_OK);
	cr_assert_eq(ids.n, 2, "u1 and u2 on lab; not wiki's right, not another address");
	cr_assert_eq(ids.v[0], a1.right.id);
	cr_assert_eq(ids.v[1], a2.right.id);
	cr_assert_eq(store_end(s, a2.right.id, END_LOGOUT, T0 + 1, NULL), STORE_OK);
	ids.n = 0;
	cr_assert_eq(store_ip_rights(s, v, &nat, collect_id, &ids), STORE_OK);
	cr_assert_eq(ids.n, 1, "an ended right no longer counts");
	cr_assert_eq(ids.v[0], a1.right.id);
}

static int
collect_audit(const struct store_audit *a, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s ", a->detail);
	return 0;
}

Test(store, audit_is_filtered_newest_first_and_paged)
{
	struct store_audit_filter f = { .limit = 2 };
	char out[256] = "";

	cr_assert_eq(store_audit(s, T0, "root", "service.add", "lab", NULL, "1"), STORE_OK);
	cr_assert_eq(store_audit(s, T0, "alice", "admit", "lab", "alice", "2"), STORE_OK);
	cr_assert_eq(store_audit(s, T0, "root", "end", "wiki", "alice", "3"), STORE_OK);
	cr_assert_eq(store_audit(s, T0, "bob", "admit", "wiki", "bob", "4"), STORE_OK);

	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_OK);
	cr_assert_str_eq(out, "4 3 ");
	f.before_id = 3;
	out[0] = '\0';
	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_OK);
	cr_assert_str_eq(out, "2 1 ");
	f = (struct store_audit_filter){ .user = "alice", .limit = 10 };
	out[0] = '\0';
	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_OK);
	cr_assert_str_eq(out, "3 2 ");
	f.service = "lab";
	out[0] = '\0';
	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_OK);
	cr_assert_str_eq(out, "2 ");
	f.limit = 0;
	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_INVALID);
	f.limit = 1001;
	cr_assert_eq(store_audit_list(s, &f, collect_audit, out), STORE_INVALID);
}

Test(store, keys_are_listed_newest_first_until_they_expire)
{
	struct store_key k[3] = {
		{ .kid = 1, .created_at = T0, .activates_at = T0, .expires_at = T0 + 100 },
		{ .kid = 2, .created_at = T0, .activates_at = T0 + 50, .expires_at = T0 + 200 },
		{ .kid = 3, .created_at = T0, .activates_at = T0 + 20, .expires_at = T0 + 150 },
	};
	struct store_key got[KEYRING_MAX];
	int n;

	memset(k[1].secret, 0xab, KEY_SECRET_LEN);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(store_key_add(s, &k[i]), STORE_OK);
	cr_assert_eq(store_key_add(s, &k[0]), STORE_EXISTS);
	cr_assert_eq(store_key_list(s, T0, got, KEYRING_MAX, &n), STORE_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(got[0].kid, 2);
	cr_assert_eq(got[0].secret[31], 0xab);
	cr_assert_eq(got[2].kid, 1);
	cr_assert_eq(store_key_list(s, T0 + 100, got, KEYRING_MAX, &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(store_key_list(s, T0, got, 1, &n), STORE_OK);
	cr_assert_eq(n, 1);
}

Test(store, tls_keys_are_a_ring_of_their_own_added_once_per_period)
{
	struct store_key k = { .kid = 9, .created_at = T0, .activates_at = T0 + 60, .expires_at = T0 + 180 };
	struct store_key dup = k, got[KEYRING_MAX];
	int n, added;

	memset(k.secret, 0x5a, KEY_SECRET_LEN);
	cr_assert_eq(store_tls_key_add(s, &k, T0 + 1, &added), STORE_OK);
	cr_assert_eq(added, 1);
	dup.kid = 10;
	cr_assert_eq(store_tls_key_add(s, &dup, T0 + 1, &added), STORE_OK);
	cr_assert_eq(added, 0, "a next key already waits: a second gateway adds none");
	cr_assert_eq(store_key_list(s, T0, got, KEYRING_MAX, &n), STORE_OK);
	cr_assert_eq(n, 0, "the cookie ring does not see TLS keys");
	cr_assert_eq(store_tls_key_list(s, T0, got, KEYRING_MAX, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(got[0].secret[0], 0x5a);
	cr_assert_eq(store_tls_key_activate(s, 9, T0, T0 + 120), STORE_OK);
	cr_assert_eq(store_tls_key_activate(s, 11, T0, T0 + 120), STORE_NOTFOUND);
	cr_assert_eq(store_tls_key_list(s, T0, got, KEYRING_MAX, &n), STORE_OK);
	cr_assert_eq(got[0].activates_at, T0);
	cr_assert_eq(store_tls_key_del_expired(s, T0 + 120, &n), STORE_OK);
	cr_assert_eq(n, 1);
}

Test(store, prune_deletes_what_is_older_than_the_retention)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a1, a2;
	struct store_right r;
	struct store_stats st;
	int n = 0;

	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0, &a2), STORE_OK);
	cr_assert_eq(store_end(s, a1.right.id, END_LOGOUT, T0 + 10, NULL), STORE_OK);
	cr_assert_eq(store_code_put(s, "c0de", a2.right.id, T0 + 5), STORE_OK);
	cr_assert_eq(store_audit(s, T0 + 1, "root", "x", NULL, NULL, "old"), STORE_OK);
	cr_assert_eq(store_audit(s, T0 + 100, "root", "x", NULL, NULL, "new"), STORE_OK);

	cr_assert_eq(store_prune(s, T0 + 50, &n), STORE_OK);
	cr_assert_eq(n, 3, "the ended right, the old audit row and the dead code");
	cr_assert_eq(store_right_get(s, a1.right.id, &r), STORE_NOTFOUND);
	cr_assert_eq(store_right_get(s, a2.right.id, &r), STORE_OK, "live rights stay");
	cr_assert_eq(store_stats(s, &st), STORE_OK);
	cr_assert_eq(st.audit_rows, 1);
	cr_assert_eq(st.live_rights, 1);
	cr_assert_eq(st.ended_rights, 0);
}

#define RACERS 8
#define RACE_USERS 50

struct racer {
	const struct fx *f;
	pthread_barrier_t *start;
	int64_t service_id;
	int64_t users[RACE_USERS];
	int64_t held[RACE_USERS];
	int rounds, cap;
	int ok, denied, failed, replaced, ended, over_cap;
};

static struct store *
racer_open(const struct racer *r)
{
	char err[256];

	return store_open(&r->f->db, 0, err, sizeof err);
}

/* Every user of this thread asks once, all threads at the same moment. */
static void *
race_admit(void *arg)
{
	struct racer *r = arg;
	struct store *c = racer_open(r);
	struct store_admission a;
	struct addr ip = { .family = AF_INET, .bytes = { 10, 1 } };

	pthread_barrier_wait(r->start);
	for (int i = 0; c && i < RACE_USERS; i++) {
		ip.bytes[3] = (uint8_t)i;
		int rc = store_admit(c, r->users[i], r->service_id, &ip, T0, &a);
		r->ok += rc == STORE_OK;
		r->denied += rc == STORE_DENIED;
		r->failed += rc != STORE_OK && rc != STORE_DENIED;
	}
	r->failed += c == NULL;
	store_close(c);
	return NULL;
}

static void
add_racers(struct racer *r, pthread_barrier_t *start, int64_t service_id, int rounds, int cap,
           const char *prefix)
{
	char name[NAME_MAX_LEN + 1];

	for (int t = 0; t < RACERS; t++) {
		memset(&r[t], 0, sizeof r[t]);
		r[t] = (struct racer){ .f = &fx, .start = start, .service_id = service_id,
		                       .rounds = rounds, .cap = cap };
		for (int i = 0; i < RACE_USERS; i++) {
			snprintf(name, sizeof name, "%s%d-%d", prefix, t, i);
			r[t].users[i] = fx_user(s, name, ROLE_USER);
		}
	}
}

static void
run_racers(struct racer *r, void *(*fn)(void *))
{
	pthread_t th[RACERS];

	for (int t = 0; t < RACERS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, fn, &r[t]), 0);
	for (int t = 0; t < RACERS; t++)
		pthread_join(th[t], NULL);
}

Test(store, cap_is_exact_under_concurrent_admissions, .timeout = 60)
{
	static const int caps[] = { 37, 1, 399 };
	pthread_barrier_t start;
	struct racer r[RACERS];
	char name[16], prefix[8];

	for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		int cap = caps[k], ok = 0, denied = 0, failed = 0;
		snprintf(name, sizeof name, "race%zu", k);
		snprintf(prefix, sizeof prefix, "r%zu-", k);
		int64_t v = fx_service(s, name, cap, 60, 10, root);
		pthread_barrier_init(&start, NULL, RACERS);
		add_racers(r, &start, v, 1, cap, prefix);
		run_racers(r, race_admit);
		pthread_barrier_destroy(&start);
		for (int t = 0; t < RACERS; t++) {
			ok += r[t].ok;
			denied += r[t].denied;
			failed += r[t].failed;
		}
		cr_assert_eq(failed, 0, "store errors under contention: %s", store_error(s));
		cr_assert_eq(ok, cap, "cap %d: %d admitted", cap, ok);
		cr_assert_eq(denied, RACERS * RACE_USERS - cap);
		cr_assert_eq(fx_live_rights(s, v), cap);
		cr_assert_eq(fx_active(s, v), cap);
		cr_assert_eq(replay(s, v).max, cap);
	}
}

/* Admits and releases in turn, checking after each step that no reader sees more than cap. */
static void *
race_churn(void *arg)
{
	struct racer *r = arg;
	struct store *c = racer_open(r);
	struct store_admission a;
	struct store_service v;
	struct addr ip = { .family = AF_INET, .bytes = { 10, 2 } };

	pthread_barrier_wait(r->start);
	for (int i = 0; c && i < r->rounds; i++) {
		int u = i % 4, rc;
		ip.bytes[3] = (uint8_t)u;
		rc = store_admit(c, r->users[u], r->service_id, &ip, T0, &a);
		if (rc == STORE_OK) {
			r->ok++;
			r->replaced += a.replaced;
			r->over_cap += a.active > r->cap;
			r->held[u] = a.right.id;
		}
		r->denied += rc == STORE_DENIED;
		r->failed += rc != STORE_OK && rc != STORE_DENIED;
		if ((rc == STORE_DENIED || i % 3 == 0) && r->held[(u + 1) % 4]) {
			r->failed += store_end(c, r->held[(u + 1) % 4], END_LOGOUT, T0, NULL) != STORE_OK;
			r->ended++;
			r->held[(u + 1) % 4] = 0;
		}
		if (store_service_get_id(c, r->service_id, &v) != STORE_OK)
			r->failed++;
		else
			r->over_cap += v.active > r->cap;
	}
	r->failed += c == NULL;
	store_close(c);
	return NULL;
}

Test(store, cap_is_never_exceeded_while_slots_free_and_refill, .timeout = 60)
{
	int cap = 5, ok = 0, denied = 0, failed = 0, replaced = 0, ended = 0, over = 0;
	int64_t v = fx_service(s, "churn", cap, 60, 10, root);
	pthread_barrier_t start;
	struct racer r[RACERS];
	struct replay rp;

	pthread_barrier_init(&start, NULL, RACERS);
	add_racers(r, &start, v, 120, cap, "c");
	run_racers(r, race_churn);
	pthread_barrier_destroy(&start);
	for (int t = 0; t < RACERS; t++) {
		ok += r[t].ok;
		denied += r[t].denied;
		failed += r[t].failed;
		replaced += r[t].replaced;
		ended += r[t].ended;
		over += r[t].over_cap;
	}
	cr_assert_eq(failed, 0);
	cr_assert_eq(over, 0, "a reader saw more than cap live rights");
	cr_assert_gt(ok, 4 * cap, "slots were freed and refilled");
	cr_assert_gt(denied, 0, "the cap was contended");
	cr_assert_eq(fx_live_rights(s, v), ok - replaced - ended);
	cr_assert_eq(fx_active(s, v), ok - replaced - ended);
	rp = replay(s, v);
	cr_assert(rp.ordered, "the change log has a gap or is out of order");
	cr_assert_leq(rp.max, cap, "some commit held %d live rights", rp.max);
	cr_assert_eq(rp.running, ok - replaced - ended);
}

static int
collect_lockout(const struct store_lockout *l, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s/%s=%d ", l->name, l->source, l->failures);
	return 0;
}

Test(store, lockouts_count_restart_refund_and_clear)
{
	struct store_lockout pair = { .failures = -1 }, acct = { .failures = -1 };
	char out[256] = "";
	int n = 0;

	cr_assert_eq(store_lockout_state(s, "alice", "10.0.0.1", &pair, &acct), STORE_OK);
	cr_assert_eq(pair.failures, -1, "absent rows leave the caller's values");
	cr_assert_eq(store_lockout_fail(s, "alice", "10.0.0.1", T0, T0 - 600), STORE_OK);
	cr_assert_eq(store_lockout_fail(s, "alice", "10.0.0.1", T0 + 1, T0 - 600), STORE_OK);
	cr_assert_eq(store_lockout_fail(s, "alice", "10.0.0.2", T0 + 2, T0 - 600), STORE_OK);
	cr_assert_eq(store_lockout_fail(s, "nobody", "10.0.0.2", T0 + 2, T0 - 600), STORE_OK,
	             "made-up names count the same way");
	cr_assert_eq(store_lockout_state(s, "alice", "10.0.0.1", &pair, &acct), STORE_OK);
	cr_assert_eq(pair.failures, 2);
	cr_assert_eq(pair.last_at, T0 + 1);
	cr_assert_eq(acct.failures, 3, "the account's row counts every source");
	cr_assert_eq(store_lockout_fail(s, "alice", "10.0.0.1", T0 + 900, T0 + 300), STORE_OK);
	cr_assert_eq(store_lockout_state(s, "alice", "10.0.0.1", &pair, &acct), STORE_OK);
	cr_assert_eq(pair.failures, 1, "a count older than since starts again");
	cr_assert_eq(store_lockout_refund(s, "alice", "10.0.0.1", 0), STORE_OK);
	cr_assert_eq(store_lockout_list(s, "alice", collect_lockout, out), STORE_OK);
	cr_assert_str_eq(out, "alice/10.0.0.2=1 ", "rows refunded to zero go (both restarted at 1)");
	cr_assert_eq(store_lockout_refund(s, "alice", "10.0.0.2", 1), STORE_OK);
	out[0] = '\0';
	cr_assert_eq(store_lockout_list(s, NULL, collect_lockout, out), STORE_OK);
	cr_assert_str_eq(out, "nobody/*=1 nobody/10.0.0.2=1 ");
	cr_assert_eq(store_lockout_clear(s, "nobody", NULL, &n), STORE_OK);
	cr_assert_eq(n, 2);
}

Test(store, known_sources_remember_logins_of_existing_users_only)
{
	int64_t u = fx_user(s, "alice", 0);

	cr_assert_eq(store_known_has(s, "alice", "d:00ff", T0), STORE_NOTFOUND);
	cr_assert_eq(store_known_add(s, "alice", "d:00ff", T0), STORE_OK);
	cr_assert_eq(store_known_add(s, "ghost", "d:00ff", T0), STORE_OK, "nothing for no user");
	cr_assert_eq(store_known_has(s, "alice", "d:00ff", T0), STORE_OK);
	cr_assert_eq(store_known_has(s, "alice", "d:00ff", T0 + 1), STORE_NOTFOUND, "too old");
	cr_assert_eq(store_known_add(s, "alice", "d:00ff", T0 + 5), STORE_OK, "refreshed");
	cr_assert_eq(store_known_has(s, "alice", "d:00ff", T0 + 1), STORE_OK);
	cr_assert_eq(store_known_has(s, "ghost", "d:00ff", 0), STORE_NOTFOUND);
	cr_assert_eq(store_user_del(s, u, T0, NULL, 0), STORE_OK);
	cr_assert_eq(store_known_has(s, "alice", "d:00ff", 0), STORE_NOTFOUND, "gone with the user");
}

static void
set_load(int64_t v, const char *probe, int mode, int cap_min)
{
	struct service_load l = { .cap_mode = mode, .cap_min = cap_min };
	char err[200];

	snprintf(l.probe, sizeof l.probe, "%s", probe);
	cr_assert_eq(store_service_set_load(s, v, &l, err, sizeof err), STORE_OK, "%s", err);
}

Test(store, a_down_service_refuses_new_rights_and_keeps_admitted_ones)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0);
	struct store_admission a;
	struct store_service svc;
	int64_t seq;

	set_load(v, "tcp://10.0.0.9:80", CAP_FIXED, 1);
	cr_assert_eq(admit(u1, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_DOWN, -1), STORE_OK);
	seq = last_seq();
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 1, &a), STORE_DENIED);
	cr_assert_eq(a.down, 1, "refused as down, not as full");
	cr_assert(strstr(store_error(s), "unavailable"), "%s", store_error(s));
	cr_assert_eq(last_seq(), seq, "a refusal writes nothing");
	cr_assert_eq(fx_live_rights(s, v), 1, "the admitted right stays");
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_eq(svc.health, HEALTH_DOWN);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, -1), STORE_OK);
	cr_assert_eq(admit(u2, v, "10.0.0.2", T0 + 2, &a), STORE_OK);
	cr_assert_eq(a.down, 0);
}

Test(store, admission_compares_against_the_effective_cap_and_never_evicts)
{
	int64_t v = fx_service(s, "lab", 4, 60, 10, root);
	int64_t u[4] = { fx_user(s, "u1", 0), fx_user(s, "u2", 0), fx_user(s, "u3", 0),
	                 fx_user(s, "u4", 0) };
	struct store_admission a;
	struct store_service svc;

	set_load(v, "http://10.0.0.9/health", CAP_ADAPTIVE, 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(admit(u[i], v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, 2), STORE_OK);
	cr_assert_eq(fx_live_rights(s, v), 3, "lowering the cap ends no right");
	cr_assert_eq(admit(u[3], v, "10.0.0.4", T0 + 1, &a), STORE_DENIED);
	cr_assert_eq(a.cap, 2, "the effective cap is what was compared");
	cr_assert_eq(a.down, 0);
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_eq(svc.cap_effective, 2);
	cr_assert_eq(svc.load.cap_mode, CAP_ADAPTIVE);
	cr_assert_eq(svc.load.interval_ms, 1000, "defaults filled");
	cr_assert_eq(svc.load.timeout_ms, 500);
	cr_assert_eq(svc.load.down_after, 3);
	cr_assert_eq(svc.load.up_after, 2);
	cr_assert_str_eq(svc.load.probe, "http://10.0.0.9/health");
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, 9), STORE_OK);
	cr_assert_eq(admit(u[3], v, "10.0.0.4", T0 + 2, &a), STORE_OK, "above cap: cap rules");
	cr_assert_eq(a.cap, 4);
	set_load(v, "", CAP_FIXED, 1);
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_eq(svc.cap_effective, -1, "a fixed cap clears the effective one");
}

/* Load settings l (case i) are refused with a reason. */
static void
load_refused(int64_t v, const struct service_load *l, size_t i)
{
	char err[200] = "";

	cr_assert_eq(store_service_set_load(s, v, l, err, sizeof err), STORE_INVALID, "case %zu", i);
	cr_assert_neq(err[0], '\0', "case %zu says why", i);
}

Test(store, service_load_settings_are_checked)
{
	int64_t v = fx_service(s, "lab", 4, 60, 10, root);
	struct { const char *probe; int mode, cap_min, timeout_ms; } bad[] = {
		{ "ftp://10.0.0.9/", CAP_FIXED, 1, 0 },
		{ "http://example.org/", CAP_FIXED, 1, 0 },      /* a literal address only */
		{ "tcp://10.0.0.9", CAP_FIXED, 1, 0 },           /* tcp needs a port */
		{ "http://10.0.0.9/a b", CAP_FIXED, 1, 0 },
		{ "", CAP_ADAPTIVE, 1, 0 },                      /* adaptive needs a probe */
		{ "tcp://10.0.0.9:80", CAP_ADAPTIVE, 5, 0 },     /* cap_min above cap */
		{ "tcp://10.0.0.9:80", 7, 1, 0 },
		{ "tcp://10.0.0.9:80", CAP_FIXED, 1, 5 },        /* timeout below its minimum */
	};
	struct store_service svc;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct service_load l = { .cap_mode = bad[i].mode, .cap_min = bad[i].cap_min,
		                          .timeout_ms = bad[i].timeout_ms };
		snprintf(l.probe, sizeof l.probe, "%s", bad[i].probe);
		load_refused(v, &l, i);
	}
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_str_eq(svc.load.probe, "", "nothing was written");
	cr_assert_eq(store_service_set_health(s, v, 7, -1), STORE_INVALID);
	cr_assert_eq(store_service_set_health(s, 999999, HEALTH_DOWN, -1), STORE_NOTFOUND);
}

Test(store, a_gauge_is_stored_with_the_load_settings_and_checked)
{
	int64_t v = fx_service(s, "lab", 4, 60, 10, root);
	struct { const char *url, *metric; double target; } bad[] = {
		{ "tcp://10.0.0.9:9100", "m", 1 },               /* a gauge is read over http */
		{ "http://example.org/metrics", "m", 1 },         /* a literal address only */
		{ "http://10.0.0.9/metrics", "", 1 },             /* a URL needs a metric */
		{ "http://10.0.0.9/metrics", "m{a=1}", 1 },       /* label values are quoted */
		{ "http://10.0.0.9/metrics", "m", 0 },            /* ... and a target above 0 */
		{ "http://10.0.0.9/metrics", "m", -3 },
		{ "http://10.0.0.9/metrics", "m", 0.0004 },       /* below a thousandth */
		{ "", "m", 1 },                                   /* a metric needs a URL */
	};
	struct service_load l = { .cap_mode = CAP_ADAPTIVE, .cap_min = 1 };
	struct store_service svc;
	char err[200];

	snprintf(l.probe, sizeof l.probe, "%s", "tcp://10.0.0.9:80");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(l.gauge_url, sizeof l.gauge_url, "%s", bad[i].url);
		snprintf(l.gauge_metric, sizeof l.gauge_metric, "%s", bad[i].metric);
		l.gauge_target = bad[i].target;
		load_refused(v, &l, i);
	}
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_str_eq(svc.load.probe, "", "nothing was written");
	snprintf(l.gauge_url, sizeof l.gauge_url, "%s", "http://10.0.0.9:9100/metrics");
	snprintf(l.gauge_metric, sizeof l.gauge_metric, "%s", "busy{pool=\"web\"}");
	l.gauge_target = 12.5;
	cr_assert_eq(store_service_set_load(s, v, &l, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_str_eq(svc.load.gauge_url, "http://10.0.0.9:9100/metrics");
	cr_assert_str_eq(svc.load.gauge_metric, "busy{pool=\"web\"}");
	cr_assert_float_eq(svc.load.gauge_target, 12.5, 1e-9);
	/* Cleared together. */
	memset(l.gauge_url, 0, sizeof l.gauge_url);
	memset(l.gauge_metric, 0, sizeof l.gauge_metric);
	l.gauge_target = 0;
	cr_assert_eq(store_service_set_load(s, v, &l, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_str_eq(svc.load.gauge_url, "");
	cr_assert_float_eq(svc.load.gauge_target, 0, 1e-9);
}

Test(store, a_lease_has_one_holder_until_it_expires)
{
	int held;

	cr_assert_eq(store_lease_take(s, "prober", "gw1:10", 1000, 5000, &held), STORE_OK);
	cr_assert_eq(held, 1, "a free lease is taken");
	cr_assert_eq(store_lease_take(s, "prober", "gw2:20", 2000, 5000, &held), STORE_OK);
	cr_assert_eq(held, 0, "another holder waits");
	cr_assert_eq(store_lease_take(s, "prober", "gw1:10", 5000, 5000, &held), STORE_OK);
	cr_assert_eq(held, 1, "the holder renews");
	cr_assert_eq(store_lease_take(s, "prober", "gw2:20", 9999, 5000, &held), STORE_OK);
	cr_assert_eq(held, 0, "still held until 10000");
	cr_assert_eq(store_lease_take(s, "prober", "gw2:20", 10000, 5000, &held), STORE_OK);
	cr_assert_eq(held, 1, "taken over once expired");
	cr_assert_eq(store_lease_take(s, "prober", "gw1:10", 10001, 5000, &held), STORE_OK);
	cr_assert_eq(held, 0, "the old holder lost it");
	cr_assert_eq(store_lease_take(s, "other", "gw1:10", 10001, 5000, &held), STORE_OK);
	cr_assert_eq(held, 1, "leases are independent");
	cr_assert_eq(store_lease_take(s, "prober", "", 1, 5000, &held), STORE_INVALID);
}

/*
 * Every operation of struct store_ops is implemented (only wait may be left
 * out): a new operation added for one backend fails here for the others
 * instead of calling a null pointer in production.
 */
Test(store, the_backend_implements_every_operation)
{
	typedef void (*op_fn)(void);
	struct store_ops ops = *s->ops;
	size_t n = sizeof ops / sizeof(op_fn);
	op_fn f;

	cr_assert_eq(sizeof ops % sizeof(op_fn), 0);
	ops.wait = (int (*)(struct store *, int, int *))(void (*)(void))store_close;
	for (size_t i = 0; i < n; i++) {
		memcpy(&f, (const char *)&ops + i * sizeof f, sizeof f);
		cr_assert_not_null(f, "%s backend: operation %zu of struct store_ops is missing",
		                   contract_backend.name, i);
	}
}

/*
 * ipfd opens nothing for a right the store does not vouch for (its user and
 * service exist and are enabled): every backend says so on each read.
 * tests/unit/test_store_access.c forges rows on SQLite.
 */
Test(store, a_right_is_vouched_for_while_its_user_and_service_are_enabled)
{
	int64_t u = fx_user(s, "alice", ROLE_USER);
	int64_t v = fx_service(s, "lab", 3, 90, 15, root);
	struct store_admission a;
	struct store_right r;
	char err[256];

	cr_assert_eq(admit(u, v, "10.0.0.2", T0, &a), STORE_OK);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.vouched, 1, "%s backend", contract_backend.name);
	cr_assert_eq(store_user_set_disabled(s, u, 1, T0 + 1, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_right_get(s, a.right.id, &r), STORE_OK);
	cr_assert_eq(r.vouched, 0, "%s backend", contract_backend.name);
}
