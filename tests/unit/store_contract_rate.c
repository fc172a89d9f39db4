/*
 * The store contract, part 10 (common/store.h): a service's admission rate
 * and its waiting room settings, and the operators' view of a line (places,
 * named lapses). Linked into every test_store_contract_<backend>, so each
 * backend runs it. Each test gets a fresh, empty store of its own.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "store.h"
#include "store_contract.h"

#define T0 1700000000LL
#define THREADS 8
#define EACH 25

static struct fx fx;
static struct store *s;
static int64_t root;
static const struct store_queue_rules rules = { .lapse_s = 300, .max = 1000, .window_s = 600 };

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

TestSuite(rate, .init = setup, .fini = teardown);

static void
users(int64_t *u, int n, const char *prefix)
{
	char name[NAME_MAX_LEN + 1];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%d", prefix, i);
		u[i] = fx_user(s, name, ROLE_USER);
	}
}

static void
set_queue(int64_t v, int mode, int max, int lapse_s, int rate)
{
	struct service_queue q = { mode, max, lapse_s, rate };
	char err[200];

	cr_assert_eq(store_service_set_queue(s, v, &q, err, sizeof err), STORE_OK, "%s", err);
}

static struct addr
ip_of(int64_t user)
{
	return (struct addr){ .family = AF_INET, .bytes = { 10, 3, (uint8_t)(user / 250),
	                                                    (uint8_t)(user % 250) } };
}

static int
admit(struct store *c, int64_t user, int64_t v, int64_t now, struct store_admission *a)
{
	struct addr ip = ip_of(user);

	return store_admit(c, user, v, &ip, now, a);
}

static int
ask(struct store *c, int64_t user, int64_t v, int64_t now, struct store_admission *a,
    struct store_place *pl)
{
	struct addr ip = ip_of(user);

	return store_queue_admit(c, user, v, &ip, now, &rules, a, pl);
}

Test(rate, a_new_user_past_the_rate_is_refused_and_a_renewal_is_not)
{
	int64_t v = fx_service(s, "lab", 100, 60, 10, root), u[5];
	struct store_admission a;

	users(u, 5, "u");
	set_queue(v, QUEUE_DEFAULT, 0, 0, 3);
	cr_assert_eq(admit(s, u[0], v, T0, &a), STORE_OK);
	cr_assert_eq(admit(s, u[1], v, T0 + 10, &a), STORE_OK);
	cr_assert_eq(admit(s, u[2], v, T0 + 20, &a), STORE_OK);
	cr_assert_eq(admit(s, u[3], v, T0 + 30, &a), STORE_DENIED, "the fourth in a minute");
	cr_assert_eq(a.rate, 1, "refused for the rate, not the cap");
	cr_assert_eq(a.rate_next, T0 + 60, "room again when the first leaves the window");
	cr_assert_eq(a.right.id, 0);
	cr_assert_eq(fx_live_rights(s, v), 3, "nothing written");
	/* Renewing one's own right is no new user: neither refused nor counted. */
	cr_assert_eq(admit(s, u[1], v, T0 + 31, &a), STORE_OK);
	cr_assert_eq(a.replaced, 1);
	cr_assert_eq(admit(s, u[3], v, T0 + 59, &a), STORE_DENIED);
	cr_assert_eq(a.rate_next, T0 + 60);
	cr_assert_eq(admit(s, u[3], v, T0 + 60, &a), STORE_OK, "u0's admission left the window");
	cr_assert_eq(admit(s, u[4], v, T0 + 60, &a), STORE_DENIED);
	cr_assert_eq(a.rate_next, T0 + 70);
	/* Without a rate the window does not matter (the cap first: the next test). */
	set_queue(v, QUEUE_DEFAULT, 0, 0, 0);
	cr_assert_eq(admit(s, u[4], v, T0 + 61, &a), STORE_OK, "no rate: admitted");
}

Test(rate, after_a_lower_rate_room_comes_when_enough_admissions_left_the_window)
{
	int64_t v = fx_service(s, "lab", 100, 60, 10, root), u[4];
	struct store_admission a;

	users(u, 4, "u");
	set_queue(v, QUEUE_DEFAULT, 0, 0, 3);
	cr_assert_eq(admit(s, u[0], v, T0, &a), STORE_OK);
	cr_assert_eq(admit(s, u[1], v, T0 + 10, &a), STORE_OK);
	cr_assert_eq(admit(s, u[2], v, T0 + 20, &a), STORE_OK);
	/* Lowered to 1: all three must leave the window before the next new user. */
	set_queue(v, QUEUE_DEFAULT, 0, 0, 1);
	cr_assert_eq(admit(s, u[3], v, T0 + 30, &a), STORE_DENIED);
	cr_assert_eq(a.rate, 1);
	cr_assert_eq(a.rate_next, T0 + 80, "not when the oldest leaves (T0 + 60)");
	cr_assert_eq(admit(s, u[3], v, T0 + 60, &a), STORE_DENIED, "two still in the window");
	cr_assert_eq(a.rate_next, T0 + 80);
	cr_assert_eq(admit(s, u[3], v, T0 + 79, &a), STORE_DENIED);
	cr_assert_eq(admit(s, u[3], v, T0 + 80, &a), STORE_OK, "room when it said");
}

Test(rate, a_full_service_is_refused_for_the_cap_not_the_rate)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[2];
	struct store_admission a;

	users(u, 2, "u");
	set_queue(v, QUEUE_DEFAULT, 0, 0, 1);
	cr_assert_eq(admit(s, u[0], v, T0, &a), STORE_OK);
	cr_assert_eq(admit(s, u[1], v, T0 + 1, &a), STORE_DENIED);
	cr_assert_eq(a.rate, 0);
	cr_assert_eq(a.active, 1);
}

struct racer {
	const struct fx *f;
	pthread_barrier_t *start;
	int64_t v, users[EACH];
	int queue, ok, denied, queued, failed, wrong;
};

/* Every user of this thread asks once at T0 + 1, all threads at the same moment. */
static void *
race(void *arg)
{
	struct racer *r = arg;
	char err[256];
	struct store *c = store_open(&r->f->db, 0, err, sizeof err);
	struct store_admission a;
	struct store_place pl;

	pthread_barrier_wait(r->start);
	for (int i = 0; c && i < EACH; i++) {
		int rc = r->queue ? ask(c, r->users[i], r->v, T0 + 1, &a, &pl)
		                  : admit(c, r->users[i], r->v, T0 + 1, &a);
		r->ok += rc == STORE_OK;
		r->denied += rc == STORE_DENIED;
		r->queued += rc == STORE_QUEUED;
		r->wrong += rc == STORE_DENIED && !a.rate;
		r->failed += rc != STORE_OK && rc != STORE_DENIED && rc != STORE_QUEUED;
	}
	r->failed += c == NULL;
	store_close(c);
	return NULL;
}

/* THREADS x EACH new users at once on a service with room for all but rate R. */
static void
race_rate(int queue, int rate, const char *name)
{
	int64_t v = fx_service(s, name, THREADS * EACH, 60, 10, root);
	pthread_barrier_t start;
	pthread_t th[THREADS];
	struct racer r[THREADS];
	char prefix[16];
	int ok = 0, denied = 0, queued = 0, failed = 0, wrong = 0;

	set_queue(v, QUEUE_DEFAULT, 0, 0, rate);
	pthread_barrier_init(&start, NULL, THREADS);
	for (int t = 0; t < THREADS; t++) {
		r[t] = (struct racer){ .f = &fx, .start = &start, .v = v, .queue = queue };
		snprintf(prefix, sizeof prefix, "%s%d-", name, t);
		users(r[t].users, EACH, prefix);
	}
	for (int t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, race, &r[t]), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&start);
	for (int t = 0; t < THREADS; t++) {
		ok += r[t].ok;
		denied += r[t].denied;
		queued += r[t].queued;
		failed += r[t].failed;
		wrong += r[t].wrong;
	}
	cr_assert_eq(failed, 0, "store errors under contention: %s", store_error(s));
	cr_assert_eq(ok, rate, "rate %d: %d admitted in the minute", rate, ok);
	cr_assert_eq(fx_live_rights(s, v), rate);
	if (queue) {
		cr_assert_eq(queued, THREADS * EACH - rate, "the others wait in line");
	} else {
		cr_assert_eq(denied, THREADS * EACH - rate);
		cr_assert_eq(wrong, 0, "every refusal names the rate");
	}
}

Test(rate, the_rate_is_exact_under_concurrent_admissions, .timeout = 120)
{
	race_rate(0, 7, "a");
	race_rate(0, 1, "b");
}

Test(rate, the_rate_is_exact_under_concurrent_waiting_room_admissions, .timeout = 120)
{
	race_rate(1, 9, "q");
}

Test(rate, the_head_of_the_line_waits_for_the_rate_and_nobody_passes_it)
{
	int64_t v = fx_service(s, "lab", 10, 60, 10, root), u[4];
	struct store_admission a;
	struct store_place pl;

	users(u, 4, "u");
	set_queue(v, QUEUE_ON, 0, 0, 1);
	cr_assert_eq(ask(s, u[0], v, T0, &a, &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0 + 1, &a, &pl), STORE_QUEUED, "slots are free, the rate is not");
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(ask(s, u[2], v, T0 + 2, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
	/* The rate has room again: only the head may take it. */
	cr_assert_eq(ask(s, u[2], v, T0 + 60, &a, &pl), STORE_QUEUED, "the second does not pass");
	cr_assert_eq(ask(s, u[3], v, T0 + 60, &a, &pl), STORE_QUEUED, "nor does a newcomer");
	cr_assert_eq(pl.position, 3);
	cr_assert_eq(ask(s, u[1], v, T0 + 60, &a, &pl), STORE_OK, "the head is admitted");
	cr_assert_eq(ask(s, u[2], v, T0 + 61, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 1);
	/* A holder renews without waiting for the rate. */
	cr_assert_eq(ask(s, u[0], v, T0 + 62, &a, &pl), STORE_OK);
	cr_assert_eq(a.replaced, 1);
	cr_assert_eq(ask(s, u[2], v, T0 + 119, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[2], v, T0 + 120, &a, &pl), STORE_OK);
	cr_assert_eq(fx_live_rights(s, v), 3);
}

Test(rate, service_queue_settings_are_stored_and_checked)
{
	int64_t v = fx_service(s, "lab", 10, 60, 10, root);
	static const struct service_queue bad[] = {
		{ 2, 0, 0, 0 }, { -2, 0, 0, 0 }, { QUEUE_ON, -1, 0, 0 },
		{ QUEUE_ON, QUEUE_MAX_PLACES + 1, 0, 0 }, { QUEUE_ON, 0, 9, 0 },
		{ QUEUE_ON, 0, 86401, 0 }, { QUEUE_ON, 0, 0, -1 },
		{ QUEUE_ON, 0, 0, RATE_MAX_PER_MIN + 1 },
	};
	struct store_service svc;
	char err[200];

	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_eq(svc.queue.mode, QUEUE_DEFAULT, "a new service takes the [authd] defaults");
	cr_assert_eq(svc.queue.max, 0);
	cr_assert_eq(svc.queue.lapse_s, 0);
	cr_assert_eq(svc.queue.rate_per_min, 0);
	set_queue(v, QUEUE_OFF, 50, 120, 30);
	cr_assert_eq(store_service_get(s, "lab", &svc), STORE_OK);
	cr_assert_eq(svc.queue.mode, QUEUE_OFF);
	cr_assert_eq(svc.queue.max, 50);
	cr_assert_eq(svc.queue.lapse_s, 120);
	cr_assert_eq(svc.queue.rate_per_min, 30);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		cr_assert_eq(store_service_set_queue(s, v, &bad[i], err, sizeof err), STORE_INVALID,
		             "bad setting %zu accepted", i);
		cr_assert_neq(err[0], '\0', "a reason is given");
	}
	cr_assert_eq(store_service_get_id(s, v, &svc), STORE_OK);
	cr_assert_eq(svc.queue.rate_per_min, 30, "a refused change changes nothing");
	cr_assert_eq(store_service_set_queue(s, v + 1000, &(struct service_queue){ -1, 0, 0, 0 },
	                                     err, sizeof err), STORE_NOTFOUND);
}

struct named { char names[256]; int n; };

static int
note_lapse(const struct store_qplace *p, void *arg)
{
	struct named *c = arg;

	snprintf(c->names + strlen(c->names), sizeof c->names - strlen(c->names), "%s@%lld ",
	         p->user_name, (long long)(p->last_poll - T0));
	c->n++;
	return 0;
}

Test(rate, lapses_name_their_users_and_places_list_the_line_in_order)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[4];
	struct store_qplace p[8];
	struct store_admission a;
	struct store_place pl;
	struct named c = { "", 0 };
	int n = -1;

	users(u, 4, "w");
	cr_assert_eq(ask(s, u[0], v, T0, &a, &pl), STORE_OK);
	for (int i = 1; i < 4; i++)
		cr_assert_eq(ask(s, u[i], v, T0 + i, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[2], v, T0 + 20, &a, &pl), STORE_QUEUED, "w2 keeps polling");
	cr_assert_eq(store_queue_places(s, v, p, 8, &n), STORE_OK);
	cr_assert_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(p[i].position, i + 1);
		cr_assert_eq(p[i].user_id, u[i + 1]);
		cr_assert_eq(p[i].joined_at, T0 + i + 1);
	}
	cr_assert_str_eq(p[0].user_name, "w1");
	cr_assert_eq(p[1].last_poll, T0 + 20);
	cr_assert_eq(store_queue_places(s, v, p, 2, &n), STORE_OK);
	cr_assert_eq(n, 2, "bounded by max");
	/* At T0 + 33, places polled last at or before T0 + 3 lapse (30 s). */
	cr_assert_eq(store_queue_lapse(s, v, T0 + 33, 30, note_lapse, &c, &n), STORE_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.names, "w1@1 w3@3 ");
	cr_assert_eq(store_queue_places(s, v, p, 8, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(p[0].user_name, "w2");
	cr_assert_eq(p[0].position, 1);
	cr_assert_eq(store_queue_lapse(s, v, T0 + 33, 30, note_lapse, &c, &n), STORE_OK);
	cr_assert_eq(n, 0, "nothing left to lapse");
	/* An operator removes a place. */
	cr_assert_eq(store_queue_leave(s, u[2], v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_queue_places(s, v, p, 8, &n), STORE_OK);
	cr_assert_eq(n, 0);
}
