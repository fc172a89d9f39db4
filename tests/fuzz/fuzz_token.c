#include <string.h>

#include "fuzz.h"
#include "token.h"
#include "../lib/keys.h"

/*
 * A cookie value through token_verify, against a ring built in memory as
 * cid holds it: key 7 signs now, key 5 signed before it and still verifies,
 * key 3 has expired. Verification is by the token alone, so the only way to
 * TOKEN_OK is a token the ring's key signed: signing the returned fields with
 * that key must give back exactly the input.
 */

#define NOW 1700000000

static struct keyring ring;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	ring.n = 3;
	ring.keys[0] = test_key(7, 0x77, NOW - 100, NOW + 86400);
	ring.keys[1] = test_key(5, 0x55, NOW - 86400, NOW + 3600);
	ring.keys[2] = test_key(3, 0x33, NOW - 172800, NOW - 10);
	return 0;
}

/* The one-key ring in which k signs at NOW. */
static struct keyring
signing_ring(const struct store_key *k)
{
	struct keyring kr = { .n = 1 };

	kr.keys[0] = *k;
	kr.keys[0].activates_at = NOW;
	return kr;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct store_key *k;
	struct keyring one;
	struct token t, again;
	char out[TOKEN_STR_MAX];
	int rc;

	memset(&t, 0, sizeof t);
	rc = token_verify(&ring, NOW, (const char *)data, size, &t);
	fuzz_assert(rc >= TOKEN_OK && rc <= TOKEN_EXPIRED && strcmp(token_rc_str(rc), "?") != 0);
	if (rc != TOKEN_OK)
		return 0;
	fuzz_assert(size < TOKEN_STR_MAX && t.expires_at > NOW);
	fuzz_assert((k = keyring_find(&ring, t.kid, NOW)) != NULL);
	one = signing_ring(k);
	again = t;
	fuzz_assert(token_sign(&one, NOW, &again, out, sizeof out) == 0 && again.kid == t.kid);
	fuzz_assert(strlen(out) == size && memcmp(out, data, size) == 0);
	return 0;
}
