/*
 * Who may do what to the store's file: the mode a new store gets, the
 * read-only connection ipfd uses, and the store vouching for a right (its
 * user and service exist and are enabled) so that a row written straight
 * into the file, around the store's rules, opens nothing.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "fixture.h"
#include "store.h"

#define T0 1700000000LL
#define MIN 60

static struct fx fx;
static struct store *s;
static int64_t root, alice, lab;

static void
setup(void)
{
	fx_init(&fx);
	s = fx_open(&fx);
	root = fx_user(s, "root", ROLE_ROOT);
	alice = fx_user(s, "alice", ROLE_USER);
	lab = fx_service(s, "lab", 3, 90, 15, root);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(access, .init = setup, .fini = teardown);

/* Runs sql on the store's file through a connection of its own, as an intruder would. */
static void
raw(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(fx.db.path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Inserts a live right with the given owner straight into the file; returns its id. */
static int64_t
forge(int64_t user_id, const char *user_name, int64_t service_id, const char *sid)
{
	struct store_right r;
	char sql[512];

	snprintf(sql, sizeof sql,
	         "INSERT INTO rights (sid, user_id, user_name, service_id, service_name, ip, "
	         "created_at, expires_at, last_seen) VALUES ('%s', %lld, '%s', %lld, 'lab', "
	         "x'c0000263', unixepoch(), unixepoch() + 3600, unixepoch())",
	         sid, (long long)user_id, user_name, (long long)service_id);
	raw(sql);
	cr_assert_eq(store_right_by_sid(s, sid, &r), STORE_OK);
	return r.id;
}

static int
vouched(int64_t id)
{
	struct store_right r;

	cr_assert_eq(store_right_get(s, id, &r), STORE_OK);
	return r.vouched;
}

static int64_t
admitted(int64_t user, int64_t service)
{
	struct addr ip = fx_ip("10.0.0.2");
	struct store_admission a;

	cr_assert_eq(store_admit(s, user, service, &ip, T0, &a), STORE_OK);
	return a.right.id;
}

Test(access, a_right_admitted_by_the_store_is_vouched_for)
{
	cr_assert_eq(vouched(admitted(alice, lab)), 1);
}

Test(access, a_right_of_no_user_is_not_vouched_for)
{
	cr_assert_eq(vouched(forge(9999, "ghost", lab, "f0")), 0);
}

Test(access, a_right_naming_another_user_than_its_id_is_not_vouched_for)
{
	cr_assert_eq(vouched(forge(alice, "root", lab, "f1")), 0);
}

Test(access, a_right_of_a_disabled_user_is_not_vouched_for)
{
	int64_t id = admitted(alice, lab);

	raw("UPDATE users SET disabled = 1 WHERE name = 'alice'");   /* without ending the right */
	cr_assert_eq(vouched(id), 0);
}

Test(access, a_right_of_a_missing_or_disabled_service_is_not_vouched_for)
{
	int64_t id = admitted(alice, lab);

	cr_assert_eq(vouched(forge(alice, "alice", 4242, "f2")), 0);
	raw("UPDATE services SET enabled = 0 WHERE name = 'lab'");
	cr_assert_eq(vouched(id), 0);
}

static int
collect_vouched(const struct store_right *r, void *arg)
{
	int *v = arg;

	v[r->vouched]++;
	return 0;
}

Test(access, the_snapshot_says_which_rights_are_vouched_for)
{
	int n[2] = { 0, 0 };
	int64_t seq;

	admitted(alice, lab);
	forge(9999, "ghost", lab, "f3");
	cr_assert_eq(store_snapshot(s, T0, NULL, collect_vouched, n, &seq), STORE_OK);
	cr_assert_eq(n[1], 1);
	cr_assert_eq(n[0], 1);
}

Test(access, a_new_store_is_read_write_for_owner_and_group_only_whatever_the_umask)
{
	struct fx f;
	struct store *c;
	struct stat sb;
	mode_t old = umask(077);

	fx_init(&f);
	c = fx_open(&f);
	umask(old);
	cr_assert_eq(stat(f.db.path, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0660, "mode %o", (unsigned)(sb.st_mode & 07777));
	store_close(c);
	fx_cleanup(&f);
}

Test(access, a_read_only_connection_reads_and_never_writes)
{
	char err[256];
	struct store *ro = store_open(&fx.db, STORE_OPEN_READONLY, err, sizeof err);
	struct store_user u;
	int64_t id;

	cr_assert_not_null(ro, "%s", err);
	cr_assert_eq(store_user_get(ro, "alice", &u), STORE_OK);
	cr_assert_eq(store_user_add(ro, "mallory", ROLE_ROOT, "x", T0, &id, err, sizeof err),
	             STORE_UNAVAILABLE);
	cr_assert_eq(store_user_get(s, "mallory", &u), STORE_NOTFOUND);
	store_close(ro);
}

Test(access, a_read_only_connection_opened_first_sees_what_writers_commit_later)
{
	char err[256];
	struct store *ro;
	struct store_right r;
	int64_t id;

	store_close(s);                  /* the last connection: the log is folded in and removed */
	ro = store_open(&fx.db, STORE_OPEN_READONLY, err, sizeof err);
	cr_assert_not_null(ro, "%s", err);
	s = fx_open(&fx);
	id = admitted(alice, lab);
	cr_assert_eq(store_right_get(ro, id, &r), STORE_OK);
	cr_assert_eq(r.vouched, 1);
	store_close(ro);
}

Test(access, a_read_only_store_can_be_neither_created_nor_migrated)
{
	char err[256];

	cr_assert_null(store_open(&fx.db, STORE_OPEN_READONLY | STORE_OPEN_CREATE, err, sizeof err));
	cr_assert_null(store_open(&fx.db, STORE_OPEN_READONLY | STORE_OPEN_MIGRATE, err, sizeof err));
	cr_assert(strstr(err, "read-only") != NULL, "%s", err);
}
