#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tlskeys.h"

#define TLS_CONTEXT "sekisho-tls-ticket-v1"

struct ring_policy
tls_ring_policy(int rotate_min, int previous)
{
	int64_t rotate_s = (int64_t)rotate_min * 60;

	return (struct ring_policy){ .rotate_s = rotate_s, .keep_s = previous * rotate_s };
}

int
tls_slots(const struct keyring *kr, int64_t now, int previous, struct tls_slots *sl)
{
	const struct store_key *cur = ring_current(kr, now), *nx = ring_next(kr, now);
	int n = 2;

	if (cur == NULL || nx == NULL || previous < 0 || 2 + previous > TLS_SLOTS_MAX)
		return -1;
	sl->key[0] = cur;
	sl->key[1] = nx;
	for (int i = 0; i < kr->n && n < 2 + previous; i++)   /* newest first */
		if (kr->keys[i].activates_at < cur->activates_at)
			sl->key[n++] = &kr->keys[i];
	while (n < 2 + previous)
		sl->key[n++] = cur;
	sl->n = n;
	return 0;
}

int
tls_ticket_key(const struct store_key *k, uint8_t out[TLS_TICKET_KEY_LEN])
{
	uint8_t msg[sizeof TLS_CONTEXT], block[32];
	unsigned int len;
	size_t done = 0;
	int rc = 0;

	memcpy(msg, TLS_CONTEXT, sizeof TLS_CONTEXT - 1);
	for (uint8_t i = 1; done < TLS_TICKET_KEY_LEN && rc == 0; i++) {
		msg[sizeof TLS_CONTEXT - 1] = i;
		len = 0;
		if (HMAC(EVP_sha256(), k->secret, KEY_SECRET_LEN, msg, sizeof msg, block, &len) == NULL ||
		    len != sizeof block) {
			rc = -1;
			break;
		}
		size_t take = TLS_TICKET_KEY_LEN - done < sizeof block ? TLS_TICKET_KEY_LEN - done :
		              sizeof block;
		memcpy(out + done, block, take);
		done += take;
	}
	OPENSSL_cleanse(block, sizeof block);
	return rc;
}

int
tls_ticket_b64(const struct store_key *k, char out[TLS_TICKET_B64_LEN + 1])
{
	uint8_t raw[TLS_TICKET_KEY_LEN];
	int rc = -1;

	if (tls_ticket_key(k, raw) == 0 &&
	    EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw) == TLS_TICKET_B64_LEN)
		rc = 0;
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}
