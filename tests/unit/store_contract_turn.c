/*
 * The store contract, part 6 (common/store.h): the turns of a waiting room.
 * A place's turn comes when it is among the first k places of the line, k
 * the users the service could admit now; every admission transaction of the
 * service stamps it, and the admission from the place reports it. Linked
 * into every test_store_contract_<backend>, so each backend runs it. Each
 * test gets a fresh, empty store of its own.
 */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "store.h"
#include "store_contract.h"

#define T0 1700000000LL
#define LINE_MAX 8

static struct fx fx;
static struct store *s;
static int64_t root;
static const struct store_queue_rules rules = { .lapse_s = 300, .max = 100, .window_s = 600 };

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

TestSuite(turn, .init = setup, .fini = teardown);

static void
users(int64_t *u, int n)
{
	char name[NAME_MAX_LEN + 1];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "t%d", i);
		u[i] = fx_user(s, name, ROLE_USER);
	}
}

static struct addr
ip_of(int64_t user)
{
	return (struct addr){ .family = AF_INET, .bytes = { 10, 4, 0, (uint8_t)(user % 250) } };
}

static int
ask(int64_t user, int64_t v, int64_t now, struct store_admission *a, struct store_place *pl)
{
	struct addr ip = ip_of(user);

	return store_queue_admit(s, user, v, &ip, now, &rules, a, pl);
}

/* The turn_at of each place in line order into turns (0: none); how many places. */
static int
turns(int64_t v, int64_t *turns)
{
	struct store_qplace p[LINE_MAX];
	int n;

	cr_assert_eq(store_queue_places(s, v, p, LINE_MAX, &n), STORE_OK, "%s", store_error(s));
	for (int i = 0; i < n; i++)
		turns[i] = p[i].turn_at;
	return n;
}

/* Cap 2 held by u[0] and u[1], u[2..4] in line at T0 + 1..3 (positions 1..3). */
static int64_t
full_line(int64_t *u, struct store_admission *held)
{
	int64_t v = fx_service(s, "lab", 2, 60, 10, root), t[LINE_MAX];
	struct store_admission a;
	struct store_place pl;

	users(u, 5);
	cr_assert_eq(ask(u[0], v, T0, &held[0], &pl), STORE_OK);
	cr_assert_eq(ask(u[1], v, T0, &held[1], &pl), STORE_OK);
	for (int i = 2; i < 5; i++) {
		cr_assert_eq(ask(u[i], v, T0 + i - 1, &a, &pl), STORE_QUEUED);
		cr_assert_eq(pl.turn_at, 0, "a full service gives no turn");
	}
	cr_assert_eq(turns(v, t), 3);
	cr_assert(t[0] == 0 && t[1] == 0 && t[2] == 0);
	return v;
}

Test(turn, a_freed_slot_gives_the_head_its_turn_at_the_next_admission_and_nobody_else)
{
	int64_t u[5], t[LINE_MAX], v;
	struct store_admission held[2], a;
	struct store_place pl;

	v = full_line(u, held);
	cr_assert_eq(store_end(s, held[0].right.id, END_LOGOUT, T0 + 10, NULL), STORE_OK);
	turns(v, t);
	cr_assert_eq(t[0], 0, "ending a right is no admission: the turn waits for the next one");

	cr_assert_eq(ask(u[4], v, T0 + 11, &a, &pl), STORE_QUEUED, "position 3 is not admitted");
	cr_assert_eq(pl.position, 3);
	cr_assert_eq(pl.turn_at, 0, "nor given a turn");
	cr_assert_eq(turns(v, t), 3);
	cr_assert_eq(t[0], T0 + 11, "its poll was an admission of the service: the head's turn came");
	cr_assert(t[1] == 0 && t[2] == 0, "one slot free: one turn (%lld %lld)", (long long)t[1],
	          (long long)t[2]);
	cr_assert_eq(fx_live_rights(s, v), 1, "the slot is held for the head");

	cr_assert_eq(ask(u[4], v, T0 + 12, &a, &pl), STORE_QUEUED);
	cr_assert_eq(ask(u[3], v, T0 + 13, &a, &pl), STORE_QUEUED);
	cr_assert_eq(pl.turn_at, 0);
	turns(v, t);
	cr_assert_eq(t[0], T0 + 11, "later polls do not move the head's turn");

	cr_assert_eq(ask(u[2], v, T0 + 14, &a, &pl), STORE_OK, "the head is admitted");
	cr_assert_eq(pl.turn_at, T0 + 11, "and its admission reports its turn");
	cr_assert_leq(pl.turn_at, a.right.created_at);
	cr_assert_eq(turns(v, t), 2);
	cr_assert(t[0] == 0 && t[1] == 0, "full again: no more turns");
}

Test(turn, a_place_keeps_its_first_turn_when_the_slot_is_taken_before_it_polls)
{
	int64_t u[5], t[LINE_MAX], v, other = 0;
	struct store_admission held[2], a, granted;
	struct store_place pl;
	struct addr ip;

	v = full_line(u, held);
	cr_assert_eq(store_end(s, held[0].right.id, END_LOGOUT, T0 + 10, NULL), STORE_OK);
	other = fx_user(s, "operator-pick", ROLE_USER);
	ip = ip_of(other);
	cr_assert_eq(store_admit(s, other, v, &ip, T0 + 11, &granted), STORE_OK,
	             "a grant passes the line, never the cap");
	turns(v, t);
	cr_assert_eq(t[0], T0 + 11, "the grant's admission stamped the head's turn first");
	cr_assert_eq(ask(u[2], v, T0 + 12, &a, &pl), STORE_QUEUED, "full again: the head waits");
	cr_assert_eq(pl.position, 1);
	cr_assert_eq(pl.turn_at, T0 + 11, "a waiting place reports its turn too");
	cr_assert_eq(store_end(s, held[1].right.id, END_LOGOUT, T0 + 20, NULL), STORE_OK);
	cr_assert_eq(ask(u[3], v, T0 + 21, &a, &pl), STORE_QUEUED);
	turns(v, t);
	cr_assert_eq(t[0], T0 + 11, "a turn is never moved later");
	cr_assert_eq(t[1], 0);
	cr_assert_eq(ask(u[2], v, T0 + 22, &a, &pl), STORE_OK);
	cr_assert_eq(pl.turn_at, T0 + 11);
}

Test(turn, with_a_rate_only_as_many_places_get_a_turn_as_the_rate_allows)
{
	int64_t v = fx_service(s, "lab", 10, 60, 10, root), u[7], t[LINE_MAX];
	struct service_queue q = { QUEUE_ON, 0, 0, 2 };
	struct store_admission a;
	struct store_place pl;
	char err[200];

	users(u, 7);
	cr_assert_eq(store_service_set_queue(s, v, &q, err, sizeof err), STORE_OK, "%s", err);
	cr_assert_eq(ask(u[0], v, T0, &a, &pl), STORE_OK);
	cr_assert_eq(ask(u[1], v, T0, &a, &pl), STORE_OK);
	for (int i = 2; i < 7; i++)
		cr_assert_eq(ask(u[i], v, T0 + i, &a, &pl), STORE_QUEUED, "slots free, the rate spent");
	cr_assert_eq(turns(v, t), 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(t[i], 0, "place %d: no turn while the rate is spent", i + 1);

	cr_assert_eq(ask(u[6], v, T0 + 60, &a, &pl), STORE_QUEUED, "the rate has room for two");
	cr_assert_eq(pl.turn_at, 0);
	turns(v, t);
	cr_assert(t[0] == T0 + 60 && t[1] == T0 + 60, "the first two get their turn");
	cr_assert(t[2] == 0 && t[3] == 0 && t[4] == 0, "eight slots free, but the rate allows two");
	cr_assert_eq(ask(u[2], v, T0 + 61, &a, &pl), STORE_OK);
	cr_assert_eq(pl.turn_at, T0 + 60);
	cr_assert_eq(turns(v, t), 4);
	cr_assert(t[0] == T0 + 60 && t[1] == 0, "one admission of the two: still one turn");
}
