/*
 * One round of control requests: every ADMIT and REVOKE in the queue is
 * checked against the store and planned as the final state of one address in
 * one set; the plan is committed as ONE batch; then SYNCs run and every
 * requester gets its answer, in arrival order, after the commit.
 *
 * Each planned address is written as "add; delete; add" (or "add; delete" to
 * remove it). That sequence is valid in one atomic batch whether or not the
 * kernel still holds the element (it may have just timed out), and it leaves
 * the element with exactly the planned timeout. An address the kernel surely
 * lacks (ipfd never put it there, or it timed out well ago) is a single add.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfd.h"
#include "log.h"
#include "right.h"

#define REMOVE_TIMEOUT_MS 1000       /* placeholder add before a delete */
#define RESYNC_MAX 16                /* services resynced for the cap in one round */

struct step {
	int64_t service_id;
	struct addr ip;
	int     present;
	int64_t until_ms;
	int     fresh;                   /* the kernel surely lacks it: a plain add will do */
};

struct run {
	struct ipfd *d;
	struct step *steps;
	size_t  n, size;
	int64_t now_ms;
	int     synced_all;              /* this round already rebuilt everything */
	int     sync_status;             /* and how that went */
	int64_t resynced[RESYNC_MAX];
	size_t  nresynced;
};

static struct step *
step_find(struct run *r, int64_t service_id, const struct addr *ip)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->steps[i].service_id == service_id && addr_eq(&r->steps[i].ip, ip))
			return &r->steps[i];
	return NULL;
}

static struct step *
step_get(struct run *r, int64_t service_id, const struct addr *ip)
{
	struct step *s = step_find(r, service_id, ip);
	size_t size;

	if (s != NULL)
		return s;
	if (r->n == r->size) {
		size = r->size ? r->size * 2 : 16;
		if ((s = realloc(r->steps, size * sizeof *s)) == NULL)
			return NULL;
		r->steps = s;
		r->size = size;
	}
	s = &r->steps[r->n++];
	memset(s, 0, sizeof *s);
	s->service_id = service_id;
	s->ip = *ip;
	s->fresh = -1;                   /* not decided yet: the first admit decides */
	return s;
}

/* When the kernel holds ip in v's set until (0: not at all). */
static int64_t
held_until(const struct run *r, const struct svc *v, const struct addr *ip)
{
	const struct ipent *e = ipset_get(&v->ips, ip);

	return e != NULL && e->until_ms > r->now_ms ? e->until_ms : 0;
}

/* Addresses this round would add to v's set that it does not hold yet. */
static size_t
planned_new(const struct run *r, const struct svc *v)
{
	size_t i, k = 0;

	for (i = 0; i < r->n; i++)
		if (r->steps[i].service_id == v->id && r->steps[i].present &&
		    held_until(r, v, &r->steps[i].ip) == 0)
			k++;
	return k;
}

static int
fits_cap(struct run *r, struct svc *v, const struct addr *ip)
{
	const struct step *s = step_find(r, v->id, ip);
	size_t extra;

	if (held_until(r, v, ip) != 0 || (s != NULL && s->present))
		return 1;
	extra = planned_new(r, v) + 1;
	/* n counts timed-out entries too: prune (a full scan) only when that matters. */
	if (v->ips.n + extra <= (size_t)v->cap)
		return 1;
	return ipset_prune(&v->ips, r->now_ms - IPFD_GONE_GRACE_MS) + extra <= (size_t)v->cap;
}

static int
was_resynced(struct run *r, int64_t id)
{
	size_t i;

	for (i = 0; i < r->nresynced; i++)
		if (r->resynced[i] == id)
			return 1;
	if (r->nresynced == RESYNC_MAX)
		return 1;                    /* enough store reads for one round: refuse */
	r->resynced[r->nresynced++] = id;
	return 0;
}

/*
 * Finds the right's service, syncing everything once per round when ipfd does
 * not know it yet (added since the last sync). NULL with *status ENOTLIVE when
 * the store has no such service, or the failed sync's status.
 */
static struct svc *
service_of(struct run *r, int64_t id, int *status)
{
	struct svc *v = mirror_find(&r->d->mirror, id);
	char err[256];

	if (v == NULL && !r->synced_all) {
		r->synced_all = 1;
		if (sync_all(r->d, &r->sync_status, err, sizeof err) == -1)
			log_err("event=sync scope=all status=%s error=\"%s\"",
			        ipc_status_str(r->sync_status), err);
		v = mirror_find(&r->d->mirror, id);
	}
	*status = r->sync_status != IPC_OK ? r->sync_status : IPC_ENOTLIVE;
	return v;
}

/*
 * The store's own count of the service's live rights against its cap: a right
 * written around store_admit can pass the cap there while ipfd's set, which
 * counts addresses, still has room.
 */
static int
store_within_cap(struct run *r, const struct store_right *rt)
{
	struct store_service ss;
	int rc = store_service_get_id(r->d->store, rt->service_id, &ss);

	if (rc == STORE_NOTFOUND)
		return IPC_ENOTLIVE;
	if (rc != STORE_OK)
		return IPC_ESTORE;
	if (ss.active <= ss.cap)
		return IPC_OK;
	log_warn("event=admit_refused right_id=%" PRId64 " service_id=%" PRId64
	         " reason=store_over_cap active=%d cap=%d", rt->id, rt->service_id, ss.active, ss.cap);
	return IPC_ECAP;
}

static void
admit(struct run *r, struct pending *p)
{
	struct store_right rt;
	struct step *s;
	struct svc *v;
	int64_t until;
	char err[256];
	int rc, st;

	rc = store_right_get(r->d->store, p->req.right_id, &rt);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && !right_usable(&rt, r->now_ms / 1000))) {
		ipc_rep_init(&p->rep, &p->req, IPC_ENOTLIVE, rc == STORE_OK ? "right not live" : "no such right");
		return;
	}
	if (rc != STORE_OK) {
		ipc_rep_init(&p->rep, &p->req, IPC_ESTORE, store_error(r->d->store));
		return;
	}
	if ((v = service_of(r, rt.service_id, &st)) == NULL) {
		ipc_rep_init(&p->rep, &p->req, st, st == IPC_ENOTLIVE ? "no such service"
		                                                      : ipc_status_str(st));
		return;
	}
	if (!v->enabled) {
		ipc_rep_init(&p->rep, &p->req, IPC_ENOTLIVE, "service disabled");
		return;
	}
	if (!right_vouched(&rt)) {
		ipc_rep_init(&p->rep, &p->req, IPC_ENOTLIVE, "user or service missing or disabled");
		return;
	}
	if ((st = store_within_cap(r, &rt)) != IPC_OK) {
		ipc_rep_init(&p->rep, &p->req, st, st == IPC_ECAP ? "the store holds more live rights "
		             "than the service's cap" : store_error(r->d->store));
		return;
	}
	if (!fits_cap(r, v, &rt.ip) && !was_resynced(r, v->id)) {
		if (sync_service(r->d, v->id, &st, err, sizeof err) == -1)
			log_err("event=sync scope=service service_id=%" PRId64 " error=\"%s\"", v->id, err);
		v = mirror_find(&r->d->mirror, rt.service_id);
	}
	if (v == NULL || !fits_cap(r, v, &rt.ip)) {
		log_warn("event=admit_refused right_id=%" PRId64 " service_id=%" PRId64
		         " reason=over_cap", rt.id, rt.service_id);
		ipc_rep_init(&p->rep, &p->req, IPC_ECAP, "set would exceed the service's cap");
		return;
	}
	if ((s = step_get(r, v->id, &rt.ip)) == NULL) {
		ipc_rep_init(&p->rep, &p->req, IPC_EKERNEL, "out of memory");
		return;
	}
	until = rt.expires_at * 1000;
	if (held_until(r, v, &rt.ip) > until)
		until = held_until(r, v, &rt.ip);
	if (s->present && s->until_ms > until)
		until = s->until_ms;
	if (s->fresh == -1) {
		const struct ipent *e = ipset_get(&v->ips, &rt.ip);

		s->fresh = e == NULL || e->until_ms + IPFD_GONE_GRACE_MS <= r->now_ms;
	}
	s->present = 1;
	s->until_ms = until;
	p->in_batch = 1;
}

struct keep {
	const struct addr *ip;
	int64_t except_id, now_s, until_ms;
};

static int
keep_right(const struct store_right *rt, void *arg)
{
	struct keep *k = arg;

	if (rt->id != k->except_id && addr_eq(&rt->ip, k->ip) && right_usable(rt, k->now_s) &&
	    rt->vouched && rt->expires_at * 1000 > k->until_ms)
		k->until_ms = rt->expires_at * 1000;
	return 0;
}

static void
revoke(struct run *r, struct pending *p)
{
	struct store_right rt;
	struct keep k;
	struct step *s;
	int rc;

	rc = store_right_get(r->d->store, p->req.right_id, &rt);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && right_usable(&rt, r->now_ms / 1000))) {
		ipc_rep_init(&p->rep, &p->req, IPC_EINVAL, rc == STORE_OK ? "right is still live" : "no such right");
		return;
	}
	if (rc == STORE_OK && mirror_find(&r->d->mirror, rt.service_id) == NULL) {
		ipc_rep_init(&p->rep, &p->req, IPC_OK, NULL);   /* no set holds it */
		return;
	}
	memset(&k, 0, sizeof k);
	k.ip = &rt.ip;
	k.except_id = rt.id;
	k.now_s = r->now_ms / 1000;
	if (rc == STORE_OK)
		rc = store_ip_rights(r->d->store, rt.service_id, &rt.ip, keep_right, &k);
	if (rc != STORE_OK) {
		ipc_rep_init(&p->rep, &p->req, IPC_ESTORE, store_error(r->d->store));
		return;
	}
	if ((s = step_get(r, rt.service_id, &rt.ip)) == NULL) {
		ipc_rep_init(&p->rep, &p->req, IPC_EKERNEL, "out of memory");
		return;
	}
	/* NAT: another live right uses the address; it stays until the latest of those ends. */
	s->fresh = 0;
	s->present = k.until_ms > r->now_ms;
	s->until_ms = k.until_ms;
	p->in_batch = 1;
}

static int
step_cmp(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	if (x->service_id != y->service_id)
		return x->service_id < y->service_id ? -1 : 1;
	return (int)x->ip.family - (int)y->ip.family;
}

/* Writes the steps of one set: add all, delete all, add the present ones. */
static void
batch_group(struct run *r, const struct step *s, size_t n, struct nft_elem *buf)
{
	char name[IPFD_NAME_MAX];
	int family = s[0].ip.family;
	size_t i, k = 0;

	nft_set_name(s[0].service_id, family, name);
	for (i = 0; i < n; i++) {
		if (s[i].fresh == 1)
			continue;
		buf[k].ip = s[i].ip;
		buf[k++].timeout_ms = s[i].present ? (uint64_t)(s[i].until_ms - r->now_ms) : REMOVE_TIMEOUT_MS;
	}
	nft_elems(r->d->nft, name, family, NFT_ELEM_ADD, buf, k);
	nft_elems(r->d->nft, name, family, NFT_ELEM_DEL, buf, k);
	for (i = k = 0; i < n; i++) {
		if (!s[i].present)
			continue;
		buf[k].ip = s[i].ip;
		buf[k++].timeout_ms = (uint64_t)(s[i].until_ms - r->now_ms);
	}
	nft_elems(r->d->nft, name, family, NFT_ELEM_ADD, buf, k);
}

static int
commit_steps(struct run *r, char *err, size_t errlen)
{
	struct nft_elem *buf;
	size_t i, j;
	int rc;

	if (r->n == 0)
		return 0;
	for (i = 0; i < r->n; i++)
		if (r->steps[i].present && r->steps[i].until_ms <= r->now_ms)
			r->steps[i].present = 0;
	qsort(r->steps, r->n, sizeof *r->steps, step_cmp);
	if ((buf = malloc(r->n * sizeof *buf)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nft_begin(r->d->nft);
	for (i = 0; i < r->n; i = j) {
		for (j = i + 1; j < r->n && step_cmp(&r->steps[i], &r->steps[j]) == 0; j++)
			;
		batch_group(r, &r->steps[i], j - i, buf);
	}
	free(buf);
	r->d->stats.batches++;
	if ((rc = nft_commit(r->d->nft, err, errlen)) == -1)
		r->d->stats.batch_errors++;
	return rc;
}

static void
apply_steps(struct run *r)
{
	struct svc *v;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if ((v = mirror_find(&r->d->mirror, r->steps[i].service_id)) == NULL)
			continue;
		if (!r->steps[i].present)
			ipset_del(&v->ips, &r->steps[i].ip);
		else if (ipset_put(&v->ips, &r->steps[i].ip, r->steps[i].until_ms) == -1)
			r->d->next_sync = 0;   /* the mirror is short of memory: resync soon */
	}
}

static void
answer_batched(struct run *r, int committed, int recovered, const char *err)
{
	struct pending *p;
	struct store_right rt;
	struct svc *v;
	size_t i;
	int ok;

	for (i = 0; i < r->d->nqueue; i++) {
		p = &r->d->queue[i];
		if (!p->in_batch)
			continue;
		ok = committed || recovered;
		if (!committed && recovered && p->req.type == IPC_ADMIT) {
			ok = store_right_get(r->d->store, p->req.right_id, &rt) == STORE_OK &&
			     (v = mirror_find(&r->d->mirror, rt.service_id)) != NULL &&
			     held_until(r, v, &rt.ip) != 0;
		}
		ipc_rep_init(&p->rep, &p->req, ok ? IPC_OK : IPC_EKERNEL, ok ? NULL : err);
		if (ok && p->req.type == IPC_ADMIT)
			r->d->stats.admits++;
		else if (ok)
			r->d->stats.revokes++;
	}
}

static void
run_batch(struct run *r)
{
	char err[256];
	size_t i;
	int committed, recovered = 0;

	for (i = 0; i < r->d->nqueue; i++) {
		if (r->d->queue[i].req.type == IPC_ADMIT)
			admit(r, &r->d->queue[i]);
		else if (r->d->queue[i].req.type == IPC_REVOKE)
			revoke(r, &r->d->queue[i]);
	}
	committed = commit_steps(r, err, sizeof err) == 0;
	if (committed) {
		apply_steps(r);
	} else {
		/*
		 * Someone removed our table, or the kernel ran out of memory: the
		 * store is the truth, so rebuild from it and answer from the rebuilt
		 * state. If that fails too, every batched request fails closed.
		 */
		log_err("event=batch_failed requests=%zu error=\"%s\" effect=full_sync", r->n, err);
		recovered = sync_all(r->d, &(int){ 0 }, err, sizeof err) == 0;
		if (!recovered)
			r->d->next_sync = 0;
	}
	answer_batched(r, committed, recovered, err);
}

/* SYNC requests: one full sync covers them all when any asks for everything. */
static void
run_syncs(struct ipfd *d)
{
	struct pending *p;
	char err[256];
	size_t i;
	int full = 0, full_st = IPC_OK, st;

	for (i = 0; i < d->nqueue; i++)
		if (d->queue[i].req.type == IPC_SYNC && d->queue[i].req.service_id == 0)
			full = 1;
	if (full && sync_all(d, &full_st, err, sizeof err) == -1)
		log_err("event=sync scope=all status=%s error=\"%s\"", ipc_status_str(full_st), err);
	for (i = 0; i < d->nqueue; i++) {
		p = &d->queue[i];
		if (p->req.type != IPC_SYNC)
			continue;
		st = full_st;
		if (!full && sync_service(d, p->req.service_id, &st, err, sizeof err) == -1)
			log_err("event=sync scope=service service_id=%" PRId64 " status=%s error=\"%s\"",
			        p->req.service_id, ipc_status_str(st), err);
		ipc_rep_init(&p->rep, &p->req, st, st == IPC_OK ? NULL : ipc_status_str(st));
	}
}

static void
fill_status(struct ipfd *d)
{
	size_t i, asked = 0;
	int64_t now = clock_wall_ms();

	for (i = 0; i < d->nqueue; i++)
		asked += d->queue[i].req.type == IPC_STATUS;
	if (asked == 0)
		return;
	for (i = 0; i < d->mirror.n; i++)   /* a full scan: only when asked */
		ipset_prune(&d->mirror.svcs[i].ips, now - IPFD_GONE_GRACE_MS);
	d->stats.services = d->mirror.n;
	d->stats.elements = mirror_elements(&d->mirror);
	for (i = 0; i < d->nqueue; i++) {
		if (d->queue[i].req.type != IPC_STATUS)
			continue;
		ipc_rep_init(&d->queue[i].rep, &d->queue[i].req, IPC_OK, NULL);
		d->queue[i].rep.stats = d->stats;
	}
}

void
ops_run(struct ipfd *d)
{
	struct run r;

	memset(&r, 0, sizeof r);
	r.d = d;
	r.now_ms = clock_wall_ms();
	run_batch(&r);
	run_syncs(d);
	fill_status(d);
	free(r.steps);
	ctl_reply_all(d);
}
