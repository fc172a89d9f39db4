#ifndef SEKISHO_TLSKEYS_H
#define SEKISHO_TLSKEYS_H

/*
 * TLS session-ticket keys for the terminators (docs/tls.md). A ring key's
 * 32-byte secret expands (HMAC-SHA256 in counter mode, context
 * "sekisho-tls-ticket-v1") into the 80 bytes nginx and HAProxy take: key
 * name (16), then two 32-byte keys. Every gateway derives the same bytes
 * from the same row. The ring's order for the terminators:
 *   slot 0 current (encrypts), 1 next (provisioned ahead), 2.. previous,
 *   newest first; slots without a key of their own repeat the current one.
 */

#include <stdint.h>

#include "ring.h"

#define TLS_TICKET_KEY_LEN 80
#define TLS_TICKET_B64_LEN 108            /* padded base64 of 80 bytes */
#define TLS_SLOTS_MAX      (2 + 5)        /* current, next, up to 5 previous */

struct tls_slots {
	int n;                                /* 2 + previous */
	const struct store_key *key[TLS_SLOTS_MAX];
};

/* The ring's settings from the configuration's minutes and count. */
struct ring_policy tls_ring_policy(int rotate_min, int previous);
/* Orders kr at now into 2 + previous slots. -1 when the ring has no current or next key. */
int tls_slots(const struct keyring *kr, int64_t now, int previous, struct tls_slots *sl);
/* The 80 ticket-key bytes of k. 0 or -1. */
int tls_ticket_key(const struct store_key *k, uint8_t out[TLS_TICKET_KEY_LEN]);
/* The same as padded base64 (HAProxy's format), NUL-terminated. 0 or -1. */
int tls_ticket_b64(const struct store_key *k, char out[TLS_TICKET_B64_LEN + 1]);

#endif
