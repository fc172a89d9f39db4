/*
 * The TLS session-ticket ring (common/ring.c with RING_TLS) and what the
 * terminators get from it (common/tlskeys.c): slots in order, keys derived
 * the same way every time, distinct per key.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fixture.h"
#include "store.h"
#include "tlskeys.h"

#define NOW 1800000000
#define ROT 600

static struct fx fx;
static struct store *s;
static const struct ring_policy pol = { .rotate_s = ROT, .keep_s = ROT };

static void
setup(void)
{
	fx_init(&fx);
	s = fx_open(&fx);
}

static void
teardown(void)
{
	store_close(s);
	fx_cleanup(&fx);
}

TestSuite(tlskeys, .init = setup, .fini = teardown);

static void
slots_at(int64_t now, struct keyring *kr, struct tls_slots *sl)
{
	cr_assert_eq(ring_load(s, &RING_TLS, now, kr), STORE_OK);
	cr_assert_eq(tls_slots(kr, now, 1, sl), 0);
}

Test(tlskeys, ensure_provisions_current_and_next_once)
{
	struct keyring kr;
	struct tls_slots sl;
	int added;

	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW, &pol, &added), STORE_OK);
	cr_assert_eq(added, 2);
	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW + 1, &pol, &added), STORE_OK);
	cr_assert_eq(added, 0, "a second gateway finds the ring complete");
	slots_at(NOW, &kr, &sl);
	cr_assert_eq(sl.n, 3);
	cr_assert_eq(sl.key[1]->activates_at, NOW + ROT, "next activates when current's period ends");
	cr_assert_eq(sl.key[2], sl.key[0], "no previous key yet: the slot repeats the current one");
}

Test(tlskeys, the_next_key_becomes_current_and_the_old_one_previous)
{
	struct keyring kr;
	struct tls_slots sl;
	uint32_t cur, nx;
	int added;

	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW, &pol, &added), STORE_OK);
	slots_at(NOW, &kr, &sl);
	cur = sl.key[0]->kid;
	nx = sl.key[1]->kid;
	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW + ROT, &pol, &added), STORE_OK);
	cr_assert_eq(added, 1, "only a new next key");
	slots_at(NOW + ROT, &kr, &sl);
	cr_assert_eq(sl.key[0]->kid, nx);
	cr_assert_eq(sl.key[2]->kid, cur);
	cr_assert_neq(sl.key[1]->kid, cur);
	cr_assert_neq(sl.key[1]->kid, nx);
	/* Past the window the old key is gone from the store. */
	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW + 3 * ROT, &pol, &added), STORE_OK);
	cr_assert_eq(ring_load(s, &RING_TLS, NOW + 3 * ROT, &kr), STORE_OK);
	for (int i = 0; i < kr.n; i++)
		cr_assert_neq(kr.keys[i].kid, cur);
}

Test(tlskeys, rotate_promotes_the_key_every_gateway_already_holds)
{
	struct keyring kr;
	struct tls_slots sl;
	uint32_t cur, nx;
	int added;

	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW, &pol, &added), STORE_OK);
	slots_at(NOW, &kr, &sl);
	cur = sl.key[0]->kid;
	nx = sl.key[1]->kid;
	cr_assert_eq(ring_rotate(s, &RING_TLS, NOW + 10, &pol), STORE_OK);
	slots_at(NOW + 10, &kr, &sl);
	cr_assert_eq(sl.key[0]->kid, nx);
	cr_assert_eq(sl.key[2]->kid, cur);
}

Test(tlskeys, a_lapsed_ring_gets_a_current_key_from_now)
{
	struct keyring kr;
	struct tls_slots sl;
	int added;

	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW, &pol, &added), STORE_OK);
	cr_assert_eq(ring_ensure(s, &RING_TLS, NOW + 10 * ROT, &pol, &added), STORE_OK);
	cr_assert_eq(added, 2);
	slots_at(NOW + 10 * ROT, &kr, &sl);
	cr_assert_eq(sl.key[0]->activates_at, NOW + 10 * ROT);
}

Test(tlskeys, ticket_keys_are_derived_deterministically_and_differ_per_key)
{
	struct store_key a = { .kid = 1 }, b = { .kid = 2 };
	uint8_t ka[TLS_TICKET_KEY_LEN], ka2[TLS_TICKET_KEY_LEN], kb[TLS_TICKET_KEY_LEN];
	char b64[TLS_TICKET_B64_LEN + 1];

	memset(a.secret, 1, KEY_SECRET_LEN);
	memset(b.secret, 2, KEY_SECRET_LEN);
	cr_assert_eq(tls_ticket_key(&a, ka), 0);
	cr_assert_eq(tls_ticket_key(&a, ka2), 0);
	cr_assert_eq(tls_ticket_key(&b, kb), 0);
	cr_assert_eq(memcmp(ka, ka2, sizeof ka), 0);
	cr_assert_neq(memcmp(ka, kb, 16), 0, "key names differ");
	cr_assert_neq(memcmp(ka + 16, ka + 48, 32), 0, "the two halves differ");
	cr_assert_eq(tls_ticket_b64(&a, b64), 0);
	cr_assert_eq(strlen(b64), TLS_TICKET_B64_LEN);
	cr_assert_eq(b64[TLS_TICKET_B64_LEN - 1], '=');
}

Test(tlskeys, no_slots_without_a_next_key)
{
	struct keyring kr = { .n = 1 };
	struct tls_slots sl;

	kr.keys[0] = (struct store_key){ .kid = 1, .activates_at = NOW, .expires_at = NOW + ROT };
	cr_assert_eq(tls_slots(&kr, NOW, 1, &sl), -1);
}
