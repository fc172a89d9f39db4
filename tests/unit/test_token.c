#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "conf.h"
#include "fixture.h"
#include "store.h"
#include "token.h"
#include "keys.h"

#define NOW 1700000000
#define TOKEN_CHARS 92

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct keyring
ring1(void)
{
	struct keyring kr = { .n = 1 };

	kr.keys[0] = test_key(7, 0x11, NOW - 100, NOW + 1000);
	return kr;
}

static struct token
sample(int64_t expires_at)
{
	struct token t;

	memset(&t, 0, sizeof t);
	for (int i = 0; i < SID_BYTES; i++)
		t.sid[i] = (uint8_t)(i * 17 + 3);
	t.service_id = 42;
	t.expires_at = expires_at;
	return t;
}

Test(token, round_trip_keeps_every_field)
{
	struct keyring kr = ring1();
	struct token t = sample(NOW + 600), got;
	char s[TOKEN_STR_MAX];

	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	cr_assert_eq(t.kid, 7);
	cr_assert_eq(strlen(s), TOKEN_CHARS);
	cr_assert_eq(strspn(s, b64url), TOKEN_CHARS, "base64url without padding: %s", s);
	memset(&got, 0, sizeof got);
	cr_assert_eq(token_verify(&kr, NOW, s, strlen(s), &got), TOKEN_OK);
	cr_assert_eq(got.kid, 7);
	cr_assert_eq(memcmp(got.sid, t.sid, SID_BYTES), 0);
	cr_assert_eq(got.service_id, 42);
	cr_assert_eq(got.expires_at, NOW + 600);
}

Test(token, large_and_negative_fields_survive)
{
	struct keyring kr = ring1();
	struct token t = sample(INT64_MAX), got;
	char s[TOKEN_STR_MAX];

	t.service_id = INT64_MAX;
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	cr_assert_eq(token_verify(&kr, NOW, s, strlen(s), &got), TOKEN_OK);
	cr_assert_eq(got.service_id, INT64_MAX);
	cr_assert_eq(got.expires_at, INT64_MAX);
}

Test(token, every_tampered_character_is_refused)
{
	struct keyring kr = ring1();
	struct token t = sample(NOW + 600), got;
	char s[TOKEN_STR_MAX], x[TOKEN_STR_MAX];
	int rc;

	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	for (size_t i = 0; i < TOKEN_CHARS; i++) {
		for (const char *c = "AQgw-_9"; *c != '\0'; c++) {
			if (*c == s[i])
				continue;
			strcpy(x, s);
			x[i] = *c;
			rc = token_verify(&kr, NOW, x, strlen(x), &got);
			cr_assert_neq(rc, TOKEN_OK, "position %zu changed to %c", i, *c);
		}
	}
}

Test(token, a_different_secret_under_the_same_kid_is_a_bad_tag)
{
	struct keyring kr = ring1(), other = ring1();
	struct token t = sample(NOW + 600), got;
	char s[TOKEN_STR_MAX];

	other.keys[0].secret[31] ^= 1;
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	cr_assert_eq(token_verify(&other, NOW, s, strlen(s), &got), TOKEN_BAD_TAG);
}

Test(token, an_unknown_kid_is_refused_without_a_key)
{
	struct keyring kr = ring1(), other = { .n = 1 };
	struct token t = sample(NOW + 600), got;
	char s[TOKEN_STR_MAX];

	other.keys[0] = test_key(8, 0x11, NOW - 100, NOW + 1000);
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	cr_assert_eq(token_verify(&other, NOW, s, strlen(s), &got), TOKEN_UNKNOWN_KEY);
	other.n = 0;
	cr_assert_eq(token_verify(&other, NOW, s, strlen(s), &got), TOKEN_UNKNOWN_KEY);
}

Test(token, a_rotated_key_verifies_until_it_expires)
{
	struct keyring kr = { .n = 2 };
	struct token t = sample(NOW + 5000), got;
	char old[TOKEN_STR_MAX], fresh[TOKEN_STR_MAX];

	kr.keys[0] = test_key(2, 0x22, NOW, NOW + 3000);          /* signs from NOW */
	kr.keys[1] = test_key(1, 0x11, NOW - 1000, NOW + 2000);   /* signed before NOW */
	cr_assert_eq(token_sign(&kr, NOW - 1, &t, old, sizeof old), 0);
	cr_assert_eq(t.kid, 1, "the older key signs before the newer one activates");
	cr_assert_eq(token_sign(&kr, NOW, &t, fresh, sizeof fresh), 0);
	cr_assert_eq(t.kid, 2, "the newest active key signs");
	cr_assert_eq(token_verify(&kr, NOW + 1999, old, strlen(old), &got), TOKEN_OK);
	cr_assert_eq(token_verify(&kr, NOW + 2000, old, strlen(old), &got), TOKEN_UNKNOWN_KEY);
	cr_assert_eq(token_verify(&kr, NOW + 2000, fresh, strlen(fresh), &got), TOKEN_OK);
}

Test(token, a_provisioned_next_key_does_not_sign_yet)
{
	struct keyring kr = { .n = 2 };
	const struct store_key *k;

	kr.keys[0] = test_key(3, 0x33, NOW + 100, NOW + 400);
	kr.keys[1] = test_key(2, 0x22, NOW - 100, NOW + 200);
	cr_assert_not_null(k = keyring_current(&kr, NOW));
	cr_assert_eq(k->kid, 2);
	cr_assert_eq(keyring_current(&kr, NOW + 100)->kid, 3);
	cr_assert_not_null(keyring_find(&kr, 3, NOW), "a peer slightly ahead may already use it");
	cr_assert_null(keyring_find(&kr, 2, NOW + 200));
	cr_assert_null(keyring_current(&kr, NOW + 400));
}

Test(token, signing_without_a_current_key_fails)
{
	struct keyring kr = { .n = 1 };
	struct token t = sample(NOW + 600);
	char s[TOKEN_STR_MAX];

	kr.keys[0] = test_key(1, 0x11, NOW + 10, NOW + 1000);
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), -1);
	kr.n = 0;
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), -1);
}

Test(token, a_short_output_buffer_fails)
{
	struct keyring kr = ring1();
	struct token t = sample(NOW + 600);
	char s[TOKEN_CHARS];

	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), -1);
}

Test(token, expiry_is_checked_after_the_tag)
{
	struct keyring kr = ring1();
	struct token t = sample(NOW + 10), got;
	char s[TOKEN_STR_MAX];

	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	cr_assert_eq(token_verify(&kr, NOW + 9, s, strlen(s), &got), TOKEN_OK);
	cr_assert_eq(token_verify(&kr, NOW + 10, s, strlen(s), &got), TOKEN_EXPIRED);
	cr_assert_eq(token_verify(&kr, NOW + 11, s, strlen(s), &got), TOKEN_EXPIRED);
	s[TOKEN_CHARS - 2] = s[TOKEN_CHARS - 2] == 'A' ? 'B' : 'A';
	cr_assert_eq(token_verify(&kr, NOW + 11, s, strlen(s), &got), TOKEN_BAD_TAG,
	             "a forged expired token says forged");
}

Test(token, garbage_of_every_length_is_refused)
{
	struct keyring kr = ring1();
	struct token got;
	char s[TOKEN_STR_MAX + 40];

	srand(1);
	for (size_t len = 0; len < sizeof s; len++) {
		for (int round = 0; round < 20; round++) {
			for (size_t i = 0; i < len; i++)
				s[i] = round == 0 ? 'A' : (char)(rand() % 256);
			cr_assert_neq(token_verify(&kr, NOW, s, len, &got), TOKEN_OK, "length %zu", len);
		}
	}
}

Test(token, characters_outside_base64url_are_malformed)
{
	struct keyring kr = ring1();
	struct token t = sample(NOW + 600), got;
	char s[TOKEN_STR_MAX], x[TOKEN_STR_MAX];

	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	for (const char *c = "+/= .\n\x80"; *c != '\0'; c++) {
		strcpy(x, s);
		x[40] = *c;
		cr_assert_eq(token_verify(&kr, NOW, x, strlen(x), &got), TOKEN_MALFORMED, "%02x", *c);
	}
	strcpy(x, s);
	x[40] = '\0';
	cr_assert_eq(token_verify(&kr, NOW, x, TOKEN_CHARS, &got), TOKEN_MALFORMED, "embedded NUL");
	strcpy(x, s);
	strcat(x, "=");
	cr_assert_eq(token_verify(&kr, NOW, x, strlen(x), &got), TOKEN_MALFORMED, "padding");
}

Test(token, result_codes_have_names)
{
	cr_assert_str_eq(token_rc_str(TOKEN_OK), "ok");
	cr_assert_str_eq(token_rc_str(TOKEN_BAD_TAG), "bad tag");
	cr_assert_str_eq(token_rc_str(99), "?");
}

Test(sid, hex_round_trip_and_strict_parsing)
{
	uint8_t sid[SID_BYTES], back[SID_BYTES];
	char hex[SID_HEX_LEN + 1];

	for (int i = 0; i < SID_BYTES; i++)
		sid[i] = (uint8_t)(0xf0 + i);
	sid_to_hex(sid, hex);
	cr_assert_str_eq(hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	cr_assert_eq(sid_from_hex(hex, back), 0);
	cr_assert_eq(memcmp(sid, back, SID_BYTES), 0);
	cr_assert_eq(sid_from_hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF", back), -1);
	cr_assert_eq(sid_from_hex("f0f1", back), -1);
	cr_assert_eq(sid_from_hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00", back), -1);
	cr_assert_eq(sid_from_hex("g0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", back), -1);
	cr_assert_eq(sid_from_hex("", back), -1);
}

Test(random, ids_have_the_asked_length_and_differ)
{
	char a[65], b[65], u[64];

	cr_assert_eq(random_hex(a, sizeof a, 32), 0);
	cr_assert_eq(random_hex(b, sizeof b, 32), 0);
	cr_assert_eq(strlen(a), 64);
	cr_assert_eq(strspn(a, "0123456789abcdef"), 64);
	cr_assert_str_neq(a, b);
	cr_assert_eq(random_hex(a, 64, 32), -1, "no room for the NUL");
	cr_assert_eq(random_b64url(u, sizeof u, 24), 0);
	cr_assert_eq(strlen(u), 32);
	cr_assert_eq(strspn(u, b64url), 32);
}

Test(crypto, sha256_hex_and_constant_time_compare)
{
	char out[CODE_HASH_LEN + 1];

	sha256_hex("abc", 3, out);
	cr_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert(ct_equal("abcd", "abcd", 4));
	cr_assert_not(ct_equal("abcd", "abce", 4));
}

struct b64_case {
	char raw[16];
	size_t rawlen;
	int alphabet;
	char enc[32];
};

ParameterizedTestParameters(b64, encodes_rfc4648_vectors_without_padding)
{
	static struct b64_case cases[] = {
		{ "", 0, B64_STD, "" },
		{ "f", 1, B64_STD, "Zg" },
		{ "fo", 2, B64_STD, "Zm8" },
		{ "foo", 3, B64_STD, "Zm9v" },
		{ "foob", 4, B64_STD, "Zm9vYg" },
		{ "fooba", 5, B64_STD, "Zm9vYmE" },
		{ "foobar", 6, B64_STD, "Zm9vYmFy" },
		{ "\xfb\xff", 2, B64_STD, "+/8" },
		{ "\xfb\xff", 2, B64_URL, "-_8" },
	};
	return cr_make_param_array(struct b64_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct b64_case *c, b64, encodes_rfc4648_vectors_without_padding)
{
	char enc[32];
	uint8_t raw[16];
	size_t n;

	cr_assert_eq(b64_encode(c->raw, c->rawlen, enc, sizeof enc, c->alphabet), 0);
	cr_assert_str_eq(enc, c->enc);
	cr_assert_eq(b64_encoded_len(c->rawlen), strlen(c->enc));
	cr_assert_eq(b64_decode(enc, strlen(enc), raw, sizeof raw, &n, c->alphabet), 0);
	cr_assert_eq(n, c->rawlen);
	cr_assert_eq(memcmp(raw, c->raw, n), 0);
}

struct b64_bad {
	char in[16];
	int alphabet;
};

ParameterizedTestParameters(b64, decoding_is_strict)
{
	static struct b64_bad cases[] = {
		{ "Z", B64_STD }, { "Zh", B64_STD }, { "Zm9=", B64_STD }, { "Zg==", B64_STD },
		{ "Zm 9", B64_STD }, { "-_8", B64_STD }, { "+/8", B64_URL }, { "Zm9v\n", B64_STD },
		{ "Zm9vYmFyZ", B64_STD },
	};
	return cr_make_param_array(struct b64_bad, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct b64_bad *c, b64, decoding_is_strict)
{
	uint8_t raw[16];
	size_t n;

	cr_assert_eq(b64_decode(c->in, strlen(c->in), raw, sizeof raw, &n, c->alphabet), -1,
	             "\"%s\"", c->in);
}

Test(b64, decoding_never_writes_past_its_buffer)
{
	uint8_t raw[3];
	size_t n;

	cr_assert_eq(b64_decode("Zm9vYg", 6, raw, sizeof raw, &n, B64_STD), -1);
	cr_assert_eq(b64_decode("Zm9v", 4, raw, sizeof raw, &n, B64_STD), 0);
	cr_assert_eq(b64_encode("foo", 3, (char *)raw, sizeof raw, B64_STD), -1);
}

#define ROTATE 3600

static struct fx fx;
static struct store *ks;

static void
keys_setup(void)
{
	fx_init(&fx);
	ks = fx_open(&fx);
}

static void
keys_teardown(void)
{
	store_close(ks);
	fx_cleanup(&fx);
}

Test(keyring, ensure_provisions_a_current_and_a_next_key, .init = keys_setup, .fini = keys_teardown)
{
	struct keyring kr;
	const struct store_key *cur;
	int added;

	cr_assert_eq(keyring_ensure(ks, NOW, ROTATE, &added), STORE_OK);
	cr_assert_eq(added, 2);
	cr_assert_eq(keyring_load(ks, NOW, &kr), STORE_OK);
	cr_assert_eq(kr.n, 2);
	cr_assert_not_null(cur = keyring_current(&kr, NOW));
	cr_assert_eq(cur->activates_at, NOW);
	cr_assert_eq(cur->expires_at, NOW + 3 * ROTATE, "verifies 2 * rotate after it stops signing");
	cr_assert_eq(kr.keys[0].activates_at, NOW + ROTATE, "the next key, newest first");
	cr_assert_neq(kr.keys[0].kid, cur->kid);
	cr_assert_neq(memcmp(kr.keys[0].secret, cur->secret, KEY_SECRET_LEN), 0);
	cr_assert_eq(keyring_ensure(ks, NOW + 10, ROTATE, &added), STORE_OK);
	cr_assert_eq(added, 0, "nothing missing");
}

Test(keyring, the_next_key_takes_over_and_a_new_next_is_added, .init = keys_setup,
     .fini = keys_teardown)
{
	struct keyring kr;
	struct token t = sample(NOW + 2 * ROTATE), got;
	char s[TOKEN_STR_MAX];
	uint32_t first;
	int added;

	cr_assert_eq(keyring_ensure(ks, NOW, ROTATE, &added), STORE_OK);
	cr_assert_eq(keyring_load(ks, NOW, &kr), STORE_OK);
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	first = t.kid;
	cr_assert_eq(keyring_ensure(ks, NOW + ROTATE, ROTATE, &added), STORE_OK);
	cr_assert_eq(added, 1);
	cr_assert_eq(keyring_load(ks, NOW + ROTATE, &kr), STORE_OK);
	cr_assert_neq(keyring_current(&kr, NOW + ROTATE)->kid, first);
	cr_assert_eq(token_verify(&kr, NOW + ROTATE, s, strlen(s), &got), TOKEN_OK,
	             "a cookie of the previous key still verifies");
}

Test(keyring, a_stale_ring_is_renewed, .init = keys_setup, .fini = keys_teardown)
{
	int added;

	cr_assert_eq(keyring_ensure(ks, NOW, ROTATE, &added), STORE_OK);
	cr_assert_eq(keyring_ensure(ks, NOW + 10 * ROTATE, ROTATE, &added), STORE_OK);
	cr_assert_eq(added, 2);
	cr_assert_eq(keyring_ensure(ks, NOW, 0, &added), STORE_INVALID);
}

Test(keyring, rotate_signs_with_a_new_key_at_once, .init = keys_setup, .fini = keys_teardown)
{
	struct keyring kr;
	struct token t = sample(NOW + ROTATE), got;
	char s[TOKEN_STR_MAX];
	uint32_t before;
	int added;

	cr_assert_eq(keyring_ensure(ks, NOW, ROTATE, &added), STORE_OK);
	cr_assert_eq(keyring_load(ks, NOW, &kr), STORE_OK);
	cr_assert_eq(token_sign(&kr, NOW, &t, s, sizeof s), 0);
	before = t.kid;
	cr_assert_eq(keyring_rotate(ks, NOW + 60, ROTATE), STORE_OK);
	cr_assert_eq(keyring_load(ks, NOW + 60, &kr), STORE_OK);
	cr_assert_neq(keyring_current(&kr, NOW + 60)->kid, before);
	cr_assert_eq(keyring_current(&kr, NOW + 60)->activates_at, NOW + 60);
	cr_assert_eq(token_verify(&kr, NOW + 60, s, strlen(s), &got), TOKEN_OK);
}

Test(keyring, expired_keys_leave_the_store, .init = keys_setup, .fini = keys_teardown)
{
	struct store_key all[KEYRING_MAX];
	struct keyring kr;
	struct token t = sample(NOW + 30 * ROTATE), got;
	char s[TOKEN_STR_MAX];
	int added, n;

	for (int i = 0; i <= 20; i++)
		cr_assert_eq(keyring_ensure(ks, NOW + i * ROTATE, ROTATE, &added), STORE_OK);
	cr_assert_eq(store_key_list(ks, 0, all, KEYRING_MAX, &n), STORE_OK);
	cr_assert_leq(n, 4, "%d keys after 20 rotations: current, next, two verifying", n);
	cr_assert_eq(keyring_load(ks, NOW + 20 * ROTATE, &kr), STORE_OK);
	cr_assert_eq(token_sign(&kr, NOW + 20 * ROTATE, &t, s, sizeof s), 0);
	cr_assert_eq(keyring_ensure(ks, NOW + 21 * ROTATE, ROTATE, &added), STORE_OK);
	cr_assert_eq(keyring_load(ks, NOW + 21 * ROTATE, &kr), STORE_OK);
	cr_assert_eq(token_verify(&kr, NOW + 21 * ROTATE, s, strlen(s), &got), TOKEN_OK,
	             "the previous key still verifies after the prune");
}
