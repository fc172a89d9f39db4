/*
 * sekishoctl store copy's engine (common/store_copy.c): an installation made
 * through the store API on SQLite reads back the same, table by table,
 * through the same API on PostgreSQL (a private cluster, pgcluster.c), under
 * the same ids; the target's identities go on past them; the copy is one
 * transaction (a failure part-way leaves nothing), refuses a non-empty target
 * unless told to replace it, never writes the source, and leaves a change log
 * from which a follower's snapshot sees everything.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "fixture.h"
#include "pgcluster.h"
#include "store.h"
#include "store_copy.h"

#define T0 1700000000LL

ReportHook(PRE_ALL)(struct criterion_test_set *set) { (void)set; pgc_hook_start(); }
ReportHook(POST_ALL)(struct criterion_global_stats *st) { (void)st; pgc_hook_stop(); }

static struct fx src_fx, dst_fx;
static struct store *src, *dst;

static void
setup(void)
{
	fx_init(&src_fx);
	fx_init_pg(&dst_fx);
	src = fx_open(&src_fx);
	dst = fx_open(&dst_fx);
}

static void
teardown(void)
{
	store_close(dst);
	store_close(src);
	fx_cleanup(&dst_fx);
	fx_cleanup(&src_fx);
}

TestSuite(copy, .init = setup, .fini = teardown);

/* ---- an installation with a row in every table the copy moves ---- */

static void
ok(int rc, const char *what)
{
	cr_assert_eq(rc, STORE_OK, "%s: %s (%s)", what, store_rc_str(rc), store_error(src));
}

static void
fill_people(struct store *s, int64_t *alice, int64_t *admin)
{
	int64_t root, gone, bob, carol, staff;
	char err[256];

	root = fx_user(s, "root", ROLE_ROOT);
	(void)root;
	gone = fx_user(s, "gone", ROLE_USER);          /* deleted: ids keep their gap */
	*admin = fx_user(s, "admin", ROLE_ADMIN);
	*alice = fx_user(s, "alice", ROLE_USER);
	bob = fx_user(s, "bob", ROLE_USER);
	ok(store_user_set_password(s, *alice, "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"),
	   "password");
	ok(store_user_set_disabled(s, bob, 1, T0, err, sizeof err), "disable");
	ok(store_user_add_external(s, "carol", SOURCE_LDAP, T0, &carol, err, sizeof err), "ldap");
	ok(store_user_del(s, gone, T0, err, sizeof err), "del");
	ok(store_group_add(s, "staff", T0, &staff, err, sizeof err), "group");
	ok(store_group_member(s, staff, *alice, 1, err, sizeof err), "member");
	ok(store_group_member(s, staff, carol, 1, err, sizeof err), "member");
}

static int64_t
fill_services(struct store *s, int64_t admin, int64_t alice)
{
	struct service_load load = { .probe = "http://192.0.2.20:8080/health", .interval_ms = 2000,
	                             .timeout_ms = 300, .down_after = 4, .up_after = 3,
	                             .cap_mode = CAP_ADAPTIVE, .cap_min = 2, .target_ms = 150 };
	struct store_group g;
	char err[256];
	int64_t web, db, tmp;

	tmp = fx_service(s, "tmp", 1, 60, 10, admin);
	web = fx_service(s, "web", 5, 60, 10, admin);
	db = fx_service(s, "db", 1, 30, 5, admin);
	ok(store_service_del(s, tmp, T0, err, sizeof err), "service del");
	ok(store_service_set_load(s, web, &load, err, sizeof err), "load");
	ok(store_service_set_health(s, web, 0, 3), "health");
	/* Rate 3: fill_rights makes three new admissions to web, so its minute is spent. */
	ok(store_service_set_queue(s, web, &(struct service_queue){ QUEUE_ON, 7, 120, 3 }, err,
	                           sizeof err), "queue settings");
	ok(store_acl_restrict(s, db, 1, err, sizeof err), "restrict");
	ok(store_group_get(s, "staff", 0, &g), "group get");
	ok(store_acl_entry(s, db, ACL_GROUP, g.id, 1, err, sizeof err), "acl group");
	ok(store_acl_entry(s, db, ACL_USER, alice, 1, err, sizeof err), "acl user");
	return web;
}

static void
fill_keys(struct store *s)
{
	struct store_key k = { .kid = 7, .created_at = T0, .activates_at = T0,
	                       .expires_at = T0 + 86400 };
	int added;

	for (int i = 0; i < KEY_SECRET_LEN; i++)
		k.secret[i] = (uint8_t)(i * 7 + 1);
	ok(store_key_add(s, &k), "key");
	k.kid = 9;
	k.secret[0] = 0;
	k.activates_at = T0 + 3600;
	ok(store_key_add(s, &k), "key 2");
	k.kid = 3;
	ok(store_tls_key_add(s, &k, 0, &added), "tls key");
}

static void
fill_rights(struct store *s, int64_t web, int64_t alice, int64_t admin)
{
	struct store_queue_rules rules = { .lapse_s = 600, .max = 10, .window_s = 60 };
	struct store_admission a;
	struct store_place pl;
	struct store_service db;
	struct addr ip = fx_ip("2001:db8::5");
	int64_t r_admin, r_db;

	ok(fx_admit(s, alice, web, "198.51.100.7", T0, &a), "admit alice");
	ok(store_code_put(s, "c0de", a.right.id, T0 + 30), "code");
	ok(fx_admit(s, admin, web, "198.51.100.8", T0, &a), "admit admin");
	r_admin = a.right.id;
	ok(store_end(s, r_admin, END_LOGOUT, T0 + 5, NULL), "end");
	ok(fx_admit(s, admin, web, "198.51.100.9", T0 + 6, &a), "admit admin again");
	ok(store_service_get(s, "db", &db), "db");
	ok(store_admit(s, alice, db.id, &ip, T0, &a), "admit alice to db");
	r_db = a.right.id;
	cr_assert_eq(store_queue_admit(s, admin, db.id, &ip, T0 + 1, &rules, &a, &pl),
	             STORE_QUEUED);
	/* A slot frees and a grant takes it: the admin's place keeps a turn (turn_at). */
	ok(store_end(s, r_db, END_LOGOUT, T0 + 2, NULL), "end alice on db");
	ok(store_admit(s, alice, db.id, &ip, T0 + 3, &a), "grant alice db again");
	ok(store_login_put(s, "beef", admin, "csrf-token-1", T0, T0 + 3600), "login");
}

static void
fill_rest(struct store *s)
{
	ok(store_lockout_fail(s, "mallory", "203.0.113.9", T0, 0), "lockout");
	ok(store_known_add(s, "alice", "198.51.100.7", T0), "known");
	char detail[16];

	for (int i = 0; i < 5; i++) {
		snprintf(detail, sizeof detail, "n=%d", i);
		ok(store_audit(s, T0 + i, "sekishoctl", "note", "web", "alice", detail), "audit");
	}
}

static int64_t
fill(struct store *s)
{
	int64_t alice, admin, web;

	fill_people(s, &alice, &admin);
	web = fill_services(s, admin, alice);
	fill_keys(s);
	fill_rights(s, web, alice, admin);
	fill_rest(s);
	return alice;
}

/* ---- the whole store as text, read through the store API ---- */

static int
dump_user(const struct store_user *u, void *arg)
{
	fprintf(arg, "user %lld %s role=%d hash=%s disabled=%d at=%lld source=%d\n",
	        (long long)u->id, u->name, u->role, u->pwhash, u->disabled,
	        (long long)u->created_at, u->source);
	return 0;
}

static int
dump_acl(const struct store_acl_entry *e, void *arg)
{
	fprintf(arg, "  acl kind=%d id=%lld %s\n", e->kind, (long long)e->id, e->name);
	return 0;
}

struct dump {
	FILE *f;
	struct store *s;
};

static int
dump_service(const struct store_service *v, void *arg)
{
	struct store_qplace places[4];
	struct dump *d = arg;
	const struct service_load *l = &v->load;
	char ip[64];
	int restricted, n;
	int64_t oldest;

	fprintf(d->f, "service %lld %s %s %s usage=%d interval=%d cap=%d admin=%lld/%s "
	        "enabled=%d active=%d at=%lld/%lld health=%d eff=%d\n", (long long)v->id, v->name,
	        v->url, v->entry_url, v->max_usage_min, v->max_interval_min, v->cap,
	        (long long)v->admin_id, v->admin_name, v->enabled, v->active,
	        (long long)v->created_at, (long long)v->updated_at, v->health, v->cap_effective);
	fprintf(d->f, "  load %s %d %d %d %d mode=%d min=%d target=%d\n", l->probe, l->interval_ms,
	        l->timeout_ms, l->down_after, l->up_after, l->cap_mode, l->cap_min, l->target_ms);
	fprintf(d->f, "  queue mode=%d max=%d lapse=%d rate=%d\n", v->queue.mode, v->queue.max,
	        v->queue.lapse_s, v->queue.rate_per_min);
	for (int i = 0; i < v->n_guards; i++) {
		addr_str(&v->guards[i].addr, ip, sizeof ip);
		fprintf(d->f, "  guard %s %u\n", ip, v->guards[i].port);
	}
	cr_assert_eq(store_acl_list(d->s, v->id, &restricted, dump_acl, d->f), STORE_OK);
	cr_assert_eq(store_queue_len(d->s, v->id, &n, &oldest), STORE_OK);
	fprintf(d->f, "  restricted=%d queue=%d oldest=%lld\n", restricted, n, (long long)oldest);
	cr_assert_eq(store_queue_places(d->s, v->id, places, 4, &n), STORE_OK);
	for (int i = 0; i < n; i++)
		fprintf(d->f, "  place %lld joined=%lld poll=%lld turn_at=%lld\n",
		        (long long)places[i].user_id, (long long)places[i].joined_at,
		        (long long)places[i].last_poll, (long long)places[i].turn_at);
	return 0;
}

static int
dump_right(const struct store_right *r, void *arg)
{
	char ip[64];

	addr_str(&r->ip, ip, sizeof ip);
	fprintf(arg, "right %lld %s user=%lld/%s service=%lld/%s ip=%s at=%lld exp=%lld seen=%lld "
	        "ended=%lld/%d vouched=%d\n", (long long)r->id, r->sid, (long long)r->user_id,
	        r->user_name, (long long)r->service_id, r->service_name, ip,
	        (long long)r->created_at, (long long)r->expires_at, (long long)r->last_seen,
	        (long long)r->ended_at, r->end_reason, r->vouched);
	return 0;
}

static int
dump_group(const struct store_group *g, void *arg)
{
	struct dump *d = arg;

	fprintf(d->f, "group %lld %s members=%d at=%lld\n", (long long)g->id, g->name, g->members,
	        (long long)g->created_at);
	cr_assert_eq(store_group_members(d->s, g->id, dump_user, d->f), STORE_OK);
	return 0;
}

static void
dump_keys(FILE *f, struct store *s, int tls)
{
	struct store_key k[KEYRING_MAX];
	int n;

	cr_assert_eq((tls ? store_tls_key_list : store_key_list)(s, T0, k, KEYRING_MAX, &n), STORE_OK);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%skey %u at=%lld/%lld/%lld ", tls ? "tls " : "", k[i].kid,
		        (long long)k[i].created_at, (long long)k[i].activates_at,
		        (long long)k[i].expires_at);
		for (int j = 0; j < KEY_SECRET_LEN; j++)
			fprintf(f, "%02x", k[i].secret[j]);
		fputc('\n', f);
	}
}

static int
dump_lockout(const struct store_lockout *l, void *arg)
{
	fprintf(arg, "lockout %s %s %d %lld\n", l->name, l->source, l->failures,
	        (long long)l->last_at);
	return 0;
}

static int
dump_audit(const struct store_audit *a, void *arg)
{
	if (strcmp(a->action, "store.copy") != 0)
		fprintf(arg, "audit %lld at=%lld %s %s %s %s %s\n", (long long)a->id, (long long)a->at,
		        a->actor, a->action, a->service, a->target, a->detail);
	return 0;
}

static void
dump_logins(FILE *f, struct store *s)
{
	struct store_login l;

	cr_assert_eq(store_login_get(s, "beef", T0 + 1, 0, &l), STORE_OK);
	fprintf(f, "login user=%lld/%s role=%d csrf=%s at=%lld/%lld\n", (long long)l.user_id,
	        l.user_name, l.role, l.csrf, (long long)l.created_at, (long long)l.expires_at);
	fprintf(f, "known %d %d\n", store_known_has(s, "alice", "198.51.100.7", T0 - 1),
	        store_known_has(s, "alice", "198.51.100.6", T0 - 1));
}

/* Everything the store API can say about s, as text (malloc'ed). */
static char *
dump(struct store *s)
{
	struct store_audit_filter af = { .limit = 1000 };
	struct dump d = { .s = s };
	char *text = NULL;
	size_t len = 0;

	d.f = open_memstream(&text, &len);
	cr_assert_not_null(d.f);
	cr_assert_eq(store_user_list(s, dump_user, d.f), STORE_OK);
	cr_assert_eq(store_group_list(s, 0, dump_group, &d), STORE_OK);
	cr_assert_eq(store_service_list(s, 0, dump_service, &d), STORE_OK);
	cr_assert_eq(store_right_list(s, 0, 0, dump_right, d.f), STORE_OK);
	for (int64_t id = 1; id <= 5; id++) {
		struct store_right r;

		if (store_right_get(s, id, &r) == STORE_OK)
			dump_right(&r, d.f);
	}
	dump_keys(d.f, s, 0);
	dump_keys(d.f, s, 1);
	dump_logins(d.f, s);
	cr_assert_eq(store_lockout_list(s, NULL, dump_lockout, d.f), STORE_OK);
	cr_assert_eq(store_audit_list(s, &af, dump_audit, d.f), STORE_OK);
	fclose(d.f);
	return text;
}

static int
copy(int replace, char *err, size_t n)
{
	return store_copy(src, src_fx.db.path, dst, replace, "tester", T0 + 100, NULL, err, n);
}

/* ---- the tests ---- */

Test(copy, every_table_reads_back_the_same_through_the_store_api)
{
	char err[512] = "", *before, *after;
	struct store_copy_report r;

	fill(src);
	before = dump(src);
	cr_assert_eq(store_copy(src, src_fx.db.path, dst, 0, "tester", T0 + 100, &r, err,
	                        sizeof err), STORE_OK, "%s", err);
	after = dump(dst);
	cr_assert_str_eq(after, before);
	cr_assert(strstr(before, "right ") && strstr(before, "acl kind=2") &&
	          strstr(before, "queue=1") && strstr(before, "turn_at=1700000003") &&
	          strstr(before, "tls key 3") &&
	          strstr(before, "source=2") && strstr(before, "lockout mallory"),
	          "the fixture lacks a table: %s", before);
	cr_assert_eq(r.n, STORE_COPY_TABLES);
	free(before);
	free(after);
}

/* The admission rate's last minute moves with the store: web's is spent on both sides. */
Test(copy, the_admission_rate_window_is_copied)
{
	char err[512] = "";
	struct store_copy_report r;
	struct store_admission a;
	struct store_service web;
	int64_t newbie;

	fill(src);
	cr_assert_eq(store_copy(src, src_fx.db.path, dst, 0, "tester", T0 + 100, &r, err,
	                        sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_service_get(dst, "web", &web), STORE_OK);
	cr_assert_eq(web.queue.rate_per_min, 3);
	newbie = fx_user(dst, "newbie", ROLE_USER);
	cr_assert_eq(fx_admit(dst, newbie, web.id, "198.51.100.30", T0 + 10, &a), STORE_DENIED);
	cr_assert_eq(a.rate, 1, "refused for the rate the source had spent");
	cr_assert_eq(a.rate_next, T0 + 60);
	cr_assert_eq(fx_admit(dst, newbie, web.id, "198.51.100.30", T0 + 60, &a), STORE_OK);
}

static int
newest_audit(const struct store_audit *a, void *arg)
{
	*(struct store_audit *)arg = *a;
	return 1;
}

Test(copy, the_move_is_audited_last_and_new_rows_get_new_ids)
{
	struct store_audit_filter af = { .limit = 1 };
	struct store_audit a;
	struct store_user u;
	char err[512] = "";
	int64_t id, alice;

	alice = fill(src);
	cr_assert_eq(copy(0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_audit_list(dst, &af, newest_audit, &a), STORE_OK);
	cr_assert_str_eq(a.action, "store.copy");
	cr_assert_str_eq(a.actor, "sekishoctl");
	cr_assert(strstr(a.detail, "by=tester") && strstr(a.detail, src_fx.db.path) &&
	          strstr(a.detail, "users=5") && strstr(a.detail, "rights=5"), "%s", a.detail);
	cr_assert_eq(store_user_add(dst, "dave", ROLE_USER, "x", T0, &id, err, sizeof err),
	             STORE_OK, "%s", err);
	cr_assert_gt(id, alice + 2);
	cr_assert_eq(store_user_get(dst, "alice", &u), STORE_OK);
	cr_assert_eq(u.id, alice);
}

/*
 * SQLite never hands out an id again (AUTOINCREMENT), not even that of the
 * newest row once deleted: ended rights and the audit keep naming it. The
 * target goes on past it, not past the largest id left.
 */
Test(copy, the_id_of_a_deleted_newest_user_or_service_is_not_handed_out_again)
{
	char err[512] = "";
	int64_t admin, gone_user, gone_svc, id;

	fill(src);
	admin = fx_user(src, "admin2", ROLE_ADMIN);
	gone_user = fx_user(src, "newest", ROLE_USER);
	gone_svc = fx_service(src, "newest", 1, 60, 10, admin);
	ok(store_service_del(src, gone_svc, T0, err, sizeof err), "service del");
	ok(store_user_del(src, gone_user, T0, err, sizeof err), "user del");
	cr_assert_eq(copy(0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_user_add(dst, "dave", ROLE_USER, "x", T0, &id, err, sizeof err),
	             STORE_OK, "%s", err);
	cr_assert_gt(id, gone_user, "user id %lld handed out again", (long long)id);
	id = fx_service(dst, "svc2", 1, 60, 10, admin);
	cr_assert_gt(id, gone_svc, "service id %lld handed out again", (long long)id);
}

struct counts {
	int services, rights;
};

static int
count_right(const struct store_right *r, void *arg)
{
	(void)r;
	((struct counts *)arg)->rights++;
	return 0;
}

static int
count_service(const struct store_service *v, void *arg)
{
	(void)v;
	((struct counts *)arg)->services++;
	return 0;
}

Test(copy, a_follower_snapshot_after_the_move_sees_every_live_right)
{
	struct counts n = { 0, 0 };
	struct store_right r;
	struct addr ip = fx_ip("198.51.100.7");
	char err[512] = "";
	int64_t seq = 0;

	fill(src);
	cr_assert_eq(copy(0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(store_snapshot(dst, T0 + 1, count_service, count_right, &n, &seq), STORE_OK);
	cr_assert_gt(seq, 0, "the copy wrote no change log");
	cr_assert_eq(n.services, 2);
	cr_assert_eq(n.rights, 3);
	cr_assert_eq(fx_active(dst, 2), 2);
	cr_assert_eq(fx_live_rights(dst, 2), 2);
	cr_assert_eq(store_code_take(dst, "c0de", &ip, "web", T0 + 1, &r), STORE_OK);
	cr_assert_str_eq(r.user_name, "alice");
}

Test(copy, a_target_with_rows_is_refused_unless_replaced)
{
	char err[512] = "", *before, *after;

	fill(src);
	cr_assert_eq(copy(0, err, sizeof err), STORE_OK, "%s", err);
	err[0] = '\0';
	cr_assert_eq(copy(0, err, sizeof err), STORE_EXISTS);
	cr_assert(strstr(err, "not empty") && strstr(err, "users"), "%s", err);
	before = dump(src);
	cr_assert_eq(copy(1, err, sizeof err), STORE_OK, "%s", err);
	after = dump(dst);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

/* A raw connection to the target, to break it the way no store call would. */
static void
target_sql(const char *text)
{
	PGconn *c = PQconnectdb(dst_fx.db.url);
	PGresult *r;

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, text);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", text, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

Test(copy, a_failure_part_way_leaves_the_target_empty)
{
	struct store_stats st;
	char err[512] = "";

	fill(src);
	target_sql("CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS "
	           "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;"
	           "CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW "
	           "EXECUTE FUNCTION no_audit()");
	cr_assert_neq(copy(0, err, sizeof err), STORE_OK);
	cr_assert(strstr(err, "audit refused"), "%s", err);
	cr_assert_eq(store_stats(dst, &st), STORE_OK);
	cr_assert_eq(st.users, 0);
	cr_assert_eq(st.services, 0);
	cr_assert_eq(st.live_rights, 0);
}

Test(copy, a_target_lacking_a_column_of_the_source_takes_nothing)
{
	struct store_stats st;
	char err[512] = "";

	fill(src);
	target_sql("ALTER TABLE audit DROP COLUMN detail");
	cr_assert_neq(copy(0, err, sizeof err), STORE_OK);
	cr_assert(strstr(err, "detail"), "%s", err);
	cr_assert_eq(store_stats(dst, &st), STORE_OK);
	cr_assert_eq(st.users, 0);
	cr_assert_eq(st.live_rights, 0);
}

/* A raw connection to the source file, to make it what no store call would. */
static void
source_sql(const char *text)
{
	sqlite3 *db;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(src_fx.db.path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, text, NULL, NULL, &msg), SQLITE_OK, "%s: %s", text,
	             msg ? msg : "?");
	sqlite3_close(db);
}

static void
target_untouched(void)
{
	struct store_stats st;

	cr_assert_eq(store_stats(dst, &st), STORE_OK, "%s", store_error(dst));
	cr_assert_eq(st.users, 0);
	cr_assert_eq(st.services, 0);
	cr_assert_eq(st.live_rights, 0);
}

/*
 * Column names come from the source file and are written into the target's
 * SQL: one that is not [a-z0-9_] (here one that would end the column list
 * and drop a table) is refused before anything reaches the target.
 */
Test(copy, a_source_column_named_to_inject_sql_is_refused)
{
	char err[512] = "";

	fill(src);
	source_sql("ALTER TABLE audit ADD COLUMN \"at) VALUES (1); DROP TABLE users; --\" TEXT");
	cr_assert_eq(copy(0, err, sizeof err), STORE_INVALID, "%s", err);
	cr_assert(strstr(err, "audit") && strstr(err, "named unlike"), "%s", err);
	target_untouched();
}

Test(copy, a_source_with_a_table_the_copy_does_not_know_is_refused)
{
	char err[512] = "";

	fill(src);
	source_sql("CREATE TABLE \"x; DROP TABLE users\" (a)");
	cr_assert_eq(copy(0, err, sizeof err), STORE_INVALID, "%s", err);
	cr_assert(strstr(err, "does not know"), "%s", err);
	target_untouched();
}

/*
 * PostgreSQL's text holds no NUL byte: a text the source holds with one
 * would arrive cut at it, so the copy refuses it (and does not echo it: it
 * may be a password hash).
 */
Test(copy, a_source_text_with_a_nul_byte_is_refused_not_cut)
{
	char err[512] = "";

	fill(src);
	source_sql("UPDATE users SET pwhash = CAST(X'2461726700736563726574' AS TEXT) "
	           "WHERE name = 'alice'");
	cr_assert_eq(copy(0, err, sizeof err), STORE_INVALID, "%s", err);
	cr_assert(strstr(err, "users") && strstr(err, "pwhash") && strstr(err, "NUL"), "%s",
	          err);
	cr_assert_null(strstr(err, "secret"), "%s", err);
	target_untouched();
}

Test(copy, the_source_is_never_written)
{
	struct stat a, b;
	char err[512] = "", *before, *after;
	struct store *ro;

	fill(src);
	before = dump(src);
	store_close(src);
	ro = store_open(&src_fx.db, STORE_OPEN_READONLY, err, sizeof err);
	cr_assert_not_null(ro, "%s", err);
	src = ro;
	cr_assert_eq(stat(src_fx.db.path, &a), 0);
	cr_assert_eq(copy(0, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(stat(src_fx.db.path, &b), 0);
	cr_assert_eq(a.st_mtime, b.st_mtime);
	cr_assert_eq(a.st_size, b.st_size);
	after = dump(src);
	cr_assert_str_eq(after, before);
	free(before);
	free(after);
}

Test(copy, a_postgresql_source_or_a_sqlite_target_is_refused)
{
	char err[512] = "";

	cr_assert_eq(store_copy(dst, "x", dst, 0, "t", T0, NULL, err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "not a SQLite store"), "%s", err);
	cr_assert_eq(store_copy(src, "x", src, 0, "t", T0, NULL, err, sizeof err), STORE_INVALID);
	cr_assert(strstr(err, "not a PostgreSQL store"), "%s", err);
}
