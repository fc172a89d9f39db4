/*
 * Store -> kernel. A full sync reads one consistent snapshot of the store and
 * rewrites the whole table in ONE batch: ensure table and base chains, flush
 * every chain, drop what no service owns, flush and refill every set,
 * re-add every rule. A disabled service keeps its chain with empty sets, so
 * its endpoints refuse everyone rather than falling open. The kernel swaps the old state for the new one
 * atomically, so nothing is open, even briefly, while it runs.
 *
 * Defence in depth: a service never gets more distinct addresses than its
 * cap; when the store holds more live rights than that (a lowered cap), the
 * earliest admitted keep their place and the rest are logged.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfd.h"
#include "log.h"
#include "right.h"

struct row {
	int64_t service_id;
	int64_t created_at;
	int64_t until_ms;
	struct addr ip;
};

struct snap {
	struct mirror m;
	struct row *rows;
	size_t n, size;
	int64_t now_s;
	int oom;
};

struct inventory {
	struct nft_obj *objs;
	size_t n, size;
	int oom;
};

static int
snap_service(const struct store_service *ss, void *arg)
{
	struct snap *s = arg;

	if (mirror_add(&s->m, ss) == NULL)
		s->oom = 1;
	return s->oom;
}

int
right_vouched(const struct store_right *r)
{
	if (!r->vouched)
		log_warn("event=right_refused right_id=%" PRId64 " user_id=%" PRId64
		         " service_id=%" PRId64 " reason=\"user or service missing or disabled\"",
		         r->id, r->user_id, r->service_id);
	return r->vouched;
}

static int
snap_right(const struct store_right *r, void *arg)
{
	struct snap *s = arg;
	struct row *p;
	size_t size;

	if (!right_usable(r, s->now_s) || !right_vouched(r))
		return 0;
	if (s->n == s->size) {
		size = s->size ? s->size * 2 : 1024;
		if ((p = realloc(s->rows, size * sizeof *p)) == NULL) {
			s->oom = 1;
			return 1;
		}
		s->rows = p;
		s->size = size;
	}
	p = &s->rows[s->n++];
	p->service_id = r->service_id;
	p->created_at = r->created_at;
	p->until_ms = r->expires_at * 1000;
	p->ip = r->ip;
	return 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->service_id != y->service_id)
		return x->service_id < y->service_id ? -1 : 1;
	return x->created_at < y->created_at ? -1 : x->created_at > y->created_at;
}

static void
log_over(const struct svc *v, size_t over)
{
	if (v != NULL && over > 0)
		log_warn("event=over_cap service_id=%" PRId64 " cap=%d left_out=%zu", v->id, v->cap, over);
}

/*
 * Fills each service's set from the rows, earliest first, from no more rights
 * than its cap: rights, not addresses, as the store counts (two rights behind
 * one NAT address take two places), so rows written around store_admit past
 * the cap open nothing.
 */
static int
snap_fill(struct snap *s, int64_t now_ms)
{
	struct svc *v = NULL;
	struct ipent *e;
	size_t i, over = 0, taken = 0;

	if (s->n > 1)
		qsort(s->rows, s->n, sizeof *s->rows, row_cmp);
	for (i = 0; i < s->n; i++) {
		struct row *r = &s->rows[i];

		if (r->until_ms <= now_ms)
			continue;
		if (v == NULL || v->id != r->service_id) {
			log_over(v, over);
			over = taken = 0;
			v = mirror_find(&s->m, r->service_id);
		}
		if (v == NULL)
			continue;
		if ((int64_t)taken >= v->cap) {
			over++;
			continue;
		}
		taken++;
		if ((e = ipset_get(&v->ips, &r->ip)) != NULL) {
			if (r->until_ms > e->until_ms)
				e->until_ms = r->until_ms;
		} else if (ipset_put(&v->ips, &r->ip, r->until_ms) == -1) {
			return -1;
		}
	}
	log_over(v, over);
	return 0;
}

static int
inv_add(const struct nft_obj *o, void *arg)
{
	struct inventory *inv = arg;
	struct nft_obj *p;
	size_t size;

	if (inv->n == inv->size) {
		size = inv->size ? inv->size * 2 : 64;
		if ((p = realloc(inv->objs, size * sizeof *p)) == NULL) {
			inv->oom = 1;
			return 1;
		}
		inv->objs = p;
		inv->size = size;
	}
	inv->objs[inv->n++] = *o;
	return 0;
}

static const struct nft_obj *
inv_find(const struct inventory *inv, int kind, const char *name)
{
	size_t i;

	for (i = 0; i < inv->n; i++)
		if (inv->objs[i].kind == kind && strcmp(inv->objs[i].name, name) == 0)
			return &inv->objs[i];
	return NULL;
}

/* The service id a chain "sID" or set "sID_v4"/"sID_v6" belongs to, or 0. */
static int64_t
obj_service(const struct nft_obj *o)
{
	const char *p = o->name;
	int64_t id = 0;

	if (*p++ != 's' || *p < '1' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (id > (INT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (*p - '0');
	}
	if (o->kind == NFT_OBJ_CHAIN)
		return *p == '\0' ? id : 0;
	return strcmp(p, "_v4") == 0 || strcmp(p, "_v6") == 0 ? id : 0;
}

static int
is_hook_chain(const char *name)
{
	return strcmp(name, nft_hook_chain(CONF_HOOK_FORWARD)) == 0 ||
	       strcmp(name, nft_hook_chain(CONF_HOOK_INPUT)) == 0 ||
	       strcmp(name, nft_hook_chain(IPFD_HOOK_CAPTIVE)) == 0;
}

static int
captive_target(void *arg, const char *e, char *err, size_t errlen)
{
	struct captive_to *to = arg;
	struct sockaddr_storage ss;
	struct addr a;
	socklen_t sl;

	if (addr_parse_listen(e, &ss, &sl) == -1 || addr_from_sockaddr((struct sockaddr *)&ss, &a) == -1) {
		snprintf(err, errlen, "cid.captive_listen: bad address %s", e);
		return -1;
	}
	if (a.family == AF_INET) {
		to->addr4 = a;
		to->port4 = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		to->addr6 = a;
		to->port6 = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

/*
 * The captive redirect of the configuration: 1 with to filled when some
 * service is captive and a responder address exists, else 0 (no captive chain).
 */
static int
captive_conf(const struct conf *c, struct captive_to *to)
{
	char err[128];

	memset(to, 0, sizeof *to);
	to->http_port = c->ipfd.captive_port;
	if (c->ipfd.captive[0] == '\0' ||
	    conf_listen_each(c->cid.captive_listen, captive_target, to, err, sizeof err) == -1)
		return 0;
	return to->port4 != 0 || to->port6 != 0;
}

/* The hooks ipfd's table has: [ipfd] hook, and the captive chain when it is configured. */
static int
wanted_hooks(const struct conf *c, struct captive_to *to)
{
	return c->ipfd.hook | (captive_conf(c, to) ? IPFD_HOOK_CAPTIVE : 0);
}

/* Base chains: keep and flush the right ones, replace misplaced ones, drop unwanted ones. */
static void
batch_base_chains(struct nft *n, const struct inventory *inv, int hooks)
{
	static const int all[] = { CONF_HOOK_FORWARD, CONF_HOOK_INPUT, IPFD_HOOK_CAPTIVE };
	const struct nft_obj *o;
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		o = inv_find(inv, NFT_OBJ_CHAIN, nft_hook_chain(all[i]));
		if (o != NULL && (!(hooks & all[i]) || !o->base ||
		    o->hooknum != nft_hook_num(all[i]) || o->prio != nft_hook_prio(all[i]))) {
			nft_chain_del(n, o->name);
			o = NULL;
		}
		if (o != NULL)
			nft_chain_flush(n, o->name);
		if (hooks & all[i])
			nft_base_chain_add(n, all[i]);
	}
}

/* Every other chain is flushed (so nothing jumps anywhere), then what is not wanted goes. */
static void
batch_cleanup(struct nft *n, const struct inventory *inv, const struct mirror *m)
{
	const struct nft_obj *o;
	size_t i;

	for (i = 0; i < inv->n; i++) {
		o = &inv->objs[i];
		if (o->kind == NFT_OBJ_CHAIN && !is_hook_chain(o->name))
			nft_chain_flush(n, o->name);
	}
	for (i = 0; i < inv->n; i++) {
		o = &inv->objs[i];
		if (o->kind == NFT_OBJ_CHAIN && !is_hook_chain(o->name) &&
		    mirror_find(m, obj_service(o)) == NULL)
			nft_chain_del(n, o->name);
	}
	for (i = 0; i < inv->n; i++) {
		o = &inv->objs[i];
		if (o->kind == NFT_OBJ_SET && mirror_find(m, obj_service(o)) == NULL)
			nft_set_del(n, o->name);
	}
}

/* Adds the elements of one family of v's set; buf has room for v->ips.n. */
static void
batch_elems(struct nft *n, const struct svc *v, int family, struct nft_elem *buf, int64_t now_ms)
{
	char name[IPFD_NAME_MAX];
	size_t i, k = 0;

	for (i = 0; i < v->ips.size; i++) {
		const struct ipent *e = &v->ips.slots[i];

		if (e->until_ms > now_ms && e->ip.family == family) {
			buf[k].ip = e->ip;
			buf[k++].timeout_ms = (uint64_t)(e->until_ms - now_ms);
		}
	}
	nft_elems(n, nft_set_name(v->id, family, name), family, NFT_ELEM_ADD, buf, k);
}

/* A service's sets, refilled from v (flushing them first when the kernel has them). */
static void
batch_sets(struct nft *n, const struct inventory *inv, const struct svc *v,
           struct nft_elem *buf, int64_t now_ms)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	char name[IPFD_NAME_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		nft_set_name(v->id, fams[i], name);
		if (inv == NULL || inv_find(inv, NFT_OBJ_SET, name) != NULL)
			nft_set_flush(n, name);
		else
			nft_set_add(n, name, fams[i]);
		batch_elems(n, v, fams[i], buf, now_ms);
	}
}

static int
build_full(struct nft *n, const struct inventory *inv, const struct mirror *m, int hooks,
           const struct captive_to *to, const char *captive, int64_t now_ms)
{
	char name[IPFD_NAME_MAX];
	struct nft_elem *buf;
	size_t i, most = 1;

	for (i = 0; i < m->n; i++)
		if (m->svcs[i].ips.n > most)
			most = m->svcs[i].ips.n;
	if ((buf = malloc(most * sizeof *buf)) == NULL)
		return -1;
	nft_begin(n);
	nft_table_add(n);
	batch_base_chains(n, inv, hooks);
	batch_cleanup(n, inv, m);
	for (i = 0; i < m->n; i++) {
		batch_sets(n, inv, &m->svcs[i], buf, now_ms);   /* before the rules that look them up */
		nft_chain_add(n, nft_chain_name(m->svcs[i].id, name));
		nft_service_rules(n, m->svcs[i].id);
	}
	for (i = 0; i < m->n; i++) {
		if (hooks & CONF_HOOK_FORWARD)
			nft_guard_rules(n, CONF_HOOK_FORWARD, m->svcs[i].id, m->svcs[i].guards,
			                m->svcs[i].n_guards);
		if (hooks & CONF_HOOK_INPUT)
			nft_guard_rules(n, CONF_HOOK_INPUT, m->svcs[i].id, m->svcs[i].guards,
			                m->svcs[i].n_guards);
		if ((hooks & IPFD_HOOK_CAPTIVE) && conf_list_has(captive, m->svcs[i].name))
			nft_captive_rules(n, m->svcs[i].id, m->svcs[i].guards, m->svcs[i].n_guards, to);
	}
	free(buf);
	return 0;
}

static void
snap_free(struct snap *s)
{
	mirror_free(&s->m);
	free(s->rows);
}

int
sync_all(struct ipfd *d, int *status, char *err, size_t errlen)
{
	struct snap s;
	struct inventory inv = { 0 };
	int64_t seq = 0, t0 = clock_mono_us(), t1, now_ms = clock_wall_ms();
	struct captive_to to;
	int rc, ret = -1, hooks = wanted_hooks(&d->conf, &to);

	memset(&s, 0, sizeof s);
	s.now_s = now_ms / 1000;
	err[0] = '\0';
	*status = IPC_ESTORE;
	rc = store_snapshot(d->store, s.now_s, snap_service, snap_right, &s, &seq);
	if (rc != STORE_OK || s.oom) {
		snprintf(err, errlen, "store snapshot: %s", s.oom ? "out of memory" : store_error(d->store));
		goto done;
	}
	mirror_sort(&s.m);
	*status = IPC_EKERNEL;
	if (snap_fill(&s, now_ms) == -1 || nft_list(d->nft, inv_add, &inv, err, errlen) == -1 ||
	    inv.oom || build_full(d->nft, &inv, &s.m, hooks, &to, d->conf.ipfd.captive, now_ms) == -1) {
		if (inv.oom || err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		goto done;
	}
	t1 = clock_mono_us();
	d->stats.batches++;
	if (nft_commit(d->nft, err, errlen) == -1) {
		d->stats.batch_errors++;
		goto done;
	}
	mirror_free(&d->mirror);
	d->mirror = s.m;
	memset(&s.m, 0, sizeof s.m);
	d->stats.syncs++;
	d->stats.rebuilds++;
	d->stats.last_sync = now_ms / 1000;
	d->seq = seq;
	d->epoch = store_epoch(d->store);
	*status = IPC_OK;
	ret = 0;
	log_info("event=sync scope=all services=%zu elements=%zu seq=%" PRId64
	         " build_us=%" PRId64 " commit_us=%" PRId64,
	         d->mirror.n, mirror_elements(&d->mirror), seq, t1 - t0, clock_mono_us() - t1);
done:
	free(inv.objs);
	snap_free(&s);
	return ret;
}

int
sync_intact(struct ipfd *d, char *err, size_t errlen)
{
	static const int hooks[] = { CONF_HOOK_FORWARD, CONF_HOOK_INPUT, IPFD_HOOK_CAPTIVE };
	struct inventory inv = { 0 };
	struct captive_to to;
	char name[IPFD_NAME_MAX];
	int64_t id;
	size_t i;
	int ok = 1, want = wanted_hooks(&d->conf, &to);

	if (nft_list(d->nft, inv_add, &inv, err, errlen) == -1 || inv.oom) {
		if (inv.oom)
			snprintf(err, errlen, "out of memory");
		free(inv.objs);
		return -1;
	}
	for (i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
		if ((want & hooks[i]) &&
		    inv_find(&inv, NFT_OBJ_CHAIN, nft_hook_chain(hooks[i])) == NULL)
			ok = 0;
	for (i = 0; ok && i < d->mirror.n; i++) {
		id = d->mirror.svcs[i].id;
		ok = inv_find(&inv, NFT_OBJ_CHAIN, nft_chain_name(id, name)) != NULL &&
		     inv_find(&inv, NFT_OBJ_SET, nft_set_name(id, AF_INET, name)) != NULL &&
		     inv_find(&inv, NFT_OBJ_SET, nft_set_name(id, AF_INET6, name)) != NULL;
	}
	free(inv.objs);
	return ok;
}

/* Reads service id's live rights into a one-service mirror. */
static int
read_service(struct ipfd *d, const struct store_service *ss, struct snap *s, int64_t now_ms)
{
	s->now_s = now_ms / 1000;
	if (mirror_add(&s->m, ss) == NULL)
		return STORE_UNAVAILABLE;
	if (ss->enabled && (store_right_list(d->store, ss->id, 0, snap_right, s) != STORE_OK || s->oom))
		return STORE_UNAVAILABLE;
	return snap_fill(s, now_ms) == -1 ? STORE_UNAVAILABLE : STORE_OK;
}

int
sync_service(struct ipfd *d, int64_t id, int *status, char *err, size_t errlen)
{
	struct store_service ss;
	struct snap s;
	struct svc *v;
	struct nft_elem *buf = NULL;
	int64_t now_ms = clock_wall_ms();
	int rc, ret = -1;

	rc = store_service_get_id(d->store, id, &ss);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		*status = IPC_ESTORE;
		snprintf(err, errlen, "store: %s", store_error(d->store));
		return -1;
	}
	v = mirror_find(&d->mirror, id);
	if (rc == STORE_NOTFOUND && v == NULL) {
		*status = IPC_OK;          /* neither the store nor the kernel has it */
		return 0;
	}
	if (rc == STORE_NOTFOUND || v == NULL || !svc_same_rules(v, &ss))
		return sync_all(d, status, err, errlen);
	memset(&s, 0, sizeof s);
	*status = IPC_ESTORE;
	if (read_service(d, &ss, &s, now_ms) != STORE_OK) {
		snprintf(err, errlen, "store: %s", s.oom ? "out of memory" : store_error(d->store));
		goto done;
	}
	*status = IPC_EKERNEL;
	if ((buf = malloc((s.m.svcs[0].ips.n + 1) * sizeof *buf)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	nft_begin(d->nft);
	batch_sets(d->nft, NULL, &s.m.svcs[0], buf, now_ms);
	d->stats.batches++;
	if (nft_commit(d->nft, err, errlen) == -1) {
		d->stats.batch_errors++;
		goto done;
	}
	ipset_free(&v->ips);
	v->ips = s.m.svcs[0].ips;
	v->cap = ss.cap;
	v->enabled = ss.enabled != 0;
	memset(&s.m.svcs[0].ips, 0, sizeof s.m.svcs[0].ips);
	d->stats.syncs++;
	*status = IPC_OK;
	ret = 0;
	log_info("event=sync scope=service service_id=%" PRId64 " elements=%zu", id, v->ips.n);
done:
	free(buf);
	snap_free(&s);
	return ret;
}
