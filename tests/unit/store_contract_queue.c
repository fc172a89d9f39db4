/*
 * The store contract, part 6 (common/store.h): the waiting room. Linked into
 * every test_store_contract_<backend> with store_contract.c, so each backend
 * runs it. Each test gets a fresh, empty store of its own.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "adaptive.h"
#include "fixture.h"
#include "store.h"
#include "store_contract.h"

#define T0 1700000000LL
#define LAPSE 30

static struct fx fx;
static struct store *s;
static int64_t root;
static const struct store_queue_rules rules = { .lapse_s = LAPSE, .max = 100, .window_s = 600 };

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

TestSuite(store_queue, .init = setup, .fini = teardown);

/* store_queue_admit from 10.0.0.<user % 250>; pl->position on STORE_QUEUED. */
static int
ask(struct store *c, int64_t user, int64_t svc, int64_t now, const struct store_queue_rules *r,
    struct store_admission *a, struct store_place *pl)
{
	struct addr ip = { .family = AF_INET, .bytes = { 10, 0, 0, (uint8_t)(user % 250) } };

	return store_queue_admit(c, user, svc, &ip, now, r, a, pl);
}

static void
users(int64_t *u, int n, const char *prefix)
{
	char name[NAME_MAX_LEN + 1];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%d", prefix, i);
		u[i] = fx_user(s, name, ROLE_USER);
	}
}

Test(store_queue, full_service_gives_places_in_arrival_order_and_admits_the_head)
{
	int64_t v = fx_service(s, "lab", 2, 60, 10, root), u[5];
	struct store_admission a, held[2];
	struct store_place pl;

	users(u, 5, "u");
	cr_assert_eq(ask(s, u[0], v, T0, &rules, &held[0], &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0, &rules, &held[1], &pl), STORE_OK);
	for (int i = 2; i < 5; i++) {
		cr_assert_eq(ask(s, u[i], v, T0 + i, &rules, &a, &pl), STORE_QUEUED);
		cr_assert_eq(pl.position, i - 1);
		cr_assert_eq(pl.waiting, i - 1);
		cr_assert_eq(pl.joined_at, T0 + i);
		cr_assert_eq(pl.joined, 1);
		cr_assert_eq(a.right.id, 0);
	}
	/* A refresh neither gains nor loses a place. */
	cr_assert_eq(ask(s, u[3], v, T0 + 10, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
	cr_assert_eq(pl.joined_at, T0 + 3);
	cr_assert_eq(pl.joined, 0);
	cr_assert_eq(fx_live_rights(s, v), 2);

	cr_assert_eq(store_end(s, held[0].right.id, END_LOGOUT, T0 + 11, NULL), STORE_OK);
	/* The slot is the head's: the second in line and a newcomer wait. */
	cr_assert_eq(ask(s, u[3], v, T0 + 12, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
	cr_assert_eq(pl.departures, 1);
	cr_assert_eq(ask(s, u[0], v, T0 + 12, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 4, "a newcomer joins at the end");
	cr_assert_eq(fx_live_rights(s, v), 1, "the head's slot stays free until claimed");
	cr_assert_eq(ask(s, u[2], v, T0 + 13, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(pl.position, 0);
	cr_assert_eq(pl.waiting, 3);
	cr_assert_eq(a.active, 2);
	cr_assert_gt(a.right.id, 0);
	cr_assert_eq(ask(s, u[3], v, T0 + 14, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 1, "the others move up");
	cr_assert_eq(ask(s, u[4], v, T0 + 14, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
}

Test(store_queue, an_empty_line_admits_directly_and_a_holder_is_never_queued)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[2];
	struct store_admission a;
	struct store_place pl;
	int n;
	int64_t oldest;

	users(u, 2, "u");
	cr_assert_eq(ask(s, u[0], v, T0, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[0], v, T0 + 1, &rules, &a, &pl), STORE_OK,
	             "a user holding a right replaces it");
	cr_assert_eq(a.replaced, 1);
	cr_assert_eq(store_queue_len(s, v, &n, &oldest), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(oldest, T0);
	cr_assert_eq(store_queue_leave(s, u[1], v, &n), STORE_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_queue_len(s, v, &n, &oldest), STORE_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(oldest, 0);
}

Test(store_queue, a_place_lapses_when_its_browser_stops_polling)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[3];
	struct store_admission a;
	struct store_place pl;

	users(u, 3, "u");
	cr_assert_eq(ask(s, u[0], v, T0, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[2], v, T0 + 1, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
	cr_assert_eq(ask(s, u[2], v, T0 + LAPSE - 1, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2, "not lapsed before lapse_s");
	cr_assert_eq(pl.lapsed, 0);
	cr_assert_eq(ask(s, u[2], v, T0 + LAPSE, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.lapsed, 1);
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(ask(s, u[1], v, T0 + LAPSE + 1, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2, "a lapsed user comes back at the end");
}

Test(store_queue, the_bound_refuses_newcomers_but_not_those_in_line)
{
	struct store_queue_rules two = rules;
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[4];
	struct store_admission a;
	struct store_place pl;

	two.max = 2;
	users(u, 4, "u");
	cr_assert_eq(ask(s, u[0], v, T0, &two, &a, &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0, &two, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[2], v, T0, &two, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(s, u[3], v, T0, &two, &a, &pl), STORE_DENIED);
	cr_assert_eq(pl.position, 0);
	cr_assert_eq(pl.waiting, 2);
	cr_assert_eq(ask(s, u[2], v, T0 + 1, &two, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 2);
	two.max = 0;
	cr_assert_eq(ask(s, u[2], v, T0 + 1, &two, &a, &pl), STORE_INVALID);
}

#define QR_THREADS 4
#define QR_EACH    10
#define QR_CAP     3

struct qracer {
	int64_t service_id, users[QR_EACH];
	int64_t right_of[QR_EACH];           /* the right each user got, 0 while queued */
	int failed, over_cap;
	pthread_barrier_t *start;
};

/* Polls this thread's users until all are admitted; ends each right at once. */
static void *
qrace(void *arg)
{
	struct qracer *r = arg;
	char err[256];
	struct store *c = store_open(&fx.db, 0, err, sizeof err);
	struct store_admission a;
	struct store_place pl;
	int left = QR_EACH;

	pthread_barrier_wait(r->start);
	for (int round = 0; c && left > 0 && round < 5000; round++)
		for (int i = 0; i < QR_EACH; i++) {
			if (r->right_of[i])
				continue;
			int rc = ask(c, r->users[i], r->service_id, T0 + 1, &rules, &a, &pl);
			if (rc == STORE_OK) {
				r->right_of[i] = a.right.id;
				r->over_cap += a.active > QR_CAP;
				if (store_end(c, a.right.id, END_LOGOUT, T0 + 1, NULL) != STORE_OK &&
				    r->failed++ == 0)
					fprintf(stderr, "queue race: end: %s\n", store_error(c));
				left--;
			} else if (rc != STORE_QUEUED) {
				if (r->failed++ == 0)
					fprintf(stderr, "queue race: %s\n", store_error(c));
			}
		}
	if (c == NULL || left > 0)
		fprintf(stderr, "queue race: %s (%d left)\n", c ? store_error(c) : err, left);
	r->failed += c == NULL || left > 0;
	store_close(c);
	return NULL;
}

/*
 * Users queued in a known order, polled from several connections at once:
 * when a user is admitted, fewer than cap of those who arrived earlier are
 * still waiting (only the first `free` places hold slots), and the cap
 * holds throughout.
 */
Test(store_queue, fifo_holds_under_concurrent_polls, .timeout = 120)
{
	int64_t v = fx_service(s, "race", QR_CAP, 60, 10, root), holders[QR_CAP], held[QR_CAP];
	int64_t right[QR_THREADS * QR_EACH];
	struct qracer r[QR_THREADS];
	struct store_admission a;
	struct store_place pl;
	pthread_barrier_t start;
	pthread_t th[QR_THREADS];
	char prefix[8];
	int failed = 0, over = 0, n = QR_THREADS * QR_EACH;

	users(holders, QR_CAP, "h");
	for (int i = 0; i < QR_CAP; i++) {
		cr_assert_eq(ask(s, holders[i], v, T0, &rules, &a, &pl), STORE_OK);
		held[i] = a.right.id;
	}
	pthread_barrier_init(&start, NULL, QR_THREADS);
	for (int t = 0; t < QR_THREADS; t++) {
		memset(&r[t], 0, sizeof r[t]);
		r[t].service_id = v;
		r[t].start = &start;
		snprintf(prefix, sizeof prefix, "q%d-", t);
		users(r[t].users, QR_EACH, prefix);
	}
	/* Arrival order interleaves the threads: place k is thread k % T, user k / T. */
	for (int k = 0; k < QR_THREADS * QR_EACH; k++) {
		int64_t u = r[k % QR_THREADS].users[k / QR_THREADS];
		cr_assert_eq(ask(s, u, v, T0, &rules, &a, &pl), STORE_QUEUED);
		cr_assert_eq(pl.position, k + 1);
	}
	for (int i = 0; i < QR_CAP; i++)
		cr_assert_eq(store_end(s, held[i], END_LOGOUT, T0, NULL), STORE_OK);
	for (int t = 0; t < QR_THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, qrace, &r[t]), 0);
	for (int t = 0; t < QR_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&start);
	for (int k = 0; k < n; k++)
		right[k] = r[k % QR_THREADS].right_of[k / QR_THREADS];
	for (int t = 0; t < QR_THREADS; t++) {
		failed += r[t].failed;
		over += r[t].over_cap;
	}
	cr_assert_eq(failed, 0, "%s", store_error(s));
	cr_assert_eq(over, 0);
	for (int k = 0; k < n; k++) {
		int behind = 0;
		for (int j = 0; j < k; j++)
			behind += right[j] > right[k];
		cr_assert_lt(behind, QR_CAP, "place %d passed %d earlier places", k + 1, behind);
	}
	cr_assert_eq(fx_live_rights(s, v), 0);
}

static void
set_adaptive(int64_t v)
{
	struct service_load l = { .cap_mode = CAP_ADAPTIVE, .cap_min = 1 };
	char err[200];

	snprintf(l.probe, sizeof l.probe, "%s", "http://10.0.0.9/health");
	cr_assert_eq(store_service_set_load(s, v, &l, err, sizeof err), STORE_OK, "%s", err);
}

Test(store_queue, the_line_is_held_at_the_effective_cap)
{
	int64_t v = fx_service(s, "lab", 3, 60, 10, root), u[3];
	struct store_admission a;
	struct store_place pl;

	users(u, 3, "u");
	set_adaptive(v);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, 1), STORE_OK);
	cr_assert_eq(ask(s, u[0], v, T0, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(a.cap, 1, "the effective cap is what was compared");
	cr_assert_eq(ask(s, u[1], v, T0 + 1, &rules, &a, &pl), STORE_QUEUED,
	             "the second user queues although the configured cap is 3");
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(a.cap, 1);
	cr_assert_eq(a.active, 1);
	cr_assert_eq(fx_live_rights(s, v), 1);
	/* The prober raises the cap: the head is admitted at its next poll. */
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, 2), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0 + 2, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(pl.waiting, 0);
	cr_assert_eq(ask(s, u[2], v, T0 + 3, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(fx_live_rights(s, v), 2);
}

/*
 * A holder passes the line, never the cap in force: over a lowered effective
 * cap its relogin keeps the right it has and waits in line (docs/adaptive.md).
 */
Test(store_queue, a_holder_over_a_lowered_cap_keeps_its_right_and_waits_its_turn)
{
	int64_t v = fx_service(s, "lab", 3, 60, 10, root), u[3];
	struct store_admission a, held[3];
	struct store_place pl;
	int n = -1;
	int64_t oldest;

	users(u, 3, "u");
	set_adaptive(v);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ask(s, u[i], v, T0, &rules, &held[i], &pl), STORE_OK);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, 1), STORE_OK);

	cr_assert_eq(ask(s, u[0], v, T0 + 1, &rules, &a, &pl), STORE_QUEUED,
	             "3 live rights over an effective cap of 1: the relogin waits");
	cr_assert_eq(a.replaced, 0, "nothing was replaced");
	cr_assert_eq(a.right.id, 0);
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(pl.joined, 1);
	cr_assert_eq(fx_live_rights(s, v), 3, "its right stays live");
	cr_assert_eq(fx_active(s, v), 3);
	cr_assert_eq(store_admit(s, u[0], v, &held[0].right.ip, T0 + 1, &a), STORE_DENIED,
	             "an operator's grant does not pass the cap either");
	cr_assert_eq(fx_live_rights(s, v), 3);

	/* Under the cap again (the others leave): the head replaces its right. */
	cr_assert_eq(store_end(s, held[1].right.id, END_LOGOUT, T0 + 2, NULL), STORE_OK);
	cr_assert_eq(ask(s, u[0], v, T0 + 3, &rules, &a, &pl), STORE_QUEUED,
	             "2 live: its replacement would still be over the cap");
	cr_assert_eq(store_end(s, held[2].right.id, END_LOGOUT, T0 + 4, NULL), STORE_OK);
	cr_assert_eq(ask(s, u[0], v, T0 + 5, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(a.replaced, 1);
	cr_assert_eq(a.replaced_id, held[0].right.id);
	cr_assert_eq(a.active, 1);
	cr_assert_eq(fx_live_rights(s, v), 1);
	cr_assert_eq(store_queue_len(s, v, &n, &oldest), STORE_OK);
	cr_assert_eq(n, 0, "its place went with the admission");
}

Test(store_queue, a_down_service_gives_no_place_in_line)
{
	int64_t v = fx_service(s, "lab", 1, 60, 10, root), u[3];
	struct store_admission a;
	struct store_place pl;
	int n = -1;
	int64_t oldest;

	users(u, 3, "u");
	set_adaptive(v);
	cr_assert_eq(ask(s, u[0], v, T0, &rules, &a, &pl), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0 + 1, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(store_service_set_health(s, v, HEALTH_DOWN, -1), STORE_OK);
	cr_assert_eq(ask(s, u[2], v, T0 + 2, &rules, &a, &pl), STORE_DENIED);
	cr_assert_eq(a.down, 1, "refused as down, not as a full line");
	cr_assert_eq(a.right.id, 0);
	cr_assert_eq(pl.position, 0, "no place in line");
	cr_assert_eq(pl.joined, 0);
	cr_assert_eq(ask(s, u[1], v, T0 + 3, &rules, &a, &pl), STORE_DENIED,
	             "one in line is refused as down too");
	cr_assert_eq(a.down, 1);
	cr_assert_eq(store_queue_len(s, v, &n, &oldest), STORE_OK);
	cr_assert_eq(n, 1, "only the place taken before the service went down");
	cr_assert_eq(fx_live_rights(s, v), 1, "the admitted right stays");
	/* Up again: the line goes on where it was. */
	cr_assert_eq(store_service_set_health(s, v, HEALTH_UP, -1), STORE_OK);
	cr_assert_eq(ask(s, u[1], v, T0 + 4, &rules, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(a.down, 0);
}
