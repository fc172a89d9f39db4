/*
 * What only the PostgreSQL backend needs checking: the change log stays
 * gap-free and misses no committed entry whatever the interleaving of writers
 * (forced rollbacks, a writer holding its transaction open while another
 * commits first, concurrent writers on several services),
 * notifications wake followers, a lost connection fails closed and
 * reconnects, the schema is refused by version and by name, and a bad
 * conninfo is reported with host and reason. The contract every backend keeps
 * runs here too, as test_store_contract_pg.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <libpq-fe.h>

#include "fixture.h"
#include "pgcluster.h"
#include "store.h"

#define T0 1700000000LL

ReportHook(PRE_ALL)(struct criterion_test_set *set) { (void)set; pgc_hook_start(); }
ReportHook(POST_ALL)(struct criterion_global_stats *st) { (void)st; pgc_hook_stop(); }

static struct fx fx;
static struct store *s;
static int64_t root;

static void
setup(void)
{
	fx_init_pg(&fx);
	s = fx_open(&fx);
	root = fx_user(s, "root", ROLE_ROOT);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(pg, .init = setup, .fini = teardown);
TestSuite(pg_open, .init = NULL, .fini = NULL);

/* A raw connection to the test's database, as another program would hold. */
static PGconn *
raw(const char *url)
{
	PGconn *c = PQconnectdb(url);

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static void
sql(PGconn *c, const char *text)
{
	PGresult *r = PQexec(c, text);

	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	          "%s: %s", text, PQerrorMessage(c));
	PQclear(r);
}

/* The admission function run on a raw connection (inside whatever transaction it has open). */
static void
raw_admit(PGconn *c, int64_t user, int64_t service, const char *sid)
{
	char u[24], v[24];
	const char *params[] = { u, v, "\\x0a000009", "1700000000", sid };
	PGresult *r;

	snprintf(u, sizeof u, "%lld", (long long)user);
	snprintf(v, sizeof v, "%lld", (long long)service);
	r = PQexecParams(c, "SELECT rc FROM admit($1, $2, $3, $4, $5)", 5, NULL, params, NULL,
	                 NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "0", "admitted");
	PQclear(r);
}

struct log { int64_t seq[64]; int kind[64]; int64_t right[64]; int n; };

static int
take(const struct store_change *c, void *arg)
{
	struct log *l = arg;

	if (l->n < 64) {
		l->seq[l->n] = c->seq;
		l->kind[l->n] = c->kind;
		l->right[l->n++] = c->right_id;
	}
	return 0;
}

static struct log
changes_after(struct store *c, int64_t after)
{
	struct log l = { .n = 0 };

	cr_assert_eq(store_changes(c, after, 64, take, &l), STORE_OK, "%s", store_error(c));
	return l;
}

static int64_t
last_seq(struct store *c)
{
	struct store_stats st;

	cr_assert_eq(store_stats(c, &st), STORE_OK);
	return st.last_seq;
}

/* Waits (without a deadline: the test's timeout bounds it) until a backend waits for a lock. */
static void
await_lock_waiter(PGconn *c)
{
	for (;;) {
		PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity "
		                     "WHERE wait_event_type = 'Lock' AND datname = current_database()");
		int n = PQresultStatus(r) == PGRES_TUPLES_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
		PQclear(r);
		if (n > 0)
			return;
		usleep(10000);
	}
}

struct writer {
	const struct conf_db *db;
	int64_t user, service;
	int rc;
	struct store_admission a;
};

static void *
admit_thread(void *arg)
{
	struct writer *w = arg;
	char err[256];
	struct store *c = store_open(w->db, 0, err, sizeof err);
	struct addr ip = fx_ip("10.0.0.2");

	w->rc = c ? store_admit(c, w->user, w->service, &ip, T0, &w->a) : -1;
	store_close(c);
	return NULL;
}

/*
 * Two admissions to one service: B waits for A on the service row (the cap
 * is counted under it), so B cannot commit first; the follower sees neither
 * while A is open, then both, A first, without a gap.
 */
Test(pg, a_writer_on_the_same_service_waits_and_both_are_followed, .timeout = 60)
{
	int64_t v = fx_service(s, "lab", 10, 60, 10, root);
	struct writer b = { .db = &fx.db, .user = fx_user(s, "bob", 0), .service = v };
	int64_t alice = fx_user(s, "alice", 0), from = last_seq(s);
	PGconn *a = raw(fx.db.url), *watch = raw(fx.db.url);
	pthread_t th;
	struct log l;

	sql(a, "BEGIN");
	raw_admit(a, alice, v, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	cr_assert_eq(pthread_create(&th, NULL, admit_thread, &b), 0);
	await_lock_waiter(watch);
	l = changes_after(s, from);
	cr_assert_eq(l.n, 0, "the follower saw %d change(s) while the first writer was open", l.n);
	sql(a, "COMMIT");
	pthread_join(th, NULL);
	cr_assert_eq(b.rc, STORE_OK);
	l = changes_after(s, from);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.seq[0], from + 1);
	cr_assert_eq(l.seq[1], from + 2);
	cr_assert_neq(l.right[0], b.a.right.id, "A committed first and comes first");
	cr_assert_eq(l.right[1], b.a.right.id);
	PQfinish(a);
	PQfinish(watch);
}

/* The right ids a snapshot delivers. */
static int
snap_right(const struct store_right *r, void *arg)
{
	struct log *l = arg;

	if (l->n < 64)
		l->right[l->n++] = r->id;
	return 0;
}

static int
log_has(const struct log *l, int kind, int64_t right)
{
	for (int i = 0; i < l->n; i++)
		if (l->right[i] == right && (!kind || l->kind[i] == kind))
			return 1;
	return 0;
}

/*
 * The interleaving that makes a follower of a plain sequence skip a change:
 * A writes first (lower entry id, lower transaction id) and stays open, B
 * writes on another service and commits, the follower reads B and moves past
 * it, then A commits. B does not wait for A (its lock_timeout would fail the
 * admission); the follower gets B, then A numbered after B; a snapshot taken
 * between holds B and not A, and following from it brings A. C, rolled back
 * after D committed, leaves no number behind.
 */
Test(pg, writers_on_different_services_commit_out_of_order_and_none_is_missed, .timeout = 60)
{
	int64_t v1 = fx_service(s, "one", 10, 60, 10, root), v2 = fx_service(s, "two", 10, 60, 10, root);
	int64_t alice = fx_user(s, "alice", 0), bob = fx_user(s, "bob", 0), from = last_seq(s);
	PGconn *a = raw(fx.db.url);
	struct store_admission b, d;
	struct log l, snap = { .n = 0 };
	int64_t at;

	sql(a, "BEGIN");
	raw_admit(a, alice, v1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	cr_assert_eq(fx_admit(s, bob, v2, "10.0.0.2", T0, &b), STORE_OK, "%s", store_error(s));
	l = changes_after(s, from);
	cr_assert_eq(l.n, 1, "only B has committed");
	cr_assert_eq(l.seq[0], from + 1);
	cr_assert_eq(l.right[0], b.right.id);
	cr_assert_eq(store_snapshot(s, T0, NULL, snap_right, &snap, &at), STORE_OK);
	cr_assert_eq(at, from + 1);
	cr_assert(snap.n == 1 && snap.right[0] == b.right.id, "the snapshot holds B only");
	sql(a, "COMMIT");
	l = changes_after(s, at);
	cr_assert_eq(l.n, 1, "A, committed after the follower passed B");
	cr_assert_eq(l.seq[0], from + 2);
	cr_assert_eq(l.kind[0], 1);
	cr_assert_neq(l.right[0], b.right.id);
	sql(a, "BEGIN");
	raw_admit(a, fx_user(s, "carol", 0), v1, "cccccccccccccccccccccccccccccccc");
	cr_assert_eq(fx_admit(s, fx_user(s, "dave", 0), v2, "10.0.0.4", T0, &d), STORE_OK);
	sql(a, "ROLLBACK");
	l = changes_after(s, from + 2);
	cr_assert_eq(l.n, 1, "D only: C rolled back");
	cr_assert(l.seq[0] == from + 3 && log_has(&l, 1, d.right.id));
	cr_assert_eq(last_seq(s), from + 3, "no number taken by C");
	PQfinish(a);
}

#define RACERS 4
#define ROUNDS 40

struct racer {
	const struct conf_db *db;
	int64_t user, service, admitted[ROUNDS];
	int n, rc;
};

/* Admits its user to its service ROUNDS times (each replacing the last), every fifth rolled back. */
static void *
racer_run(void *arg)
{
	struct racer *r = arg;
	char err[256], sid[40];
	struct store *c = store_open(r->db, 0, err, sizeof err);
	PGconn *raw_c = PQconnectdb(r->db->url);
	struct store_admission a;
	struct addr ip = fx_ip("10.0.0.7");

	r->rc = c && PQstatus(raw_c) == CONNECTION_OK ? STORE_OK : -1;
	for (int i = 0; r->rc == STORE_OK && i < ROUNDS; i++) {
		if (i % 5 == 4) {
			snprintf(sid, sizeof sid, "%08lld%024d", (long long)r->service, i);
			PQclear(PQexec(raw_c, "BEGIN"));
			raw_admit(raw_c, r->user, r->service, sid);
			PQclear(PQexec(raw_c, "ROLLBACK"));
			continue;
		}
		if ((r->rc = store_admit(c, r->user, r->service, &ip, T0 + i, &a)) == STORE_OK)
			r->admitted[r->n++] = a.right.id;
	}
	PQfinish(raw_c);
	store_close(c);
	return NULL;
}

struct follow {
	struct store *s;
	int64_t pos, *seen;
	int n, cap, bad, stop;
};

static int
follow_one(const struct store_change *c, void *arg)
{
	struct follow *f = arg;

	if (c->seq != f->pos + 1)
		f->bad = 1;
	f->pos = c->seq;
	if (c->kind == 1 && f->n < f->cap)
		f->seen[f->n++] = c->right_id;
	return 0;
}

static void
follow_drain(struct follow *f)
{
	int64_t before;

	do {
		before = f->pos;
		cr_assert_eq(store_changes(f->s, f->pos, 64, follow_one, f), STORE_OK);
	} while (f->pos != before);
}

static void *
follow_run(void *arg)
{
	struct follow *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
		follow_drain(f);
	return NULL;
}

/*
 * Four writers on four services admit and roll back at once while a
 * follower reads the log as fast as it can: every committed admission
 * reaches it, at consecutive numbers.
 */
Test(pg, concurrent_writers_and_rollbacks_never_hide_a_change_from_a_follower, .timeout = 120)
{
	struct racer r[RACERS];
	pthread_t th[RACERS], fth;
	int64_t seen[RACERS * ROUNDS * 2];
	struct follow f = { .s = fx_open(&fx), .seen = seen, .cap = RACERS * ROUNDS * 2 };
	char name[16];

	for (int i = 0; i < RACERS; i++) {
		snprintf(name, sizeof name, "svc%d", i);
		r[i] = (struct racer){ .db = &fx.db, .service = fx_service(s, name, 5, 60, 10, root) };
		snprintf(name, sizeof name, "user%d", i);
		r[i].user = fx_user(s, name, 0);
	}
	f.pos = last_seq(s);
	cr_assert_eq(pthread_create(&fth, NULL, follow_run, &f), 0);
	for (int i = 0; i < RACERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(fth, NULL);
	follow_drain(&f);
	cr_assert_eq(f.bad, 0, "a hole in the numbers");
	for (int i = 0; i < RACERS; i++) {
		cr_assert_eq(r[i].rc, STORE_OK);
		cr_assert_eq(r[i].n, ROUNDS - ROUNDS / 5);
		for (int k = 0; k < r[i].n; k++) {
			int found = 0;
			for (int j = 0; j < f.n && !found; j++)
				found = seen[j] == r[i].admitted[k];
			cr_assert(found, "right %lld never reached the follower", (long long)r[i].admitted[k]);
		}
	}
	cr_assert_eq(f.n, RACERS * (ROUNDS - ROUNDS / 5), "no admission seen that did not commit");
	store_close(f.s);
}

Test(pg, rolled_back_and_refused_writes_leave_no_gap)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root);
	int64_t u1 = fx_user(s, "u1", 0), u2 = fx_user(s, "u2", 0), u3 = fx_user(s, "u3", 0);
	int64_t from = last_seq(s);
	struct store_admission adm;
	struct store_service dup;
	PGconn *a = raw(fx.db.url);
	struct log l;

	sql(a, "BEGIN");
	raw_admit(a, u1, v, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	sql(a, "ROLLBACK");
	cr_assert_eq(fx_admit(s, u2, v, "10.0.0.2", T0, &adm), STORE_OK);
	cr_assert_eq(fx_admit(s, u3, v, "10.0.0.3", T0, &adm), STORE_DENIED, "full: undone inside");
	cr_assert_eq(store_service_get_id(s, v, &dup), STORE_OK);
	dup.id = 0;
	cr_assert_eq(store_service_add(s, &dup, ROLE_ROOT, T0, NULL, NULL, 0), STORE_EXISTS);
	cr_assert_eq(store_user_del(s, root, T0, NULL, 0), STORE_INVALID, "last root");
	cr_assert_eq(fx_admit(s, u3, v, "10.0.0.3", T0 + 3600, &adm), STORE_OK, "u2 expired");
	l = changes_after(s, from);
	cr_assert_eq(l.n, 3, "admit u2, end u2 (expired), admit u3");
	for (int i = 0; i < l.n; i++)
		cr_assert_eq(l.seq[i], from + 1 + i, "entry %d has seq %lld", i, (long long)l.seq[i]);
	cr_assert_eq(last_seq(s), from + 3);
	PQfinish(a);
}

Test(pg, wait_wakes_on_a_commit_and_times_out_without_one)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root), u = fx_user(s, "alice", 0);
	struct store *follower = fx_open(&fx);
	struct store_admission a;
	int woken = -1;

	cr_assert_eq(store_wait(follower, 0, &woken), STORE_OK, "subscribes");
	cr_assert_eq(woken, 1, "a fresh subscription cannot know: read the log");
	cr_assert_eq(store_wait(follower, 50, &woken), STORE_OK);
	cr_assert_eq(woken, 0, "nothing committed");
	cr_assert_eq(fx_admit(s, u, v, "10.0.0.1", T0, &a), STORE_OK);
	cr_assert_eq(store_wait(follower, 60000, &woken), STORE_OK);
	cr_assert_eq(woken, 1, "the admission's commit notified");
	cr_assert_eq(store_wait(follower, 0, &woken), STORE_OK);
	cr_assert_eq(woken, 0, "one commit, one wake-up");
	store_close(follower);
}

/* Ends the store's server connection from outside, as a server restart would. */
static void
kill_backends(void)
{
	PGconn *c = raw(fx.db.url);

	sql(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE datname = current_database() AND pid <> pg_backend_pid()");
	PQfinish(c);
}

Test(pg, a_lost_connection_fails_closed_then_reconnects)
{
	int64_t v = fx_service(s, "lab", 5, 60, 10, root), u = fx_user(s, "alice", 0);
	struct store_admission a;
	struct store_user got;
	unsigned epoch = store_epoch(s);
	int woken;

	cr_assert_eq(store_wait(s, 0, &woken), STORE_OK);
	kill_backends();
	cr_assert_eq(fx_admit(s, u, v, "10.0.0.1", T0, &a), STORE_UNAVAILABLE);
	cr_assert(strstr(store_error(s), "connection"), "%s", store_error(s));
	cr_assert_eq(store_epoch(s), epoch, "not reconnected yet");
	cr_assert_eq(fx_live_rights(s, v), 0, "reconnected on the next call; nothing admitted");
	cr_assert_eq(store_epoch(s), epoch + 1, "followers learn they must resync");
	cr_assert_eq(store_user_get(s, "alice", &got), STORE_OK);
	cr_assert_eq(store_wait(s, 0, &woken), STORE_OK);
	cr_assert_eq(woken, 1, "the subscription died with the connection: subscribed again");
}

static void
open_fails(const char *url, const char *want1, const char *want2)
{
	struct conf_db db = { .busy_timeout_ms = 1000 };
	char err[512] = "";

	snprintf(db.url, sizeof db.url, "%s", url);
	cr_assert_null(store_open(&db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err));
	cr_assert(strstr(err, want1) && strstr(err, want2), "%s: %s", url, err);
}

Test(pg_open, unreachable_server_wrong_password_or_database_are_named)
{
	char url[640], base[512];
	PGconn *c;

	snprintf(base, sizeof base, "%s", getenv(PGC_ENV));
	*strstr(base, " dbname=") = '\0';
	open_fails("host=/nonexistent-sekisho port=5999 dbname=x", "/nonexistent-sekisho", "5999");
	open_fails("host=127.0.0.1 port=1 dbname=x", "127.0.0.1", "refused");
	c = raw(getenv(PGC_ENV));
	sql(c, "CREATE ROLE " PGC_PW_ROLE " LOGIN PASSWORD '" PGC_PW_PASS "'");
	PQfinish(c);
	snprintf(url, sizeof url, "%s user=%s password=wrong dbname=postgres", base, PGC_PW_ROLE);
	open_fails(url, "password authentication failed", PGC_PW_ROLE);
	cr_assert_null(strstr(url, PGC_PW_PASS));
	snprintf(url, sizeof url, "%s dbname=no_such_db", base);
	open_fails(url, "no_such_db", "does not exist");
}

static void
set_schema_row(const char *url, const char *statement)
{
	PGconn *c = raw(url);

	sql(c, statement);
	PQfinish(c);
}

Test(pg_open, a_schema_this_build_does_not_know_is_refused_by_version_and_name)
{
	char err[512] = "";

	fx_init_pg(&fx);
	store_close(fx_open(&fx));
	set_schema_row(fx.db.url, "INSERT INTO schema_migrations VALUES (99, '099_future', 0)");
	cr_assert_null(store_open(&fx.db, STORE_OPEN_MIGRATE, err, sizeof err));
	cr_assert(strstr(err, "99") && strstr(err, "099_future") && strstr(err, "newer"), "%s", err);
	set_schema_row(fx.db.url, "DELETE FROM schema_migrations WHERE version = 99");
	set_schema_row(fx.db.url, "UPDATE schema_migrations SET name = '001_elsewhere'");
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err));
	cr_assert(strstr(err, "001_elsewhere") && strstr(err, "not a schema this build knows"),
	          "%s", err);
	fx_cleanup(&fx);
}

Test(pg_open, an_empty_database_needs_init_and_a_foreign_one_is_refused)
{
	char err[512] = "";

	fx_init_pg(&fx);
	cr_assert_null(store_open(&fx.db, 0, err, sizeof err));
	cr_assert(strstr(err, "not initialised") && strstr(err, "sekishoctl init"), "%s", err);
	set_schema_row(fx.db.url, "CREATE TABLE t (x integer)");
	cr_assert_null(store_open(&fx.db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err));
	cr_assert(strstr(err, "not a sekisho database"), "%s", err);
	fx_cleanup(&fx);
}
