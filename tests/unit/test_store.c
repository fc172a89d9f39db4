/*
 * What only the SQLite backend promises or needs: its file (mode, schema
 * version in user_version, refusing foreign files), write-ahead-log
 * maintenance and failing closed while another process holds the write lock.
 * The contract every backend keeps is tests/unit/store_contract.c, run on
 * SQLite by test_store_contract_sqlite.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "clock.h"
#include "fixture.h"
#include "migrate.h"
#include "store.h"
#include "store_int.h"

#define T0 1700000000LL          /* the tests' clock starts here */

static struct fx fx;
static struct store *s;
static int64_t root;

static void
setup(void)
{
	fx_init(&fx);
	s = fx_open(&fx);
	root = fx_user(s, "root", ROLE_ROOT);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(store, .init = setup, .fini = teardown);
TestSuite(open, .init = NULL, .fini = NULL);

static int
admit(int64_t user, int64_t service, const char *ip, int64_t now, struct store_admission *a)
{
	return fx_admit(s, user, service, ip, now, a);
}

/* Rewrites the schema version recorded in a database file, as another build would. */
static void
set_user_version(const char *path, int v)
{
	sqlite3 *db;
	char sql[64];

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

Test(open, fresh_db_gets_current_schema_version)
{
	struct store_stats st;
	struct stat sb;

	fx_init(&fx);
	s = fx_open(&fx);
	cr_assert_geq(store_schema_version(), 1);
	cr_assert_eq(store_version(s), store_schema_version());
	cr_assert_eq(store_stats(s, &st), STORE_OK);
	cr_assert_eq(st.schema_version, store_schema_version());
	cr_assert_eq(stat(fx.db.path, &sb), 0);
	cr_assert_eq(sb.st_mode & 07, 0, "the database must not be world-readable");
	store_close(s);
	fx_cleanup(&fx);
}

Test(open, newer_schema_is_refused_naming_both_versions)
{
	char err[256] = "", want[32], have[32];
	int v = store_schema_version();

	fx_init(&fx);
	store_close(fx_open(&fx));
	set_user_version(fx.db.path, v + 1);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err));
	snprintf(want, sizeof want, "%d", v);
	snprintf(have, sizeof have, "version %d", v + 1);
	cr_assert(strstr(err, have) && strstr(err, want) && strstr(err, "newer"), "%s", err);
	cr_assert_null(store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err), "no downgrade");
	fx_cleanup(&fx);
}

Test(open, older_schema_is_refused_without_migrate_and_migrated_with_it)
{
	static struct migration next[64];
	int last = migrations[n_migrations - 1].version;
	char have[32], need[32];
	struct store_user u;
	char err[256] = "";
	sqlite3 *db;

	fx_init(&fx);
	s = fx_open(&fx);
	fx_user(s, "alice", ROLE_USER);
	store_close(s);

	/* this build's migrations and one more */
	cr_assert_lt(n_migrations, 64);
	memcpy(next, migrations, (size_t)n_migrations * sizeof next[0]);
	next[n_migrations] = (struct migration){ last + 1, "999_test",
	                                         "ALTER TABLE users ADD COLUMN note TEXT;" };
	store_set_migrations(next, n_migrations + 1);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err));
	snprintf(have, sizeof have, "version %d", last);
	snprintf(need, sizeof need, "needs %d", last + 1);
	cr_assert(strstr(err, have) && strstr(err, need) &&
	          strstr(err, "sekishoctl migrate"), "%s", err);

	s = store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err);
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_version(s), last + 1);
	cr_assert_eq(store_user_get(s, "alice", &u), STORE_OK, "data survives the migration");
	store_close(s);
	cr_assert_eq(sqlite3_open(fx.db.path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "SELECT note FROM users", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_set_migrations(NULL, 0);
	fx_cleanup(&fx);
}

Test(open, uninitialised_or_missing_db_is_refused_without_create)
{
	char err[256] = "";
	FILE *fp;

	fx_init(&fx);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err), "missing file");
	cr_assert(strstr(err, fx.db.path), "%s", err);
	cr_assert_not_null(fp = fopen(fx.db.path, "w"));
	fclose(fp);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err), "empty file");
	cr_assert(strstr(err, "not initialised") && strstr(err, "sekishoctl"), "%s", err);
	fx_cleanup(&fx);
}

Test(open, foreign_database_is_refused)
{
	char err[256] = "";
	sqlite3 *db;

	fx_init(&fx);
	cr_assert_eq(sqlite3_open(fx.db.path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert_null(store_open(&fx.db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err));
	cr_assert(strstr(err, "not a sekisho database"), "%s", err);
	fx_cleanup(&fx);
}

Test(open, names_roles_and_reasons_have_words)
{
	static const struct { const char *name; int ok; } names[] = {
		{ "alice", 1 }, { "a", 1 }, { "lab-2.b_x", 1 }, { "A9", 1 },
		{ "12345678901234567890123456789012", 1 },
		{ "123456789012345678901234567890123", 0 },
		{ "", 0 }, { ".hidden", 0 }, { "-opt", 0 }, { "a b", 0 }, { "a/b", 0 },
		{ "é", 0 }, { "a;drop", 0 },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		cr_expect_eq(name_valid(names[i].name), names[i].ok, "name \"%s\"", names[i].name);
	cr_expect_eq(name_valid(NULL), 0);
	for (int r = ROLE_USER; r <= ROLE_ROOT; r++)
		cr_expect_eq(role_parse(role_str(r)), r);
	cr_expect_eq(role_parse("superuser"), -1);
	cr_expect_str_eq(store_rc_str(STORE_DENIED), "denied");
	cr_expect_str_eq(store_rc_str(99), "unknown");
	cr_expect_str_eq(end_reason_str(END_IDLE), "idle");
	cr_expect_str_eq(end_reason_str(END_ROLLBACK), "rollback");
	cr_expect_str_eq(end_reason_str(-1), "unknown");
}

Test(store, maintain_checkpoints_without_disturbing_readers)
{
	int64_t v = fx_service(s, "lab", 100, 60, 10, root);
	struct store *reader = fx_open(&fx);
	struct store_admission a;
	char name[16];

	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "u%d", i);
		cr_assert_eq(admit(fx_user(s, name, 0), v, "10.0.0.1", T0, &a), STORE_OK);
	}
	cr_assert_eq(store_maintain(s), STORE_OK);
	cr_assert_eq(store_maintain(reader), STORE_OK, "any connection may maintain");
	cr_assert_eq(fx_live_rights(reader, v), 50);
	store_close(reader);
}

static off_t
file_size(const char *name)
{
	char path[FX_PATH_MAX + 32];
	struct stat sb;

	fx_path(&fx, name, path, sizeof path);
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

Test(store, commits_leave_the_log_to_maintain_which_copies_it_once_long)
{
	int64_t v = fx_service(s, "lab", 1000, 60, 10, root);
	struct store_admission a;
	char name[16];
	off_t db;

	cr_assert_eq(store_maintain(s), STORE_OK, "the first call copies what setup wrote");
	db = file_size("sekisho.db");
	for (int i = 0; i < 300; i++) {   /* well past SQLite's own 1000-page checkpoint */
		snprintf(name, sizeof name, "u%d", i);
		cr_assert_eq(admit(fx_user(s, name, 0), v, "10.0.0.1", T0, &a), STORE_OK);
	}
	cr_assert_eq(file_size("sekisho.db"), db, "no commit copied the log into the database");
	cr_assert_gt(file_size("sekisho.db-wal"), 1000 * 4096);
	cr_assert_eq(store_maintain(s), STORE_OK);
	cr_assert_eq(file_size("sekisho.db"), db, "a log under 16 MiB is flushed, not copied");
	for (int i = 300; i < 1200 && file_size("sekisho.db") == db; i++) {
		snprintf(name, sizeof name, "u%d", i);
		cr_assert_eq(admit(fx_user(s, name, 0), v, "10.0.0.1", T0, &a), STORE_OK);
		cr_assert_eq(store_maintain(s), STORE_OK);
	}
	cr_assert_gt(file_size("sekisho.db"), db, "a long log is copied by store_maintain");
	cr_assert_eq(fx_live_rights(s, v), fx_active(s, v));
}

struct locked_out {
	struct conf_db db;
	int64_t user_id, service_id;
	int rc;
	char err[256];
};

static void *
admit_locked_out(void *arg)
{
	struct locked_out *l = arg;
	struct store *c = store_open(&l->db, 0, l->err, sizeof l->err);
	struct store_admission a;
	struct addr ip = { .family = AF_INET, .bytes = { 10, 3, 0, 1 } };

	l->rc = -1;
	if (c) {
		l->rc = store_admit(c, l->user_id, l->service_id, &ip, T0, &a);
		snprintf(l->err, sizeof l->err, "%s", store_error(c));
		store_close(c);
	}
	return NULL;
}

#define LOCKED_OUT    6
#define LOCKED_OUT_MS 400

Test(store, admission_fails_closed_when_another_process_holds_the_lock, .timeout = 30)
{
	int64_t v = fx_service(s, "lab", 10, 60, 10, root);
	struct locked_out l[LOCKED_OUT];
	pthread_t th[LOCKED_OUT];
	sqlite3 *other;
	int64_t start;
	char name[16];

	for (int i = 0; i < LOCKED_OUT; i++) {
		snprintf(name, sizeof name, "u%d", i);
		l[i] = (struct locked_out){ .db = fx.db, .user_id = fx_user(s, name, 0), .service_id = v };
		l[i].db.busy_timeout_ms = LOCKED_OUT_MS;
	}
	cr_assert_eq(sqlite3_open(fx.db.path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	start = clock_mono_ms();
	for (int i = 0; i < LOCKED_OUT; i++)
		pthread_create(&th[i], NULL, admit_locked_out, &l[i]);
	for (int i = 0; i < LOCKED_OUT; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < LOCKED_OUT; i++) {
		cr_assert_eq(l[i].rc, STORE_UNAVAILABLE, "thread %d: %s", i, l[i].err);
		cr_assert(strstr(l[i].err, "busy"), "%s", l[i].err);
	}
	cr_assert_lt(clock_mono_ms() - start, LOCKED_OUT * LOCKED_OUT_MS * 2 / 3,
	             "queued threads give up together, not one timeout after another");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	cr_assert_eq(fx_live_rights(s, v), 0);
}

