/*
 * Reading the kernel's side: listing our table's chains and sets, and
 * watching for changes to our table made by anyone else.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>

#include "ipfd.h"
#include "nft_int.h"

struct listing {
	int (*fn)(const struct nft_obj *, void *);
	void *arg;
	int kind;
	int stop;
};

static int
list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct listing *l = data;
	struct nft_obj o;
	const char *table, *name;
	struct nftnl_chain *c = NULL;
	struct nftnl_set *s = NULL;

	memset(&o, 0, sizeof o);
	o.kind = l->kind;
	if (l->kind == NFT_OBJ_CHAIN) {
		if ((c = nftnl_chain_alloc()) == NULL || nftnl_chain_nlmsg_parse(nlh, c) < 0)
			goto done;
		table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
			o.base = 1;
			o.hooknum = (int)nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
			o.prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		}
	} else {
		if ((s = nftnl_set_alloc()) == NULL || nftnl_set_nlmsg_parse(nlh, s) < 0)
			goto done;
		table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
		name = nftnl_set_get_str(s, NFTNL_SET_NAME);
	}
	if (table != NULL && name != NULL && strcmp(table, IPFD_TABLE) == 0 && !l->stop) {
		snprintf(o.name, sizeof o.name, "%s", name);
		l->stop = l->fn(&o, l->arg);
	}
done:
	if (c != NULL)
		nftnl_chain_free(c);
	if (s != NULL)
		nftnl_set_free(s);
	return MNL_CB_OK;
}

static int
dump(struct nft *n, uint16_t type, struct listing *l, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = n->seq++;
	ssize_t got;
	int rc;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) == -1) {
		snprintf(err, errlen, "netlink dump: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		got = mnl_socket_recvfrom(n->nl, buf, sizeof buf);
		if (got == -1) {
			snprintf(err, errlen, "netlink dump: %s", nft_errno_hint(errno));
			return -1;
		}
		rc = mnl_cb_run(buf, (size_t)got, seq, n->portid, list_cb, l);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc == MNL_CB_ERROR) {
			snprintf(err, errlen, "netlink dump: %s", nft_errno_hint(errno));
			return -1;
		}
	}
}

int
nft_list(struct nft *n, int (*fn)(const struct nft_obj *, void *), void *arg,
         char *err, size_t errlen)
{
	struct listing l = { fn, arg, NFT_OBJ_CHAIN, 0 };

	if (n->nl == NULL) {
		snprintf(err, errlen, "no netlink socket");
		return -1;
	}
	if (dump(n, NFT_MSG_GETCHAIN, &l, err, errlen) == -1)
		return -1;
	l.kind = NFT_OBJ_SET;
	return dump(n, NFT_MSG_GETSET, &l, err, errlen);
}

/*
 * A socket filter that drops, in the kernel, the events of our own batches
 * (a rebuild of 100 000 rights makes 100 000 element events) and the
 * kernel's own (port 0): only other processes' changes are queued. The
 * kernel coalesces one commit's events into one buffer, so the first
 * message's port stands for all of it. BPF loads words big-endian, hence
 * htonl of the host-order nlmsg_pid.
 */
static int
drop_own_events(int fd, uint32_t portid)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(portid), 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int
nft_watch_open(struct nft *n, char *err, size_t errlen)
{
	int rcv = RCVBUF_BYTES, fd;

	if ((n->watch = mnl_socket_open(NETLINK_NETFILTER)) == NULL) {
		snprintf(err, errlen, "netlink event socket: %s", strerror(errno));
		return -1;
	}
	fd = mnl_socket_get_fd(n->watch);
	if (drop_own_events(fd, n->portid) == -1) {
		snprintf(err, errlen, "netlink event socket: filter: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(n->watch, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "netlink event socket: subscribe: %s", nft_errno_hint(errno));
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	return 0;
fail:
	mnl_socket_close(n->watch);
	n->watch = NULL;
	return -1;
}

static int
gen_attr_cb(const struct nlattr *attr, void *data)
{
	uint32_t *gen = data;

	if (mnl_attr_get_type(attr) == NFTA_GEN_ID && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		*gen = ntohl(mnl_attr_get_u32(attr));
	return MNL_CB_OK;
}

/* The ruleset's generation, which every commit by anyone moves on by one. 0 or -1. */
static int
ruleset_gen(struct nft *n, uint32_t *gen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *reply;
	struct nlmsghdr *nlh;
	uint32_t seq = n->seq++, got_gen = 0;
	int len, tries;
	ssize_t got;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, seq);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	for (tries = 0; tries < 4; tries++) {   /* skipping anything stale queued before it */
		if ((got = mnl_socket_recvfrom(n->nl, buf, sizeof buf)) <= 0)
			return -1;
		len = (int)got;
		for (reply = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(reply, len);
		     reply = mnl_nlmsg_next(reply, &len)) {
			if (reply->nlmsg_seq != seq)
				continue;
			if (NFNL_MSG_TYPE(reply->nlmsg_type) != NFT_MSG_NEWGEN ||
			    mnl_attr_parse(reply, sizeof(struct nfgenmsg), gen_attr_cb, &got_gen) < 0 ||
			    got_gen == 0)
				return -1;
			*gen = got_gen;
			return 0;
		}
	}
	return -1;
}

static int
membership(struct nft *n, int on)
{
	int group = NFNLGRP_NFTABLES;

	return setsockopt(mnl_socket_get_fd(n->watch), SOL_NETLINK,
	                  on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group, sizeof group);
}

int
nft_watch_pause(struct nft *n, uint32_t *gen)
{
	*gen = 0;
	if (n->watch == NULL || ruleset_gen(n, gen) == -1 || membership(n, 0) == -1) {
		*gen = 0;
		return 0;
	}
	return 1;
}

void
nft_watch_resume(struct nft *n, uint32_t gen, int committed)
{
	uint32_t now, want = gen + (committed ? 1 : 0);

	if (want == 0)
		want = 1;              /* the kernel skips 0 when the counter wraps */
	if (membership(n, 1) == -1) {
		mnl_socket_close(n->watch);
		n->watch = NULL;
		n->watch_lost = 1;
	}
	if (n->watch == NULL || ruleset_gen(n, &now) == -1 || now != want)
		n->missed = 1;
}

int
nft_watch_missed(struct nft *n)
{
	int m = n->missed;

	n->missed = 0;
	return m;
}

int
nft_watch_pending(const struct nft *n)
{
	return n->missed;
}

int
nft_watch_fd(const struct nft *n)
{
	return n->watch != NULL ? mnl_socket_get_fd(n->watch) : -1;
}

static int
table_attr_cb(const struct nlattr *attr, void *data)
{
	const char **table = data;

	/* NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE,...} are all 1. */
	if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		*table = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

/*
 * Whether one event is about our table and was not caused by us. Events
 * carry the netlink port of the process whose batch made them; the kernel's
 * own (set timeouts) carry 0.
 */
static int
foreign_change(const struct nft *n, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g;
	const char *table = NULL;
	uint16_t type;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof *g))
		return 0;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	g = mnl_nlmsg_get_payload(nlh);
	if (type == NFT_MSG_NEWGEN || nlh->nlmsg_pid == 0 || nlh->nlmsg_pid == n->portid ||
	    (g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_UNSPEC))
		return 0;
	if (mnl_attr_parse(nlh, sizeof *g, table_attr_cb, &table) < 0)
		return 0;
	return table != NULL && strcmp(table, IPFD_TABLE) == 0;
}

int
nft_watch_read(struct nft *n, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *nlh;
	int changed = 0, len;
	ssize_t got;

	if (n->watch_lost) {
		n->watch_lost = 0;
		snprintf(err, errlen, "netlink events: could not subscribe again after a large commit");
		return -1;
	}
	if (n->watch == NULL)
		return 0;
	for (;;) {
		got = recv(mnl_socket_get_fd(n->watch), buf, sizeof buf, MSG_DONTWAIT);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return changed;
		if (got == -1 && errno == ENOBUFS)
			changed = 1;          /* events were lost: assume the worst */
		else if (got <= 0) {
			snprintf(err, errlen, "netlink events: %s", got == 0 ? "closed" : nft_errno_hint(errno));
			mnl_socket_close(n->watch);
			n->watch = NULL;
			return -1;
		} else {
			len = (int)got;
			for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
			     nlh = mnl_nlmsg_next(nlh, &len))
				changed |= foreign_change(n, nlh);
		}
	}
}
