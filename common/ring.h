#ifndef SEKISHO_RING_H
#define SEKISHO_RING_H

/*
 * A key ring in the store: the logic both rings share (cookie keys, token.h;
 * TLS session-ticket keys, tlskeys.h). At any time a ring holds the current
 * key (the newest with activates_at <= now), a next key provisioned ahead (it
 * activates when the current one's period ends, so every reader has it before
 * it signs or encrypts) and previous keys that still verify or decrypt until
 * they expire, keep_s after their period. Functions return an enum store_rc.
 */

#include <stdint.h>

#include "store.h"

struct keyring {
	int n;
	struct store_key keys[KEYRING_MAX];   /* newest activates_at first */
};

/* One ring's store operations. */
struct ring_kind {
	int (*list)(struct store *, int64_t now, struct store_key *, int max, int *n);
	/* Adds k unless a key activating at or after unless_from exists (when the ring can tell). */
	int (*add)(struct store *, const struct store_key *k, int64_t unless_from, int *added);
	int (*del_expired)(struct store *, int64_t now, int *n);
	/* Moves a key's window; NULL: a rotation adds a fresh key instead of promoting next. */
	int (*activate)(struct store *, uint32_t kid, int64_t activates_at, int64_t expires_at);
};

struct ring_policy {
	int64_t rotate_s;   /* a key is current this long */
	int64_t keep_s;     /* then still verifies this long */
};

extern const struct ring_kind RING_COOKIE, RING_TLS;

/* Loads the keys valid at now. */
int ring_load(struct store *s, const struct ring_kind *r, int64_t now, struct keyring *kr);
/* The current key at now: the newest with activates_at <= now < expires_at; NULL if none. */
const struct store_key *ring_current(const struct keyring *kr, int64_t now);
/* The key provisioned ahead (the oldest activating after now); NULL if none. */
const struct store_key *ring_next(const struct keyring *kr, int64_t now);
/* kid if it still verifies at now (from its creation: a peer slightly ahead may use it). */
const struct store_key *ring_find(const struct keyring *kr, uint32_t kid, int64_t now);
/*
 * Makes sure the ring holds a current key and a next one; adds what is
 * missing (one gateway at a time where the ring can tell) and deletes expired
 * keys. *added gets how many keys this call added.
 */
int ring_ensure(struct store *s, const struct ring_kind *r, int64_t now,
                const struct ring_policy *p, int *added);
/*
 * Starts a new period now: the next key becomes current (when the ring can
 * move a key; else a fresh key is added), then ring_ensure().
 */
int ring_rotate(struct store *s, const struct ring_kind *r, int64_t now,
                const struct ring_policy *p);

#endif
