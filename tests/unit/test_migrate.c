#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "migrate.h"
#include "store.h"
#include "store_int.h"

/*
 * A database written by a build at schema 1 (the table "sessions", audit rows
 * under sekishoctl's old names), brought up to this build's schema.
 */

static struct fx fx;

/* One integer from sql on the fixture's file, read with the sqlite3 library itself. */
static long long
sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	cr_assert_eq(sqlite3_open(fx.db.path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

struct v1 { int64_t admin, bob, carol, svc, live, ended; };

static void
sql_exec(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(fx.db.path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg);
	sqlite3_close(db);
}

/*
 * Schema 1 with a live and an ended right, an entry code and audit rows under
 * the old names, all written with the SQL a schema-1 build ran (later schemas
 * add columns to users and services, so this build's store cannot write them).
 */
static void
write_schema_1(struct v1 *w)
{
	struct store *s;

	store_set_migrations(migrations, 1);
	s = fx_open(&fx);
	cr_assert_eq(store_version(s), 1);
	store_close(s);
	store_set_migrations(NULL, 0);
	w->admin = 1, w->bob = 2, w->carol = 3, w->svc = 1;
	sql_exec("INSERT INTO users (name, role, pwhash, created_at) VALUES "
	         "('ops', 1, '$test$placeholder', 1), ('bob', 0, '$test$placeholder', 1), "
	         "('carol', 0, '$test$placeholder', 1);"
	         "INSERT INTO services (name, url, max_usage_min, max_interval_min, cap, admin_id, "
	         "created_at, updated_at) VALUES ('lab', 'http://lab.example/', 60, 30, 5, 1, 1, 1);");
	sql_exec("INSERT INTO sessions (sid, user_id, user_name, service_id, service_name, ip, "
	         "created_at, expires_at, last_seen, ended_at, end_reason) VALUES "
	         "('00000000000000000000000000000001', 3, 'carol', 1, 'lab', x'0a000009', "
	         "1000, 4600, 1000, NULL, 0);"
	         "UPDATE sessions SET ended_at = 1001, end_reason = 5 WHERE id = 1;"
	         "INSERT INTO sessions (sid, user_id, user_name, service_id, service_name, ip, "
	         "created_at, expires_at, last_seen) VALUES "
	         "('00000000000000000000000000000002', 2, 'bob', 1, 'lab', x'0a000009', "
	         "strftime('%s','now'), strftime('%s','now') + 3600, strftime('%s','now'));"
	         "INSERT INTO entry_codes (code_hash, right_id, expires_at) "
	         "VALUES ('c0de', 2, strftime('%s','now') + 60);"
	         "INSERT INTO audit (at, actor, action, service, target, detail) VALUES "
	         "(1001, 'sekishoctl', 'session.revoke', 'lab', 'carol', 'by=root right=1 ip=10.0.0.9'),"
	         "(1002, 'sekishoctl', 'grant', 'lab', 'bob', 'by=root right=2 ip=10.0.0.9 replaced=0'),"
	         "(1003, 'sekishoctl', 'grant.rollback', 'lab', 'bob', 'by=root right=3'),"
	         "(1004, 'sekishoctl', 'user.disable', '', 'carol', 'by=root rights_ended=0'),"
	         "(1005, 'ops', 'right.revoke', 'lab', 'carol', 'right=1');");
	w->ended = 1;
	w->live = 2;
	cr_assert_eq(sql_int("SELECT active FROM services WHERE id = 1"), 1);
}

Test(migrate, schema_1_refused_until_migrated_then_the_table_is_rights)
{
	struct store *s;
	char err[256] = "";
	struct v1 w;

	fx_init(&fx);
	write_schema_1(&w);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err), "an old schema is not used as is");
	cr_assert(strstr(err, "sekishoctl migrate") != NULL, "%s", err);
	cr_assert_not_null(s = store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err), "%s", err);
	cr_assert_eq(store_version(s), store_schema_version());
	store_close(s);

	cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'sessions'"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE name LIKE 'sessions%'"), 0,
	             "no index or trigger keeps the old name");
	cr_assert_eq(sql_int("SELECT count(*) FROM rights"), 2, "both rights moved");
	cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
	                     "AND name LIKE 'rights_%'"), 3);
	cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
	                     "AND name LIKE 'rights_%'"), 5);
	cr_assert_eq(sql_int("SELECT count(*) FROM pragma_foreign_key_list('entry_codes') "
	                     "WHERE \"table\" = 'rights'"), 1, "entry codes still point at the rights");
	fx_cleanup(&fx);
}

Test(migrate, rights_keep_working_after_the_rename)
{
	struct store_admission a;
	struct store_right r;
	struct store_service svc;
	struct addr ip = fx_ip("10.0.0.7");
	struct store *s;
	char err[256];
	struct v1 w;

	fx_init(&fx);
	write_schema_1(&w);
	cr_assert_not_null(s = store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err), "%s", err);
	cr_assert_eq(store_right_get(s, w.live, &r), STORE_OK);
	cr_assert_str_eq(r.user_name, "bob");
	cr_assert_eq(r.ended_at, 0);
	cr_assert_eq(store_right_get(s, w.ended, &r), STORE_OK);
	cr_assert_eq(r.end_reason, END_REVOKED);
	cr_assert_eq(store_service_get_id(s, w.svc, &svc), STORE_OK);
	cr_assert_eq(svc.active, 1, "the live count survives");
	cr_assert_eq(store_admit(s, w.carol, w.svc, &ip, time(NULL), &a), STORE_OK, "%s",
	             store_error(s));
	cr_assert_eq(store_service_get_id(s, w.svc, &svc), STORE_OK);
	cr_assert_eq(svc.active, 2, "the admit trigger counts under its new name");
	cr_assert_eq(store_end(s, a.right.id, END_LOGOUT, time(NULL), NULL), STORE_OK);
	cr_assert_eq(store_service_get_id(s, w.svc, &svc), STORE_OK);
	cr_assert_eq(svc.active, 1, "the end trigger counts under its new name");
	cr_assert_eq(store_right_get(s, w.live, &r), STORE_OK);
	ip = r.ip;
	cr_assert_eq(store_code_take(s, "c0de", &ip, svc.name, time(NULL), &r), STORE_OK,
	             "a code from before still works");
	cr_assert_eq(r.id, w.live);
	store_close(s);
	fx_cleanup(&fx);
}

struct audit_seen { char rows[8][AUDIT_TEXT_MAX + 64]; int n; };

static int
note_row(const struct store_audit *a, void *arg)
{
	struct audit_seen *seen = arg;

	if (seen->n < 8)
		snprintf(seen->rows[seen->n++], sizeof seen->rows[0], "%s|%s", a->action, a->detail);
	return 0;
}

Test(migrate, old_audit_rows_get_the_one_name_of_their_act)
{
	struct store_audit_filter f = { .limit = 10 };
	struct audit_seen seen = { .n = 0 };
	struct store *s;
	char err[256];
	struct v1 w;

	fx_init(&fx);
	write_schema_1(&w);
	cr_assert_not_null(s = store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err), "%s", err);
	cr_assert_eq(store_audit_list(s, &f, note_row, &seen), STORE_OK);
	store_close(s);
	cr_assert_eq(seen.n, 5);
	/* newest first */
	cr_assert_str_eq(seen.rows[0], "right.revoke|right=1", "a row already right is left alone");
	cr_assert_str_eq(seen.rows[1], "user.disable|by=root ended=0");
	cr_assert_str_eq(seen.rows[2], "deny|by=root right=3 reason=ipfd_unavailable");
	cr_assert_str_eq(seen.rows[3], "admit|by=root right=2 ip=10.0.0.9 replaced=0");
	cr_assert_str_eq(seen.rows[4], "right.revoke|by=root right=1 ip=10.0.0.9");
	fx_cleanup(&fx);
}
