/*
 * What ipfd believes each set holds: per service, a hash set of addresses with
 * the time the kernel will drop them. Open addressing with linear probing and
 * backward-shift deletion; no tombstones, so lookups stay short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfd.h"

static size_t
ip_hash(const struct addr *ip)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	size_t i, len = ip->family == AF_INET6 ? 16 : 4;

	h ^= ip->family;
	h *= 1099511628211ull;
	for (i = 0; i < len; i++) {
		h ^= ip->bytes[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static int
ip_same(const struct addr *a, const struct addr *b)
{
	size_t len = a->family == AF_INET6 ? 16 : 4;

	return a->family == b->family && memcmp(a->bytes, b->bytes, len) == 0;
}

static struct ipent *
slot_of(const struct ipset *s, const struct addr *ip)
{
	size_t mask = s->size - 1, i = ip_hash(ip) & mask;

	while (s->slots[i].until_ms != 0 && !ip_same(&s->slots[i].ip, ip))
		i = (i + 1) & mask;
	return &s->slots[i];
}

struct ipent *
ipset_get(const struct ipset *s, const struct addr *ip)
{
	struct ipent *e;

	if (s->size == 0)
		return NULL;
	e = slot_of(s, ip);
	return e->until_ms != 0 ? e : NULL;
}

static int
grow(struct ipset *s)
{
	struct ipset bigger;
	size_t i;

	bigger.size = s->size ? s->size * 2 : 16;
	bigger.n = s->n;
	if ((bigger.slots = calloc(bigger.size, sizeof *bigger.slots)) == NULL)
		return -1;
	for (i = 0; i < s->size; i++)
		if (s->slots[i].until_ms != 0)
			*slot_of(&bigger, &s->slots[i].ip) = s->slots[i];
	free(s->slots);
	*s = bigger;
	return 0;
}

int
ipset_put(struct ipset *s, const struct addr *ip, int64_t until_ms)
{
	struct ipent *e;

	if (until_ms <= 0)
		until_ms = 1;
	if ((s->n + 1) * 2 > s->size && grow(s) == -1)
		return -1;
	e = slot_of(s, ip);
	if (e->until_ms == 0) {
		memset(&e->ip, 0, sizeof e->ip);
		e->ip.family = ip->family;
		memcpy(e->ip.bytes, ip->bytes, ip->family == AF_INET6 ? 16 : 4);
		s->n++;
	}
	e->until_ms = until_ms;
	return 0;
}

void
ipset_del(struct ipset *s, const struct addr *ip)
{
	size_t mask, i, j, home;

	if (s->size == 0)
		return;
	mask = s->size - 1;
	i = (size_t)(slot_of(s, ip) - s->slots);
	if (s->slots[i].until_ms == 0)
		return;
	s->slots[i].until_ms = 0;
	s->n--;
	/* Pull later entries of the probe run back into the hole. */
	for (j = (i + 1) & mask; s->slots[j].until_ms != 0; j = (j + 1) & mask) {
		home = ip_hash(&s->slots[j].ip) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slots[i] = s->slots[j];
			s->slots[j].until_ms = 0;
			i = j;
		}
	}
}

size_t
ipset_prune(struct ipset *s, int64_t now_ms)
{
	size_t i = 0;
	struct addr ip;

	while (i < s->size) {
		if (s->slots[i].until_ms != 0 && s->slots[i].until_ms <= now_ms) {
			ip = s->slots[i].ip;
			ipset_del(s, &ip);   /* may pull another entry into slot i: look again */
			continue;
		}
		i++;
	}
	return s->n;
}

void
ipset_free(struct ipset *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}

struct svc *
mirror_find(const struct mirror *m, int64_t id)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->svcs[mid].id == id)
			return &m->svcs[mid];
		if (m->svcs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct svc *
mirror_add(struct mirror *m, const struct store_service *ss)
{
	struct svc *p;
	size_t size;
	int n_guards = ss->n_guards;

	if (m->n == m->size) {
		size = m->size ? m->size * 2 : 16;
		if ((p = realloc(m->svcs, size * sizeof *p)) == NULL)
			return NULL;
		m->svcs = p;
		m->size = size;
	}
	if (n_guards < 0)
		n_guards = 0;
	if (n_guards > GUARDS_MAX)
		n_guards = GUARDS_MAX;
	p = &m->svcs[m->n++];
	memset(p, 0, sizeof *p);
	p->id = ss->id;
	snprintf(p->name, sizeof p->name, "%s", ss->name);
	p->cap = ss->cap;
	p->enabled = ss->enabled != 0;
	p->n_guards = n_guards;
	memcpy(p->guards, ss->guards, (size_t)n_guards * sizeof p->guards[0]);
	return p;
}

static int
svc_cmp(const void *a, const void *b)
{
	const struct svc *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void
mirror_sort(struct mirror *m)
{
	if (m->n > 1)
		qsort(m->svcs, m->n, sizeof m->svcs[0], svc_cmp);
}

size_t
mirror_elements(const struct mirror *m)
{
	size_t i, total = 0;

	for (i = 0; i < m->n; i++)
		total += m->svcs[i].ips.n;
	return total;
}

void
mirror_free(struct mirror *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		ipset_free(&m->svcs[i].ips);
	free(m->svcs);
	memset(m, 0, sizeof *m);
}

int
svc_same_rules(const struct svc *a, const struct store_service *b)
{
	int i;

	if (a->n_guards != b->n_guards || strcmp(a->name, b->name) != 0)
		return 0;
	for (i = 0; i < a->n_guards; i++) {
		if (a->guards[i].port != b->guards[i].port ||
		    !ip_same(&a->guards[i].addr, &b->guards[i].addr))
			return 0;
	}
	return 1;
}
