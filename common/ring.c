#include <string.h>

#include <openssl/crypto.h>

#include "ring.h"
#include "token.h"

/* The cookie ring predates conditional adds: two gateways may both add a key, harmlessly. */
static int
cookie_add(struct store *s, const struct store_key *k, int64_t unless_from, int *added)
{
	int rc = store_key_add(s, k);

	(void)unless_from;
	*added = rc == STORE_OK;
	return rc;
}

const struct ring_kind RING_COOKIE = {
	.list = store_key_list, .add = cookie_add, .del_expired = store_key_del_expired,
	.activate = NULL,
};

const struct ring_kind RING_TLS = {
	.list = store_tls_key_list, .add = store_tls_key_add,
	.del_expired = store_tls_key_del_expired, .activate = store_tls_key_activate,
};

int
ring_load(struct store *s, const struct ring_kind *r, int64_t now, struct keyring *kr)
{
	int n = 0, rc;

	rc = r->list(s, now, kr->keys, KEYRING_MAX, &n);
	kr->n = rc == STORE_OK ? n : 0;
	return rc;
}

const struct store_key *
ring_current(const struct keyring *kr, int64_t now)
{
	for (int i = 0; i < kr->n; i++)
		if (kr->keys[i].activates_at <= now && now < kr->keys[i].expires_at)
			return &kr->keys[i];
	return NULL;
}

const struct store_key *
ring_next(const struct keyring *kr, int64_t now)
{
	const struct store_key *nx = NULL;

	for (int i = 0; i < kr->n; i++)
		if (kr->keys[i].activates_at > now)
			nx = &kr->keys[i];   /* newest first: the last one seen is the oldest */
	return nx;
}

const struct store_key *
ring_find(const struct keyring *kr, uint32_t kid, int64_t now)
{
	for (int i = 0; i < kr->n; i++)
		if (kr->keys[i].kid == kid && now < kr->keys[i].expires_at)
			return &kr->keys[i];
	return NULL;
}

/* Adds a fresh key (a random non-zero kid not in kr) current from activates_at for rotate_s. */
static int
ring_add(struct store *s, const struct ring_kind *r, const struct keyring *kr, int64_t now,
         int64_t activates_at, int64_t unless_from, const struct ring_policy *p, int *added)
{
	struct store_key k;
	int rc, taken;

	memset(&k, 0, sizeof k);
	do {
		if (random_bytes(&k.kid, sizeof k.kid) == -1)
			return STORE_UNAVAILABLE;
		taken = k.kid == 0;
		for (int i = 0; i < kr->n; i++)
			taken |= kr->keys[i].kid == k.kid;
	} while (taken);
	if (random_bytes(k.secret, sizeof k.secret) == -1)
		return STORE_UNAVAILABLE;
	k.created_at = now;
	k.activates_at = activates_at;
	k.expires_at = activates_at + p->rotate_s + p->keep_s;
	rc = r->add(s, &k, unless_from, added);
	OPENSSL_cleanse(&k, sizeof k);
	return rc;
}

static int
policy_ok(const struct ring_policy *p)
{
	return p->rotate_s > 0 && p->keep_s >= 0;
}

/*
 * A current key older than rotate_s is replaced by one current from now
 * (unless another gateway just did); then, if no key is waiting to activate,
 * one is added for when the current one's period ends. Last, expired keys
 * leave the store: they verify nothing, and without this the table would grow
 * by a row every rotation.
 */
int
ring_ensure(struct store *s, const struct ring_kind *r, int64_t now, const struct ring_policy *p,
            int *added)
{
	struct keyring kr;
	const struct store_key *cur;
	int64_t cur_from;
	int rc, one = 0;

	*added = 0;
	if (!policy_ok(p))
		return STORE_INVALID;
	if ((rc = ring_load(s, r, now, &kr)) != STORE_OK)
		return rc;
	cur = ring_current(&kr, now);
	if (cur == NULL || cur->activates_at + p->rotate_s <= now) {
		if ((rc = ring_add(s, r, &kr, now, now, now - p->rotate_s + 1, p, &one)) != STORE_OK ||
		    (rc = ring_load(s, r, now, &kr)) != STORE_OK)
			return rc;
		*added += one;
		cur = ring_current(&kr, now);
	}
	cur_from = cur ? cur->activates_at : now;
	if (ring_next(&kr, now) == NULL) {
		if ((rc = ring_add(s, r, &kr, now, cur_from + p->rotate_s, now + 1, p, &one)) != STORE_OK)
			return rc;
		*added += one;
	}
	return r->del_expired(s, now, NULL);
}

int
ring_rotate(struct store *s, const struct ring_kind *r, int64_t now, const struct ring_policy *p)
{
	struct keyring kr;
	const struct store_key *nx;
	int rc, added;

	if (!policy_ok(p))
		return STORE_INVALID;
	if ((rc = ring_load(s, r, now, &kr)) != STORE_OK)
		return rc;
	nx = ring_next(&kr, now);
	if (r->activate != NULL && nx != NULL)
		rc = r->activate(s, nx->kid, now, now + p->rotate_s + p->keep_s);
	else
		rc = ring_add(s, r, &kr, now, now, now + 1, p, &added);
	if (rc != STORE_OK)
		return rc;
	return ring_ensure(s, r, now, p, &added);
}
