/*
 * The sweeper's waiting-room step (authd/sweeper.c, sweeper_lapse) against a
 * real SQLite store: the stale places of every service under a waiting room
 * lapse without any admission there, each audited by its user; places
 * polled within the service's lapse, and services whose waiting room is not
 * in force, are left alone; the walk is bounded; a store that does not
 * answer touches nothing.
 */

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "../../authd/authd.h"
#include "fixture.h"
#include "log.h"

#define T0 1700000000LL

static struct fx fx;
static struct store *st;
static struct conf conf;
static int64_t root;

static void
setup(void)
{
	log_set_level(LOG_CRIT);
	fx_init(&fx);
	st = fx_open(&fx);
	root = fx_user(st, "root", ROLE_ROOT);
	conf_defaults(&conf);
	conf.authd.queue = 1;
	conf.authd.queue_lapse_s = 60;
	conf.authd.queue_max = 10;
}

static void
teardown(void)
{
	store_close(st);
	fx_cleanup(&fx);
}

TestSuite(sweeper, .init = setup, .fini = teardown);

/* A service of cap 1 (held from T0 by its own user) with the waiting room mode and lapse. */
static int64_t
service(const char *name, int mode, int lapse_s)
{
	struct service_queue q = { mode, 0, lapse_s, 0 };
	struct store_admission a;
	char err[200], holder[NAME_MAX_LEN + 1];
	int64_t v = fx_service(st, name, 1, 600, 600, root);

	cr_assert_eq(store_service_set_queue(st, v, &q, err, sizeof err), STORE_OK, "%s", err);
	snprintf(holder, sizeof holder, "%s-holder", name);
	cr_assert_eq(fx_admit(st, fx_user(st, holder, ROLE_USER), v, "10.0.0.1", T0, &a), STORE_OK);
	return v;
}

/* user (added when new) takes or keeps a place on v at time at: its last poll. */
static void
poll_at(int64_t v, const char *user, int64_t at)
{
	struct store_queue_rules r = { 86400, 100, 600 };
	struct store_admission a;
	struct store_place pl;
	struct store_user u;
	struct addr ip = fx_ip("10.0.0.2");
	int64_t id = store_user_get(st, user, &u) == STORE_OK ? u.id : fx_user(st, user, ROLE_USER);

	cr_assert_eq(store_queue_admit(st, id, v, &ip, at, &r, &a, &pl), STORE_QUEUED);
}

static int
places(int64_t v)
{
	int n = -1;
	int64_t oldest;

	cr_assert_eq(store_queue_len(st, v, &n, &oldest), STORE_OK);
	return n;
}

struct lapses { char seen[512]; };

static int
note_audit(const struct store_audit *r, void *arg)
{
	struct lapses *l = arg;
	size_t k = strlen(l->seen);

	if (strcmp(r->action, "queue.lapse") == 0)
		snprintf(l->seen + k, sizeof l->seen - k, "%s:%s:%s:%s ", r->actor, r->service,
		         r->target, strstr(r->detail, "lapse_s=") ? strstr(r->detail, "lapse_s=") : "");
	return 0;
}

/* The queue.lapse rows, oldest first: "actor:service:user:lapse_s=N ...". */
static const char *
lapse_audit(struct lapses *l)
{
	struct store_audit_filter f = { NULL, NULL, 0, 1000 };
	struct lapses newest = { "" };
	char *w[64];
	int n = 0;

	cr_assert_eq(store_audit_list(st, &f, note_audit, &newest), STORE_OK);
	for (char *t = strtok(newest.seen, " "); t && n < 64; t = strtok(NULL, " "))
		w[n++] = t;
	l->seen[0] = '\0';
	while (n-- > 0)
		snprintf(l->seen + strlen(l->seen), sizeof l->seen - strlen(l->seen), "%s ", w[n]);
	return l->seen;
}

static int
lapse(int64_t now, int max, int *from)
{
	return sweeper_lapse(st, &conf.authd, now, max, from);
}

Test(sweeper, stale_places_of_idle_lines_lapse_and_each_is_audited_by_user)
{
	int64_t a = service("a", QUEUE_DEFAULT, 0), b = service("b", QUEUE_ON, 120);
	struct lapses l;
	int from = 0;

	poll_at(a, "w0", T0);
	poll_at(a, "w1", T0 + 50);
	poll_at(b, "w0", T0);
	poll_at(b, "w1", T0 + 50);
	cr_assert_eq(lapse(T0 + 100, 8, &from), 1, "a: w0 (100 s, lapse 60); b keeps both (lapse 120)");
	cr_assert_eq(places(a), 1);
	cr_assert_eq(places(b), 2);
	cr_assert_str_eq(lapse_audit(&l), "sweeper:a:w0:lapse_s=60 ");
	cr_assert_eq(from, 0, "the walk reached the end");
	cr_assert_eq(lapse(T0 + 110, 8, &from), 1, "a: w1 at last poll + 60 exactly");
	cr_assert_eq(lapse(T0 + 119, 8, &from), 0, "b: w0 polled 119 s ago stays");
	cr_assert_eq(lapse(T0 + 130, 8, &from), 1, "b: w0 lapses, w1 (80 s) stays");
	cr_assert_eq(places(a), 0);
	cr_assert_eq(places(b), 1);
	cr_assert_str_eq(lapse_audit(&l),
	                 "sweeper:a:w0:lapse_s=60 sweeper:a:w1:lapse_s=60 sweeper:b:w0:lapse_s=120 ");
}

Test(sweeper, lines_without_a_waiting_room_in_force_are_left_alone)
{
	int64_t off = service("off", QUEUE_ON, 0), dflt = service("dflt", QUEUE_DEFAULT, 0);
	struct service_queue q = { QUEUE_OFF, 0, 0, 0 };
	char err[200];
	int from = 0;

	poll_at(off, "w0", T0);
	poll_at(dflt, "w0", T0);
	cr_assert_eq(store_service_set_queue(st, off, &q, err, sizeof err), STORE_OK, "%s", err);
	conf.authd.queue = 0;
	cr_assert_eq(lapse(T0 + 1000, 8, &from), 0);
	cr_assert_eq(places(off), 1, "the service turned its waiting room off");
	cr_assert_eq(places(dflt), 1, "[authd] queue is off and the service takes the default");
	conf.authd.queue = 1;
	cr_assert_eq(lapse(T0 + 1000, 8, &from), 1, "the default on again: dflt's place lapses");
	cr_assert_eq(places(off), 1);
}

Test(sweeper, each_sweep_takes_at_most_max_lines_and_the_next_goes_on)
{
	int64_t v[3] = { service("s0", QUEUE_ON, 0), service("s1", QUEUE_ON, 0),
	                 service("s2", QUEUE_ON, 0) };
	int from = 0;

	service("s0x", QUEUE_OFF, 0);
	for (int i = 0; i < 3; i++)
		poll_at(v[i], "w", T0);
	cr_assert_eq(lapse(T0 + 100, 2, &from), 2, "s0 and s1");
	cr_assert_eq(from, 2);
	cr_assert_eq(places(v[2]), 1, "s2 waits for the next sweep");
	cr_assert_eq(lapse(T0 + 100, 2, &from), 1, "s2 (s0x has no waiting room: not counted)");
	cr_assert_eq(from, 0, "back to the start");
	cr_assert_eq(places(v[0]) + places(v[1]) + places(v[2]), 0);
	cr_assert_eq(lapse(T0 + 100, 2, &from), 0);
}

Test(sweeper, a_store_that_does_not_answer_touches_nothing_and_the_next_sweep_lapses, .timeout = 30)
{
	int64_t v = service("lab", QUEUE_ON, 0);
	struct fx quick = fx;
	struct store *busy;
	sqlite3 *other;
	struct lapses l;
	int from = 0;

	poll_at(v, "w0", T0);
	poll_at(v, "w1", T0 + 90);
	quick.db.busy_timeout_ms = 100;
	busy = fx_open(&quick);
	cr_assert_eq(sqlite3_open(fx.db.path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sweeper_lapse(busy, &conf.authd, T0 + 100, 1, &from), -1);
	cr_assert_eq(from, 0, "the walk does not move on (one line done would make it 1)");
	cr_assert_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	cr_assert_eq(places(v), 2, "nothing removed, nothing half done");
	cr_assert_str_eq(lapse_audit(&l), "");
	cr_assert_eq(sweeper_lapse(busy, &conf.authd, T0 + 100, 8, &from), 1, "w0 at the next sweep");
	cr_assert_eq(places(v), 1, "w1 (polled 10 s ago) stays");
	cr_assert_str_eq(lapse_audit(&l), "sweeper:lab:w0:lapse_s=60 ");
	store_close(busy);
}
