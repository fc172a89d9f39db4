/*
 * The store's front for rights and the change feed: ending, reading, touching,
 * sweeping and following rights. Bounds every argument, then dispatches to
 * the backend (struct store_ops).
 */

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"

#define CHANGES_MAX      100000
#define TOUCH_BATCH_MAX  100000
#define WAIT_MAX_MS      3600000

static int
reason_ok(int reason)
{
	return reason > END_NONE && reason <= END_ROLLBACK;
}

int
store_end(struct store *s, int64_t right_id, int reason, int64_t now, struct store_right *out)
{
	store_clear(s);
	if (!reason_ok(reason))
		return store_fail(s, STORE_INVALID, "invalid end reason %d", reason);
	return s->ops->end(s, right_id, reason, now, out);
}

int
store_end_user(struct store *s, int64_t user_id, int64_t service_id, int reason,
               int64_t now, int (*fn)(const struct store_right *, void *), void *arg)
{
	store_clear(s);
	if (!reason_ok(reason))
		return store_fail(s, STORE_INVALID, "invalid end reason %d", reason);
	return s->ops->end_user(s, user_id, service_id, reason, now, fn, arg);
}

int
store_right_get(struct store *s, int64_t id, struct store_right *r)
{
	store_clear(s);
	return s->ops->right_get(s, id, NULL, r);
}

int
store_right_by_sid(struct store *s, const char *sid, struct store_right *r)
{
	store_clear(s);
	if (!store_text_ok(sid, SID_HEX_LEN) || !sid[0])
		return store_fail(s, STORE_NOTFOUND, "no such right");
	return s->ops->right_get(s, 0, sid, r);
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int
store_rights_get(struct store *s, const int64_t *ids, size_t n, store_right_fn fn, void *arg)
{
	int64_t *u;
	size_t m = 0;
	int rc;

	store_clear(s);
	if (n > RIGHTS_GET_MAX)
		return store_fail(s, STORE_INVALID, "more than %d rights asked at once", RIGHTS_GET_MAX);
	for (size_t i = 0; i < n; i++)
		if (ids[i] <= 0)
			return store_fail(s, STORE_INVALID, "invalid right id %lld", (long long)ids[i]);
	if (n == 0)
		return STORE_OK;
	if ((u = malloc(n * sizeof *u)) == NULL)
		return store_fail(s, STORE_UNAVAILABLE, "out of memory");
	memcpy(u, ids, n * sizeof *u);
	qsort(u, n, sizeof *u, cmp_id);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || u[m - 1] != u[i])
			u[m++] = u[i];
	rc = s->ops->rights_get(s, u, m, fn, arg);
	free(u);
	return rc;
}

int
store_right_list(struct store *s, int64_t service_id, int64_t user_id,
                 int (*fn)(const struct store_right *, void *), void *arg)
{
	store_clear(s);
	return s->ops->right_list(s, service_id, user_id, fn, arg);
}

int
store_ip_rights(struct store *s, int64_t service_id, const struct addr *ip,
                int (*fn)(const struct store_right *, void *), void *arg)
{
	store_clear(s);
	if (!store_addr_ok(ip))
		return store_fail(s, STORE_INVALID, "no address");
	return s->ops->ip_rights(s, service_id, ip, fn, arg);
}

int
store_touch(struct store *s, const int64_t *ids, const int64_t *seen, size_t n)
{
	store_clear(s);
	if (n > TOUCH_BATCH_MAX)
		return store_fail(s, STORE_INVALID, "touch batch over %d", TOUCH_BATCH_MAX);
	if (n == 0)
		return STORE_OK;
	return s->ops->touch(s, ids, seen, n);
}

int
store_sweep(struct store *s, int64_t now,
            int (*fn)(const struct store_right *, void *), void *arg, int *n)
{
	int dummy;

	store_clear(s);
	*(n ? n : &dummy) = 0;
	return s->ops->sweep(s, now, fn, arg, n ? n : &dummy);
}

int
store_prune(struct store *s, int64_t before, int *n)
{
	int dummy;

	store_clear(s);
	*(n ? n : &dummy) = 0;
	return s->ops->prune(s, before, n ? n : &dummy);
}

int
store_snapshot(struct store *s, int64_t now,
               int (*svc_fn)(const struct store_service *, void *),
               int (*right_fn)(const struct store_right *, void *),
               void *arg, int64_t *seq)
{
	int64_t dummy;

	store_clear(s);
	return s->ops->snapshot(s, now, svc_fn, right_fn, arg, seq ? seq : &dummy);
}

int
store_changes(struct store *s, int64_t after, int max,
              int (*fn)(const struct store_change *, void *), void *arg)
{
	store_clear(s);
	if (max < 1 || max > CHANGES_MAX)
		return store_fail(s, STORE_INVALID, "changes: max must be 1..%d", CHANGES_MAX);
	return s->ops->changes(s, after, max, fn, arg);
}

int
store_wait(struct store *s, int timeout_ms, int *woken)
{
	int dummy;

	store_clear(s);
	*(woken ? woken : &dummy) = 1;
	if (timeout_ms < 0 || timeout_ms > WAIT_MAX_MS)
		return store_fail(s, STORE_INVALID, "wait: timeout must be 0..%d ms", WAIT_MAX_MS);
	if (s->ops->wait)
		return s->ops->wait(s, timeout_ms, woken ? woken : &dummy);
	poll(NULL, 0, timeout_ms);
	return STORE_OK;
}
