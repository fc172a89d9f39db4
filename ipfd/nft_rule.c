/*
 * The rules of our table, built with libnftnl expressions into the batch of
 * nft.c: a service's accept/reject chain and the guards that jump to it.
 * Like nft.c, a builder that runs out of memory marks the batch, and the
 * commit refuses it.
 */
#include <stdio.h>

#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "ipfd.h"
#include "nft_int.h"

static struct nftnl_expr *
expr_new(struct nft *n, struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc(name)) == NULL) {
		n->oom = 1;
		return NULL;
	}
	nftnl_rule_add_expr(r, e);
	return e;
}

static void
expr_meta(struct nft *n, struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = expr_new(n, r, "meta");

	if (e == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void
expr_cmp(struct nft *n, struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(n, r, "cmp");

	if (e == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void
expr_payload(struct nft *n, struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = expr_new(n, r, "payload");

	if (e == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
}

static void
expr_verdict(struct nft *n, struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr_new(n, r, "immediate");

	if (e == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain != NULL)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void
expr_simple(struct nft *n, struct nftnl_rule *r, const char *name)
{
	expr_new(n, r, name);
}

/* "meta nfproto F": the dependency nft itself puts before ip/ip6 payload in inet tables. */
static void
match_family(struct nft *n, struct nftnl_rule *r, int family)
{
	uint8_t proto = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	expr_meta(n, r, NFT_META_NFPROTO);
	expr_cmp(n, r, &proto, 1);
}

static void
match_l4proto(struct nft *n, struct nftnl_rule *r, uint8_t proto)
{
	expr_meta(n, r, NFT_META_L4PROTO);
	expr_cmp(n, r, &proto, 1);
}

static struct nftnl_rule *
rule_new(struct nft *n, const char *chain)
{
	struct nftnl_rule *r;

	if ((r = nftnl_rule_alloc()) == NULL) {
		n->oom = 1;
		return NULL;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, IPFD_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static void
rule_append(struct nft *n, struct nftnl_rule *r, const char *chain)
{
	struct nlmsghdr *nlh;

	if (r == NULL)
		return;
	if ((nlh = nft_msg_start(n, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, chain)) != NULL) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nft_msg_end(n, nlh);
	}
	nftnl_rule_free(r);
}

/* "ip saddr @sID_v4 counter accept" (or ip6). */
static void
rule_accept_set(struct nft *n, const char *chain, int64_t id, int family)
{
	char set[IPFD_NAME_MAX];
	struct nftnl_rule *r = rule_new(n, chain);
	struct nftnl_expr *e;

	if (r == NULL)
		return;
	match_family(n, r, family);
	if (family == AF_INET6)
		expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
	else
		expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	if ((e = expr_new(n, r, "lookup")) != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, nft_set_name(id, family, set));
	}
	expr_simple(n, r, "counter");
	expr_verdict(n, r, NF_ACCEPT, NULL);
	rule_append(n, r, chain);
}

static void
rule_reject(struct nft *n, const char *chain, int tcp)
{
	struct nftnl_rule *r = rule_new(n, chain);
	struct nftnl_expr *e;

	if (r == NULL)
		return;
	if (tcp)
		match_l4proto(n, r, IPPROTO_TCP);
	expr_simple(n, r, "counter");
	if ((e = expr_new(n, r, "reject")) != NULL) {
		if (tcp) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
			nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
		} else {
			nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
			nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		}
	}
	rule_append(n, r, chain);
}

void
nft_service_rules(struct nft *n, int64_t id)
{
	char chain[IPFD_NAME_MAX];

	nft_chain_name(id, chain);
	rule_accept_set(n, chain, id, AF_INET);
	rule_accept_set(n, chain, id, AF_INET6);
	rule_reject(n, chain, 1);
	rule_reject(n, chain, 0);
}

/* "ip daddr G <proto> dport P jump sID" in hook's base chain. */
static void
rule_guard(struct nft *n, int hook, const char *target, const struct guard *g, uint8_t proto)
{
	const char *chain = nft_hook_chain(hook);
	struct nftnl_rule *r = rule_new(n, chain);
	uint16_t port = htons(g->port);

	if (r == NULL)
		return;
	match_family(n, r, g->addr.family);
	if (g->addr.family == AF_INET6)
		expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
	else
		expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
	expr_cmp(n, r, g->addr.bytes, g->addr.family == AF_INET6 ? 16 : 4);
	match_l4proto(n, r, proto);
	if (g->port != 0) {
		expr_payload(n, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
		expr_cmp(n, r, &port, 2);
	}
	expr_verdict(n, r, NFT_JUMP, target);
	rule_append(n, r, chain);
}

/* An immediate load of len bytes into a data register. */
static void
expr_imm_data(struct nft *n, struct nftnl_rule *r, uint32_t reg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(n, r, "immediate");

	if (e == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
}

/*
 * "ip daddr G tcp dport P ip saddr != @sID_v4 counter dnat ip to R:RP" (or
 * ip6) in the captive chain.
 */
static void
rule_captive(struct nft *n, int64_t id, const struct guard *g, uint16_t http_port,
             const struct addr *to, uint16_t to_port)
{
	const char *chain = nft_hook_chain(IPFD_HOOK_CAPTIVE);
	struct nftnl_rule *r = rule_new(n, chain);
	int v6 = g->addr.family == AF_INET6;
	uint16_t dport = htons(http_port), rport = htons(to_port);
	struct nftnl_expr *e;
	char set[IPFD_NAME_MAX];

	if (r == NULL)
		return;
	match_family(n, r, g->addr.family);
	expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4);
	expr_cmp(n, r, g->addr.bytes, v6 ? 16 : 4);
	match_l4proto(n, r, IPPROTO_TCP);
	expr_payload(n, r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	expr_cmp(n, r, &dport, 2);
	expr_payload(n, r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 8 : 12, v6 ? 16 : 4);
	if ((e = expr_new(n, r, "lookup")) != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, nft_set_name(id, g->addr.family, set));
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	expr_simple(n, r, "counter");
	expr_imm_data(n, r, NFT_REG_1, to->bytes, v6 ? 16 : 4);
	expr_imm_data(n, r, NFT_REG_2, &rport, 2);
	if ((e = expr_new(n, r, "nat")) != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	}
	rule_append(n, r, chain);
}

void
nft_captive_rules(struct nft *n, int64_t id, const struct guard *g, int ng,
                  const struct captive_to *to)
{
	for (int i = 0; i < ng; i++) {
		int v6 = g[i].addr.family == AF_INET6;
		uint16_t rport = v6 ? to->port6 : to->port4;

		if (rport == 0 || (g[i].port != 0 && g[i].port != to->http_port))
			continue;
		rule_captive(n, id, &g[i], (uint16_t)to->http_port, v6 ? &to->addr6 : &to->addr4, rport);
	}
}

void
nft_guard_rules(struct nft *n, int hook, int64_t id, const struct guard *g, int ng)
{
	char target[IPFD_NAME_MAX];
	int i;

	nft_chain_name(id, target);
	for (i = 0; i < ng; i++) {
		rule_guard(n, hook, target, &g[i], IPPROTO_TCP);
		rule_guard(n, hook, target, &g[i], IPPROTO_UDP);
	}
}
