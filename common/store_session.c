/*
 * The store's front for what logging in keeps: entry codes, portal logins,
 * lockouts and known sources. Bounds every argument, then dispatches to the
 * backend (struct store_ops).
 */

#include <string.h>

#include "store.h"
#include "store_int.h"

int
store_code_put(struct store *s, const char *code_hash, int64_t right_id, int64_t expires_at)
{
	store_clear(s);
	if (!store_hash_ok(code_hash))
		return store_fail(s, STORE_INVALID, "invalid code hash");
	return s->ops->code_put(s, code_hash, right_id, expires_at);
}

int
store_code_take(struct store *s, const char *code_hash, const struct addr *ip,
                const char *service, int64_t now, struct store_right *r)
{
	store_clear(s);
	if (!store_hash_ok(code_hash))
		return store_fail(s, STORE_NOTFOUND, "no such code");
	if (!store_addr_ok(ip))
		return store_fail(s, STORE_INVALID, "entry code redeemed without a client address");
	if (service != NULL && !name_valid(service))
		return store_fail(s, STORE_INVALID, "entry code redeemed for an invalid service name");
	return s->ops->code_take(s, code_hash, ip, service, now, r);
}

int
store_login_put(struct store *s, const char *id_hash, int64_t user_id, const char *csrf,
                int64_t now, int64_t expires_at)
{
	store_clear(s);
	if (!store_hash_ok(id_hash))
		return store_fail(s, STORE_INVALID, "invalid login id hash");
	if (!store_text_ok(csrf, CSRF_MAX_LEN))
		return store_fail(s, STORE_INVALID, "csrf token longer than %d", CSRF_MAX_LEN);
	return s->ops->login_put(s, id_hash, user_id, csrf, now, expires_at);
}

int
store_login_get(struct store *s, const char *id_hash, int64_t now, int idle_s,
                struct store_login *l)
{
	store_clear(s);
	if (!store_hash_ok(id_hash))
		return store_fail(s, STORE_NOTFOUND, "no such login");
	return s->ops->login_get(s, id_hash, now, idle_s < 0 ? 0 : idle_s, l);
}

int
store_login_del(struct store *s, const char *id_hash)
{
	store_clear(s);
	if (!store_hash_ok(id_hash))
		return store_fail(s, STORE_NOTFOUND, "no such login");
	return s->ops->login_del(s, id_hash);
}

/* A source: 1..LOCK_SOURCE_MAX printable characters, not the account's own "*". */
static int
source_ok(const char *src)
{
	size_t n;

	if (!src || strcmp(src, LOCK_ACCOUNT) == 0)
		return 0;
	for (n = 0; src[n]; n++)
		if (n >= LOCK_SOURCE_MAX || src[n] <= ' ' || src[n] > '~')
			return 0;
	return n > 0;
}

/* Name and source checked for the lockout and known-source calls. */
static int
lock_args(struct store *s, const char *name, const char *source)
{
	store_clear(s);
	if (!name_valid(name))
		return store_fail(s, STORE_INVALID, "invalid account name");
	if (!source_ok(source))
		return store_fail(s, STORE_INVALID, "invalid login source");
	return STORE_OK;
}

int
store_lockout_state(struct store *s, const char *name, const char *source,
                    struct store_lockout *pair, struct store_lockout *acct)
{
	int rc = lock_args(s, name, source);

	return rc != STORE_OK ? rc : s->ops->lockout_state(s, name, source, pair, acct);
}

int
store_lockout_fail(struct store *s, const char *name, const char *source, int64_t now,
                   int64_t since)
{
	int rc = lock_args(s, name, source);

	return rc != STORE_OK ? rc : s->ops->lockout_fail(s, name, source, now, since);
}

int
store_lockout_refund(struct store *s, const char *name, const char *source, int clear_source)
{
	int rc = lock_args(s, name, source);

	return rc != STORE_OK ? rc : s->ops->lockout_refund(s, name, source, clear_source);
}

int
store_lockout_clear(struct store *s, const char *name, const char *source, int *n)
{
	*n = 0;
	store_clear(s);
	if (!name_valid(name))
		return store_fail(s, STORE_INVALID, "invalid account name");
	if (source && strcmp(source, LOCK_ACCOUNT) != 0 && !source_ok(source))
		return store_fail(s, STORE_INVALID, "invalid login source");
	return s->ops->lockout_clear(s, name, source, n);
}

int
store_lockout_list(struct store *s, const char *name,
                   int (*fn)(const struct store_lockout *, void *), void *arg)
{
	store_clear(s);
	if (name && !name_valid(name))
		return store_fail(s, STORE_INVALID, "invalid account name");
	return s->ops->lockout_list(s, name, fn, arg);
}

int
store_known_add(struct store *s, const char *name, const char *source, int64_t now)
{
	int rc = lock_args(s, name, source);

	return rc != STORE_OK ? rc : s->ops->known_add(s, name, source, now);
}

int
store_known_has(struct store *s, const char *name, const char *source, int64_t since)
{
	int rc = lock_args(s, name, source);

	return rc != STORE_OK ? rc : s->ops->known_has(s, name, source, since);
}
