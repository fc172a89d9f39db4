/*
 * The store's front for the two key rings: cookie keys and TLS ticket keys.
 * Bounds every argument, then dispatches to the backend (struct store_ops).
 */

#include "store.h"
#include "store_int.h"

int
store_key_add(struct store *s, const struct store_key *k)
{
	store_clear(s);
	if (k->expires_at <= k->activates_at)
		return store_fail(s, STORE_INVALID, "key %u expires before it activates", k->kid);
	return s->ops->key_add(s, k);
}

int
store_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	store_clear(s);
	*n = 0;
	if (max < 1 || max > KEYRING_MAX)
		return store_fail(s, STORE_INVALID, "key list: max must be 1..%d", KEYRING_MAX);
	return s->ops->key_list(s, now, keys, max, n);
}

int
store_key_del_expired(struct store *s, int64_t now, int *n)
{
	int dummy;

	store_clear(s);
	*(n ? n : &dummy) = 0;
	return s->ops->key_del_expired(s, now, n ? n : &dummy);
}

static int
key_ok(struct store *s, uint32_t kid, int64_t activates_at, int64_t expires_at)
{
	if (kid == 0)
		return store_fail(s, STORE_INVALID, "key id 0 is reserved");
	if (expires_at <= activates_at)
		return store_fail(s, STORE_INVALID, "key %u expires before it activates", kid);
	return STORE_OK;
}

int
store_tls_key_add(struct store *s, const struct store_key *k, int64_t unless_from, int *added)
{
	int rc;

	store_clear(s);
	*added = 0;
	if ((rc = key_ok(s, k->kid, k->activates_at, k->expires_at)) != STORE_OK)
		return rc;
	return s->ops->tls_key_add(s, k, unless_from, added);
}

int
store_tls_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n)
{
	store_clear(s);
	*n = 0;
	if (max < 1 || max > KEYRING_MAX)
		return store_fail(s, STORE_INVALID, "key list: max must be 1..%d", KEYRING_MAX);
	return s->ops->tls_key_list(s, now, keys, max, n);
}

int
store_tls_key_del_expired(struct store *s, int64_t now, int *n)
{
	int dummy;

	store_clear(s);
	*(n ? n : &dummy) = 0;
	return s->ops->tls_key_del_expired(s, now, n ? n : &dummy);
}

int
store_tls_key_activate(struct store *s, uint32_t kid, int64_t activates_at, int64_t expires_at)
{
	int rc;

	store_clear(s);
	if ((rc = key_ok(s, kid, activates_at, expires_at)) != STORE_OK)
		return rc;
	return s->ops->tls_key_activate(s, kid, activates_at, expires_at);
}
