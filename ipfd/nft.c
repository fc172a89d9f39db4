/*
 * The kernel side: nftables batches over one long-lived netlink socket.
 * Only this file, nft_rule.c (the rules) and nft_read.c (listing, events)
 * include libnftnl and libmnl.
 *
 * A batch is built into one growing buffer (BATCH_BEGIN, messages, BATCH_END)
 * and sent with one sendmsg, so the kernel applies it atomically or not at
 * all. Every message asks for an ACK; nfnetlink processes the batch inside
 * sendmsg, so when it returns every ACK and error is already queued on the
 * socket and is drained without blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "ipfd.h"
#include "nft_int.h"

#define MSG_RESERVE   (72 * 1024)    /* room checked before each message */
#define SET_KEY_IPV4  7              /* nft's datatype ids, so "nft list" prints them */
#define SET_KEY_IPV6  8

static const char *
msg_type_str(uint16_t t)
{
	switch (t) {
	case NFT_MSG_NEWTABLE:   return "add table";
	case NFT_MSG_NEWCHAIN:   return "add chain";
	case NFT_MSG_DELCHAIN:   return "delete chain";
	case NFT_MSG_NEWRULE:    return "add rule";
	case NFT_MSG_DELRULE:    return "flush chain";
	case NFT_MSG_NEWSET:     return "add set";
	case NFT_MSG_DELSET:     return "delete set";
	case NFT_MSG_NEWSETELEM: return "add element";
	case NFT_MSG_DELSETELEM: return "delete element";
	default:                 return "message";
	}
}

const char *
nft_errno_hint(int e)
{
	switch (e) {
	case ENOENT:     return "no such table, chain, set or element";
	case EEXIST:     return "already exists";
	case EBUSY:      return "object in use";
	case EPERM:      return "not permitted (CAP_NET_ADMIN needed)";
	case EOPNOTSUPP: return "not supported by this kernel";
	case ENOSPC:
	case ENFILE:     return "set is full";
	case EMSGSIZE:   return "batch larger than the socket buffer";
	case ENOBUFS:    return "netlink receive buffer overrun";
	case ENOMEM:     return "kernel out of memory";
	case EINVAL:     return "invalid argument";
	default:         return strerror(e);
	}
}

static void
set_buffers(struct nft *n)
{
	int fd = mnl_socket_get_fd(n->nl);
	int one = 1, rcv = RCVBUF_BYTES;

	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
}

struct nft *
nft_open(int with_socket, char *err, size_t errlen)
{
	struct nft *n;

	if ((n = calloc(1, sizeof *n)) == NULL)
		goto oom;
	n->size = 2 * MSG_RESERVE;
	if ((n->buf = malloc(n->size)) == NULL || (n->elem = nftnl_set_elem_alloc()) == NULL)
		goto oom;
	n->seq = (uint32_t)time(NULL);
	if (with_socket) {
		if ((n->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL) {
			snprintf(err, errlen, "netlink socket: %s", strerror(errno));
			goto fail;
		}
		if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
			snprintf(err, errlen, "netlink bind: %s", strerror(errno));
			goto fail;
		}
		n->portid = mnl_socket_get_portid(n->nl);
		set_buffers(n);
	}
	nft_begin(n);
	return n;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	nft_close(n);
	return NULL;
}

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	if (n->watch != NULL)
		mnl_socket_close(n->watch);
	if (n->elem != NULL)
		nftnl_set_elem_free(n->elem);
	free(n->info);
	free(n->buf);
	free(n);
}

static int
reserve(struct nft *n)
{
	char *p;
	size_t size;

	if (n->size - n->len >= MSG_RESERVE)
		return 0;
	size = n->size * 2;
	if ((p = realloc(n->buf, size)) == NULL)
		return -1;
	n->buf = p;
	n->size = size;
	return 0;
}

void
nft_begin(struct nft *n)
{
	struct nlmsghdr *nlh;

	n->len = 0;
	n->nmsgs = 0;
	n->ended = 0;
	n->oom = 0;
	nlh = nftnl_batch_begin(n->buf, n->seq++);
	n->len = NLMSG_ALIGN(nlh->nlmsg_len);
	n->first_seq = n->seq;
}

struct nlmsghdr *
nft_msg_start(struct nft *n, uint16_t type, uint16_t flags, const char *name)
{
	struct msginfo *mi;
	size_t size;

	if (n->oom || n->ended)
		goto fail;
	if (reserve(n) == -1)
		goto fail;
	if (n->nmsgs == n->info_size) {
		size = n->info_size ? n->info_size * 2 : 64;
		if ((mi = realloc(n->info, size * sizeof *mi)) == NULL)
			goto fail;
		n->info = mi;
		n->info_size = size;
	}
	n->info[n->nmsgs].type = type;
	snprintf(n->info[n->nmsgs].name, sizeof n->info[n->nmsgs].name, "%s", name);
	n->nmsgs++;
	return nftnl_nlmsg_build_hdr(n->buf + n->len, type, NFPROTO_INET,
	                             flags | NLM_F_ACK, n->seq++);
fail:
	n->oom = 1;
	return NULL;
}

void
nft_msg_end(struct nft *n, struct nlmsghdr *nlh)
{
	n->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void
nft_end(struct nft *n)
{
	struct nlmsghdr *nlh;

	if (n->ended)
		return;
	if (reserve(n) == -1) {
		n->oom = 1;
		return;
	}
	nlh = nftnl_batch_end(n->buf + n->len, n->seq++);
	n->len += NLMSG_ALIGN(nlh->nlmsg_len);
	n->ended = 1;
}

const void *
nft_data(const struct nft *n, size_t *len)
{
	*len = n->len;
	return n->buf;
}

size_t
nft_count(const struct nft *n)
{
	return n->nmsgs;
}

void
nft_table_add(struct nft *n)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if ((t = nftnl_table_alloc()) == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, IPFD_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	if ((nlh = nft_msg_start(n, NFT_MSG_NEWTABLE, NLM_F_CREATE, IPFD_TABLE)) != NULL) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		nft_msg_end(n, nlh);
	}
	nftnl_table_free(t);
}

/* A chain message: base chains get hook, priority and policy accept. */
static void
chain_msg(struct nft *n, uint16_t type, uint16_t flags, const char *name, int hook)
{
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;

	if ((c = nftnl_chain_alloc()) == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, IPFD_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook != 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)nft_hook_num(hook));
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, nft_hook_prio(hook));
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, hook == IPFD_HOOK_CAPTIVE ? "nat" : "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	if ((nlh = nft_msg_start(n, type, flags, name)) != NULL) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nft_msg_end(n, nlh);
	}
	nftnl_chain_free(c);
}

void
nft_base_chain_add(struct nft *n, int hook)
{
	chain_msg(n, NFT_MSG_NEWCHAIN, NLM_F_CREATE, nft_hook_chain(hook), hook);
}

void
nft_chain_add(struct nft *n, const char *name)
{
	chain_msg(n, NFT_MSG_NEWCHAIN, NLM_F_CREATE, name, 0);
}

void
nft_chain_del(struct nft *n, const char *name)
{
	chain_msg(n, NFT_MSG_DELCHAIN, 0, name, 0);
}

void
nft_chain_flush(struct nft *n, const char *name)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;

	if ((r = nftnl_rule_alloc()) == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, IPFD_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name);
	if ((nlh = nft_msg_start(n, NFT_MSG_DELRULE, 0, name)) != NULL) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nft_msg_end(n, nlh);
	}
	nftnl_rule_free(r);
}

static void
set_msg(struct nft *n, uint16_t type, uint16_t flags, const char *name, int family)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if ((s = nftnl_set_alloc()) == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, IPFD_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	if (type == NFT_MSG_NEWSET) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, family == AF_INET6 ? SET_KEY_IPV6 : SET_KEY_IPV4);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, family == AF_INET6 ? 16 : 4);
		nftnl_set_set_u32(s, NFTNL_SET_ID, ++n->set_id);   /* the kernel requires one */
	}
	if ((nlh = nft_msg_start(n, type, flags, name)) != NULL) {
		if (type == NFT_MSG_NEWSET || type == NFT_MSG_DELSET)
			nftnl_set_nlmsg_build_payload(nlh, s);
		else
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nft_msg_end(n, nlh);
	}
	nftnl_set_free(s);
}

void
nft_set_add(struct nft *n, const char *name, int family)
{
	set_msg(n, NFT_MSG_NEWSET, NLM_F_CREATE, name, family);
}

void
nft_set_del(struct nft *n, const char *name)
{
	set_msg(n, NFT_MSG_DELSET, 0, name, 0);
}

/* A DELSETELEM without elements empties the whole set. */
void
nft_set_flush(struct nft *n, const char *name)
{
	set_msg(n, NFT_MSG_DELSETELEM, 0, name, AF_INET);
}

/* One message of at most IPFD_ELEMS_PER_MSG elements. */
static void
elems_msg(struct nft *n, const char *set, int family, int op,
          const struct nft_elem *e, size_t count)
{
	struct nlmsghdr *nlh;
	struct nlattr *list;
	uint32_t klen = family == AF_INET6 ? 16 : 4;
	size_t i;

	nlh = nft_msg_start(n, op == NFT_ELEM_ADD ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
	                op == NFT_ELEM_ADD ? NLM_F_CREATE : 0, set);
	if (nlh == NULL)
		return;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, IPFD_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (i = 0; i < count; i++) {
		nftnl_set_elem_set(n->elem, NFTNL_SET_ELEM_KEY, e[i].ip.bytes, klen);
		if (op == NFT_ELEM_ADD)
			nftnl_set_elem_set_u64(n->elem, NFTNL_SET_ELEM_TIMEOUT, e[i].timeout_ms);
		else
			nftnl_set_elem_unset(n->elem, NFTNL_SET_ELEM_TIMEOUT);
		nftnl_set_elem_nlmsg_build(nlh, n->elem, NFTA_LIST_ELEM);
	}
	mnl_attr_nest_end(nlh, list);
	nft_msg_end(n, nlh);
}

void
nft_elems(struct nft *n, const char *set, int family, int op,
          const struct nft_elem *e, size_t count)
{
	size_t off, chunk;

	for (off = 0; off < count; off += chunk) {
		chunk = count - off < IPFD_ELEMS_PER_MSG ? count - off : IPFD_ELEMS_PER_MSG;
		elems_msg(n, set, family, op, e + off, chunk);
	}
}

/* ---- sending and ACKs ---- */

struct acks {
	struct nft *n;
	size_t ok, errors;
	int    first_errno;
	char   where[96];
	char   extmsg[96];
};

static int
ext_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		tb[NLMSGERR_ATTR_MSG] = attr;
	return MNL_CB_OK;
}

/* Notes one ACK or error; remembers which message the first error was about. */
static void
ack_one(struct acks *a, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	uint32_t idx;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e))
		return;
	idx = e->msg.nlmsg_seq - a->n->first_seq;
	/* Only answers about this batch count: its messages, or BEGIN for a failed commit. */
	if (idx >= a->n->nmsgs && e->msg.nlmsg_seq != a->n->first_seq - 1)
		return;
	if (e->error == 0) {
		a->ok++;
		return;
	}
	if (a->errors++ > 0)
		return;
	a->first_errno = -e->error;
	if (idx < a->n->nmsgs)
		snprintf(a->where, sizeof a->where, "%s %s", msg_type_str(a->n->info[idx].type),
		         a->n->info[idx].name);
	else
		snprintf(a->where, sizeof a->where, "commit");
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    mnl_attr_parse(nlh, sizeof *e, ext_attr_cb, tb) >= 0 && tb[NLMSGERR_ATTR_MSG] != NULL)
		snprintf(a->extmsg, sizeof a->extmsg, " (%s)", mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
}

/* Reads everything queued on the socket without blocking. -1 on overrun or socket error. */
static int
drain(struct nft *n, struct acks *a, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *nlh;
	ssize_t got;
	int len;

	/* Once every message is answered with no error, nothing else is queued. */
	while (a->errors > 0 || a->ok < n->nmsgs) {
		got = recv(mnl_socket_get_fd(n->nl), buf, sizeof buf, MSG_DONTWAIT);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got <= 0) {
			snprintf(err, errlen, "netlink receive: %s",
			         got == 0 ? "closed" : nft_errno_hint(errno));
			return -1;
		}
		len = (int)got;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_type == NLMSG_ERROR)
				ack_one(a, nlh);
	}
	return 0;
}

static int
send_batch(struct nft *n, char *err, size_t errlen)
{
	int fd = mnl_socket_get_fd(n->nl);
	size_t want;
	ssize_t sent;

	if (n->len + 4096 > n->sndbuf) {
		want = n->len + 65536;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ (int)want }, sizeof(int)) == -1 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ (int)want }, sizeof(int)) == -1) {
			snprintf(err, errlen, "netlink send buffer: %s", strerror(errno));
			return -1;
		}
		n->sndbuf = want;
	}
	sent = mnl_socket_sendto(n->nl, n->buf, n->len);
	if (sent != (ssize_t)n->len) {
		snprintf(err, errlen, "netlink send of %zu bytes: %s", n->len,
		         sent == -1 ? nft_errno_hint(errno) : "short write");
		return -1;
	}
	return 0;
}

int
nft_commit(struct nft *n, char *err, size_t errlen)
{
	struct acks a;
	uint32_t gen = 0;
	int deaf, rc;

	if (n->nl == NULL) {
		snprintf(err, errlen, "no netlink socket");
		return -1;
	}
	if (n->nmsgs == 0 && !n->oom)
		return 0;
	nft_end(n);
	if (n->oom) {
		snprintf(err, errlen, "out of memory building the batch");
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.n = n;
	deaf = n->len >= WATCH_DEAF_BYTES && nft_watch_pause(n, &gen);
	rc = send_batch(n, err, errlen) == -1 || drain(n, &a, err, errlen) == -1 ? -1 : 0;
	if (rc == 0 && a.errors > 0) {
		snprintf(err, errlen, "%s: %s%s", a.where, nft_errno_hint(a.first_errno), a.extmsg);
		rc = -1;
	}
	if (rc == 0 && a.ok != n->nmsgs) {
		snprintf(err, errlen, "kernel acknowledged %zu of %zu messages", a.ok, n->nmsgs);
		rc = -1;
	}
	if (deaf)
		nft_watch_resume(n, gen, a.errors == 0 && a.ok == n->nmsgs);
	return rc;
}

const char *
nft_chain_name(int64_t id, char *buf)
{
	snprintf(buf, IPFD_NAME_MAX, "s%" PRId64, id);
	return buf;
}

const char *
nft_set_name(int64_t id, int family, char *buf)
{
	snprintf(buf, IPFD_NAME_MAX, "s%" PRId64 "_v%d", id, family == AF_INET6 ? 6 : 4);
	return buf;
}

const char *
nft_hook_chain(int hook)
{
	return hook == CONF_HOOK_INPUT ? "input" : hook == IPFD_HOOK_CAPTIVE ? "captive" : "forward";
}

int
nft_hook_prio(int hook)
{
	return hook == IPFD_HOOK_CAPTIVE ? IPFD_NAT_PRIORITY : IPFD_PRIORITY;
}

int
nft_hook_num(int hook)
{
	if (hook == IPFD_HOOK_CAPTIVE)
		return NF_INET_PRE_ROUTING;
	return hook == CONF_HOOK_INPUT ? NF_INET_LOCAL_IN : NF_INET_FORWARD;
}
