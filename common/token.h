#ifndef SEKISHO_TOKEN_H
#define SEKISHO_TOKEN_H

/*
 * Random ids and HMAC-SHA256 tokens under a key ring.
 *
 * Cookie token: base64url of
 *   version(1) kid(4) sid(16) service_id(8) expires_at(8) tag(32)
 * where tag = HMAC-SHA256(key[kid], "sekisho-cookie-v1" || all preceding bytes).
 * Verification needs no store: a forged, garbled, expired or foreign-key token
 * is refused by token_verify alone.
 */

#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "store.h"

#define TOKEN_STR_MAX 128         /* encoded cookie token, with NUL */
#define SID_BYTES 16

struct token {
	uint32_t kid;
	uint8_t  sid[SID_BYTES];
	int64_t  service_id;
	int64_t  expires_at;
};

enum token_rc { TOKEN_OK = 0, TOKEN_MALFORMED, TOKEN_UNKNOWN_KEY, TOKEN_BAD_TAG, TOKEN_EXPIRED };
const char *token_rc_str(int rc);

/* Fills buf with n bytes from the OS CSPRNG (getrandom). 0 or -1. */
int random_bytes(void *buf, size_t n);
/* n random bytes as 2n hex chars + NUL into out. 0 or -1. */
int random_hex(char *out, size_t outlen, size_t n);
/* n random bytes as base64url (no padding) into out. 0 or -1. */
int random_b64url(char *out, size_t outlen, size_t n);

/* Hex SHA-256 of s (CODE_HASH_LEN + 1 bytes). */
void sha256_hex(const char *s, size_t len, char out[CODE_HASH_LEN + 1]);
/* Constant-time equality of two buffers of length n. */
int ct_equal(const void *a, const void *b, size_t n);

/* The cookie key ring (ring.h). Loads the keys valid at now from the store. */
int keyring_load(struct store *s, int64_t now, struct keyring *kr);
/* The signing key at now: the newest with activates_at <= now < expires_at; NULL if none. */
const struct store_key *keyring_current(const struct keyring *kr, int64_t now);
const struct store_key *keyring_find(const struct keyring *kr, uint32_t kid, int64_t now);
/*
 * Makes sure the ring holds a current key and a next one (activating within
 * rotate_s); adds what is missing and deletes expired keys. Keys verify for
 * 2 * rotate_s after they stop signing.
 */
int keyring_ensure(struct store *s, int64_t now, int64_t rotate_s, int *added);
/*
 * Adds a key that signs from now on (older keys keep verifying until they
 * expire), then keyring_ensure(). Keyring functions return an enum store_rc.
 */
int keyring_rotate(struct store *s, int64_t now, int64_t rotate_s);

/* Signs t with the current key (t->kid is set). 0 or -1 (no current key). */
int token_sign(const struct keyring *kr, int64_t now, struct token *t, char *out, size_t outlen);
/* Verifies an encoded token; TOKEN_OK fills t. Bounded: longer than TOKEN_STR_MAX is malformed. */
int token_verify(const struct keyring *kr, int64_t now, const char *in, size_t len, struct token *t);

void sid_to_hex(const uint8_t sid[SID_BYTES], char out[SID_HEX_LEN + 1]);
int  sid_from_hex(const char *hex, uint8_t sid[SID_BYTES]);

#endif
