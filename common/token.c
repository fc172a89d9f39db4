#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64.h"
#include "token.h"

#define TOKEN_VERSION 1
#define TOKEN_BODY    37                       /* version kid sid service_id expires_at */
#define TOKEN_TAG     32
#define TOKEN_BYTES   (TOKEN_BODY + TOKEN_TAG)  /* 69, a multiple of 3 */
#define TOKEN_CHARS   92                       /* b64_encoded_len(TOKEN_BYTES) */
#define TOKEN_CONTEXT "sekisho-cookie-v1"

static const char *const token_rc_names[] = {
	[TOKEN_OK] = "ok", [TOKEN_MALFORMED] = "malformed", [TOKEN_UNKNOWN_KEY] = "unknown key",
	[TOKEN_BAD_TAG] = "bad tag", [TOKEN_EXPIRED] = "expired",
};

const char *
token_rc_str(int rc)
{
	if (rc < 0 || rc > TOKEN_EXPIRED)
		return "?";
	return token_rc_names[rc];
}

int
random_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int
random_hex(char *out, size_t outlen, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t buf[64];

	if (n > sizeof buf || outlen < 2 * n + 1 || random_bytes(buf, n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * n] = '\0';
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

int
random_b64url(char *out, size_t outlen, size_t n)
{
	uint8_t buf[64];
	int rc;

	if (n > sizeof buf || random_bytes(buf, n) == -1)
		return -1;
	rc = b64_encode(buf, n, out, outlen, B64_URL);
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}

void
sha256_hex(const char *s, size_t len, char out[CODE_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
		memset(md, 0, sizeof md);
	for (size_t i = 0; i < sizeof md; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CODE_HASH_LEN] = '\0';
}

int
ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
sid_to_hex(const uint8_t sid[SID_BYTES], char out[SID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SID_BYTES; i++) {
		out[2 * i] = hex[sid[i] >> 4];
		out[2 * i + 1] = hex[sid[i] & 15];
	}
	out[SID_HEX_LEN] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly SID_HEX_LEN lowercase hex digits, as sid_to_hex writes them. 0 or -1. */
int
sid_from_hex(const char *hex, uint8_t sid[SID_BYTES])
{
	uint8_t tmp[SID_BYTES];
	int hi, lo;

	if (strnlen(hex, SID_HEX_LEN + 1) != SID_HEX_LEN)
		return -1;
	for (size_t i = 0; i < SID_BYTES; i++) {
		if ((hi = hex_value(hex[2 * i])) < 0 || (lo = hex_value(hex[2 * i + 1])) < 0)
			return -1;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(sid, tmp, SID_BYTES);
	return 0;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* tag = HMAC-SHA256(key, TOKEN_CONTEXT || body). 0 or -1. */
static int
token_tag(const struct store_key *k, const uint8_t body[TOKEN_BODY], uint8_t tag[TOKEN_TAG])
{
	uint8_t msg[sizeof TOKEN_CONTEXT - 1 + TOKEN_BODY];
	unsigned int len = 0;

	memcpy(msg, TOKEN_CONTEXT, sizeof TOKEN_CONTEXT - 1);
	memcpy(msg + sizeof TOKEN_CONTEXT - 1, body, TOKEN_BODY);
	if (HMAC(EVP_sha256(), k->secret, KEY_SECRET_LEN, msg, sizeof msg, tag, &len) == NULL ||
	    len != TOKEN_TAG)
		return -1;
	return 0;
}

int
token_sign(const struct keyring *kr, int64_t now, struct token *t, char *out, size_t outlen)
{
	const struct store_key *k;
	uint8_t raw[TOKEN_BYTES];

	if ((k = keyring_current(kr, now)) == NULL)
		return -1;
	t->kid = k->kid;
	raw[0] = TOKEN_VERSION;
	put_be(raw + 1, t->kid, 4);
	memcpy(raw + 5, t->sid, SID_BYTES);
	put_be(raw + 21, (uint64_t)t->service_id, 8);
	put_be(raw + 29, (uint64_t)t->expires_at, 8);
	if (token_tag(k, raw, raw + TOKEN_BODY) == -1)
		return -1;
	return b64_encode(raw, sizeof raw, out, outlen, B64_URL);
}

int
token_verify(const struct keyring *kr, int64_t now, const char *in, size_t len, struct token *t)
{
	const struct store_key *k;
	uint8_t raw[TOKEN_BYTES], tag[TOKEN_TAG];
	struct token tmp;
	size_t n;

	if (len != TOKEN_CHARS || b64_decode(in, len, raw, sizeof raw, &n, B64_URL) == -1 ||
	    n != TOKEN_BYTES || raw[0] != TOKEN_VERSION)
		return TOKEN_MALFORMED;
	tmp.kid = (uint32_t)get_be(raw + 1, 4);
	memcpy(tmp.sid, raw + 5, SID_BYTES);
	tmp.service_id = (int64_t)get_be(raw + 21, 8);
	tmp.expires_at = (int64_t)get_be(raw + 29, 8);
	if ((k = keyring_find(kr, tmp.kid, now)) == NULL)
		return TOKEN_UNKNOWN_KEY;
	if (token_tag(k, raw, tag) == -1 || !ct_equal(tag, raw + TOKEN_BODY, TOKEN_TAG))
		return TOKEN_BAD_TAG;
	if (now >= tmp.expires_at)
		return TOKEN_EXPIRED;
	*t = tmp;
	return TOKEN_OK;
}

/* Cookie keys verify for two periods after they stop signing. */
static struct ring_policy
cookie_policy(int64_t rotate_s)
{
	return (struct ring_policy){ .rotate_s = rotate_s, .keep_s = 2 * rotate_s };
}

int
keyring_load(struct store *s, int64_t now, struct keyring *kr)
{
	return ring_load(s, &RING_COOKIE, now, kr);
}

const struct store_key *
keyring_current(const struct keyring *kr, int64_t now)
{
	return ring_current(kr, now);
}

const struct store_key *
keyring_find(const struct keyring *kr, uint32_t kid, int64_t now)
{
	return ring_find(kr, kid, now);
}

int
keyring_ensure(struct store *s, int64_t now, int64_t rotate_s, int *added)
{
	struct ring_policy p = cookie_policy(rotate_s);

	return ring_ensure(s, &RING_COOKIE, now, &p, added);
}

int
keyring_rotate(struct store *s, int64_t now, int64_t rotate_s)
{
	struct ring_policy p = cookie_policy(rotate_s);

	return ring_rotate(s, &RING_COOKIE, now, &p);
}
