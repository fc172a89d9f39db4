/*
 * ipfd's batch building, without root: each test builds a batch into nft's
 * buffer, then walks the nlmsg stream and parses the messages back with
 * libnftnl to check what the kernel would be told.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "../../ipfd/ipfd.h"

#define MSGS_MAX 8192

struct walk {
	const struct nlmsghdr *msg[MSGS_MAX];   /* the messages between BEGIN and END */
	int n;
};

static struct nft *
builder(void)
{
	char err[128];
	struct nft *n = nft_open(0, err, sizeof err);

	cr_assert_not_null(n, "%s", err);
	return n;
}

/* Ends the batch and checks its frame: BEGIN, messages asking for ACKs with rising seq, END. */
static void
walk_batch(struct nft *n, struct walk *w)
{
	const struct nlmsghdr *nlh;
	const void *buf;
	size_t len;
	int left, count = 0, last = -1;
	uint32_t seq = 0;

	nft_end(n);
	buf = nft_data(n, &len);
	memset(w, 0, sizeof *w);
	left = (int)len;
	for (nlh = buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left), count++) {
		if (count > 0)
			cr_assert_gt(nlh->nlmsg_seq, seq, "seq must rise");
		seq = nlh->nlmsg_seq;
		last = nlh->nlmsg_type;
		if (count == 0) {
			cr_assert_eq(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
			continue;
		}
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			continue;
		cr_assert_eq(nlh->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES);
		cr_assert(nlh->nlmsg_flags & NLM_F_ACK, "every message asks for an ACK");
		cr_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
		cr_assert_lt(w->n, MSGS_MAX);
		w->msg[w->n++] = nlh;
	}
	cr_assert_eq(left, 0, "batch has trailing bytes");
	cr_assert_eq(last, NFNL_MSG_BATCH_END, "the batch ends with BATCH_END");
	cr_assert_eq((size_t)w->n, nft_count(n));
}

static int
type_of(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_type & 0xff;
}

static struct nftnl_set *
parse_elems(const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();

	cr_assert_eq(nftnl_set_elems_nlmsg_parse(nlh, s), 0);
	return s;
}

static size_t
elem_count(struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	size_t k = 0;

	while (nftnl_set_elems_iter_next(it) != NULL)
		k++;
	nftnl_set_elems_iter_destroy(it);
	return k;
}

/* The names of a rule's expressions, joined with spaces. */
static void
expr_names(struct nftnl_rule *r, char *out, size_t outlen)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;

	out[0] = '\0';
	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		if (out[0] != '\0')
			strncat(out, " ", outlen - strlen(out) - 1);
		strncat(out, nftnl_expr_get_str(e, NFTNL_EXPR_NAME), outlen - strlen(out) - 1);
	}
	nftnl_expr_iter_destroy(it);
}

static struct nftnl_expr *
nth_expr(struct nftnl_rule *r, const char *name, int nth)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;

	while ((e = nftnl_expr_iter_next(it)) != NULL)
		if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name) == 0 && nth-- == 0)
			break;
	nftnl_expr_iter_destroy(it);
	cr_assert_not_null(e, "no %s expression", name);
	return e;
}

static struct nftnl_rule *
parse_rule(const struct nlmsghdr *nlh)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	cr_assert_eq(type_of(nlh), NFT_MSG_NEWRULE);
	cr_assert(nlh->nlmsg_flags & NLM_F_APPEND);
	cr_assert_eq(nftnl_rule_nlmsg_parse(nlh, r), 0);
	cr_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "sekisho");
	return r;
}

static void
guard(struct guard *g, const char *s)
{
	char err[64];

	cr_assert_eq(guard_parse(s, g, err, sizeof err), 0, "%s: %s", s, err);
}

Test(nft, names_follow_the_service_id)
{
	char buf[IPFD_NAME_MAX];

	cr_assert_str_eq(nft_chain_name(42, buf), "s42");
	cr_assert_str_eq(nft_set_name(42, AF_INET, buf), "s42_v4");
	cr_assert_str_eq(nft_set_name(42, AF_INET6, buf), "s42_v6");
	cr_assert_str_eq(nft_set_name(INT64_MAX, AF_INET6, buf), "s9223372036854775807_v6");
	cr_assert_str_eq(nft_hook_chain(CONF_HOOK_FORWARD), "forward");
	cr_assert_str_eq(nft_hook_chain(CONF_HOOK_INPUT), "input");
}

Test(nft, empty_batch_is_only_begin_and_end)
{
	struct nft *n = builder();
	struct walk w;

	walk_batch(n, &w);
	cr_assert_eq(w.n, 0);
	nft_close(n);
}

Test(nft, base_chain_hooks_forward_before_filter_with_policy_accept)
{
	struct nft *n = builder();
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct walk w;

	nft_table_add(n);
	nft_base_chain_add(n, CONF_HOOK_FORWARD);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 2);
	cr_assert_eq(type_of(w.msg[0]), NFT_MSG_NEWTABLE);
	cr_assert_eq(type_of(w.msg[1]), NFT_MSG_NEWCHAIN);
	cr_assert(w.msg[1]->nlmsg_flags & NLM_F_CREATE);
	cr_assert_not(w.msg[1]->nlmsg_flags & NLM_F_EXCL, "an existing chain is kept");
	cr_assert_eq(nftnl_chain_nlmsg_parse(w.msg[1], c), 0);
	cr_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
	cr_assert_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_FORWARD);
	cr_assert_eq(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), -10);
	cr_assert_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	cr_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	nftnl_chain_free(c);
	nft_close(n);
}

Test(nft, sets_are_typed_address_sets_with_timeouts)
{
	struct nft *n = builder();
	struct nftnl_set *s4 = nftnl_set_alloc(), *s6 = nftnl_set_alloc();
	struct walk w;

	nft_set_add(n, "s7_v4", AF_INET);
	nft_set_add(n, "s7_v6", AF_INET6);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 2);
	cr_assert_eq(nftnl_set_nlmsg_parse(w.msg[0], s4), 0);
	cr_assert_eq(nftnl_set_nlmsg_parse(w.msg[1], s6), 0);
	cr_assert_str_eq(nftnl_set_get_str(s4, NFTNL_SET_NAME), "s7_v4");
	cr_assert_str_eq(nftnl_set_get_str(s4, NFTNL_SET_TABLE), "sekisho");
	cr_assert_eq(nftnl_set_get_u32(s4, NFTNL_SET_FLAGS), NFT_SET_TIMEOUT);
	cr_assert_eq(nftnl_set_get_u32(s4, NFTNL_SET_KEY_LEN), 4);
	cr_assert_eq(nftnl_set_get_u32(s4, NFTNL_SET_KEY_TYPE), 7);
	cr_assert_eq(nftnl_set_get_u32(s6, NFTNL_SET_KEY_LEN), 16);
	cr_assert_eq(nftnl_set_get_u32(s6, NFTNL_SET_KEY_TYPE), 8);
	nftnl_set_free(s4);
	nftnl_set_free(s6);
	nft_close(n);
}

Test(nft, elements_carry_key_and_timeout)
{
	struct nft *n = builder();
	struct nft_elem e[2];
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *el;
	struct walk w;
	uint32_t klen;
	const void *key;

	memset(e, 0, sizeof e);
	cr_assert_eq(addr_parse("10.0.0.2", &e[0].ip), 0);
	cr_assert_eq(addr_parse("10.0.0.3", &e[1].ip), 0);
	e[0].timeout_ms = 3000;
	e[1].timeout_ms = 3600000;
	nft_elems(n, "s1_v4", AF_INET, NFT_ELEM_ADD, e, 2);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(type_of(w.msg[0]), NFT_MSG_NEWSETELEM);
	s = parse_elems(w.msg[0]);
	cr_assert_str_eq(nftnl_set_get_str(s, NFTNL_SET_NAME), "s1_v4");
	it = nftnl_set_elems_iter_create(s);
	el = nftnl_set_elems_iter_next(it);
	key = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &klen);
	cr_assert_eq(klen, 4);
	cr_assert_eq(memcmp(key, e[0].ip.bytes, 4), 0);
	cr_assert_eq(nftnl_set_elem_get_u64(el, NFTNL_SET_ELEM_TIMEOUT), 3000);
	el = nftnl_set_elems_iter_next(it);
	cr_assert_eq(nftnl_set_elem_get_u64(el, NFTNL_SET_ELEM_TIMEOUT), 3600000);
	cr_assert_null(nftnl_set_elems_iter_next(it));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	nft_close(n);
}

Test(nft, deleted_elements_have_no_timeout)
{
	struct nft *n = builder();
	struct nft_elem e;
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct walk w;

	memset(&e, 0, sizeof e);
	cr_assert_eq(addr_parse("2001:db8::7", &e.ip), 0);
	e.timeout_ms = 5;
	nft_elems(n, "s1_v6", AF_INET6, NFT_ELEM_DEL, &e, 1);
	walk_batch(n, &w);
	cr_assert_eq(type_of(w.msg[0]), NFT_MSG_DELSETELEM);
	s = parse_elems(w.msg[0]);
	it = nftnl_set_elems_iter_create(s);
	cr_assert_not(nftnl_set_elem_is_set(nftnl_set_elems_iter_next(it), NFTNL_SET_ELEM_TIMEOUT));
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	nft_close(n);
}

Test(nft, many_elements_are_split_into_messages_under_the_attribute_limit)
{
	struct nft *n = builder();
	size_t count = 2 * IPFD_ELEMS_PER_MSG + 500, i, total = 0;
	struct nft_elem *e = calloc(count, sizeof *e);
	struct walk w;
	int m;

	for (i = 0; i < count; i++) {
		e[i].ip.family = AF_INET6;
		e[i].ip.bytes[0] = 0x20;
		e[i].ip.bytes[14] = (uint8_t)(i >> 8);
		e[i].ip.bytes[15] = (uint8_t)i;
		e[i].timeout_ms = 1000 + i;
	}
	nft_elems(n, "s3_v6", AF_INET6, NFT_ELEM_ADD, e, count);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 3);
	for (m = 0; m < w.n; m++) {
		struct nftnl_set *s = parse_elems(w.msg[m]);

		cr_assert_lt(w.msg[m]->nlmsg_len, 65536);
		total += elem_count(s);
		nftnl_set_free(s);
	}
	cr_assert_eq(total, count);
	free(e);
	nft_close(n);
}

Test(nft, flushing_a_set_sends_no_element_list)
{
	struct nft *n = builder();
	struct nftnl_set *s;
	struct walk w;

	nft_set_flush(n, "s9_v4");
	walk_batch(n, &w);
	cr_assert_eq(type_of(w.msg[0]), NFT_MSG_DELSETELEM);
	s = parse_elems(w.msg[0]);
	cr_assert_str_eq(nftnl_set_get_str(s, NFTNL_SET_NAME), "s9_v4");
	cr_assert_eq(elem_count(s), 0);
	nftnl_set_free(s);
	nft_close(n);
}

Test(nft, service_chain_accepts_its_sets_and_rejects_the_rest)
{
	struct nft *n = builder();
	struct nftnl_rule *r[4];
	char names[256];
	struct walk w;
	int i;

	nft_service_rules(n, 5);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 4);
	for (i = 0; i < 4; i++) {
		r[i] = parse_rule(w.msg[i]);
		cr_assert_str_eq(nftnl_rule_get_str(r[i], NFTNL_RULE_CHAIN), "s5");
	}
	expr_names(r[0], names, sizeof names);
	cr_assert_str_eq(names, "meta cmp payload lookup counter immediate");
	cr_assert_str_eq(nftnl_expr_get_str(nth_expr(r[0], "lookup", 0), NFTNL_EXPR_LOOKUP_SET), "s5_v4");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[0], "payload", 0), NFTNL_EXPR_PAYLOAD_OFFSET), 12);
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[0], "immediate", 0), NFTNL_EXPR_IMM_VERDICT), NF_ACCEPT);
	cr_assert_str_eq(nftnl_expr_get_str(nth_expr(r[1], "lookup", 0), NFTNL_EXPR_LOOKUP_SET), "s5_v6");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[1], "payload", 0), NFTNL_EXPR_PAYLOAD_OFFSET), 8);
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[1], "payload", 0), NFTNL_EXPR_PAYLOAD_LEN), 16);
	expr_names(r[2], names, sizeof names);
	cr_assert_str_eq(names, "meta cmp counter reject");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[2], "reject", 0), NFTNL_EXPR_REJECT_TYPE), NFT_REJECT_TCP_RST);
	expr_names(r[3], names, sizeof names);
	cr_assert_str_eq(names, "counter reject");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r[3], "reject", 0), NFTNL_EXPR_REJECT_TYPE),
	             NFT_REJECT_ICMPX_UNREACH);
	cr_assert_eq(nftnl_expr_get_u8(nth_expr(r[3], "reject", 0), NFTNL_EXPR_REJECT_CODE),
	             NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	for (i = 0; i < 4; i++)
		nftnl_rule_free(r[i]);
	nft_close(n);
}

Test(nft, guard_jumps_for_tcp_and_udp_to_the_address_and_port)
{
	struct nft *n = builder();
	struct nftnl_rule *r;
	struct guard g;
	const void *data;
	uint32_t len;
	uint16_t port;
	uint8_t proto;
	char names[256];
	struct walk w;

	guard(&g, "10.0.2.5:8080");
	nft_guard_rules(n, CONF_HOOK_FORWARD, 3, &g, 1);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 2);
	r = parse_rule(w.msg[0]);
	cr_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "forward");
	expr_names(r, names, sizeof names);
	cr_assert_str_eq(names, "meta cmp payload cmp meta cmp payload cmp immediate");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r, "payload", 0), NFTNL_EXPR_PAYLOAD_OFFSET), 16);
	data = nftnl_expr_get(nth_expr(r, "cmp", 1), NFTNL_EXPR_CMP_DATA, &len);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(data, g.addr.bytes, 4), 0);
	proto = *(const uint8_t *)nftnl_expr_get(nth_expr(r, "cmp", 2), NFTNL_EXPR_CMP_DATA, &len);
	cr_assert_eq(proto, IPPROTO_TCP);
	memcpy(&port, nftnl_expr_get(nth_expr(r, "cmp", 3), NFTNL_EXPR_CMP_DATA, &len), 2);
	cr_assert_eq(ntohs(port), 8080);
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r, "payload", 1), NFTNL_EXPR_PAYLOAD_BASE),
	             NFT_PAYLOAD_TRANSPORT_HEADER);
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r, "immediate", 0), NFTNL_EXPR_IMM_VERDICT), (uint32_t)NFT_JUMP);
	cr_assert_str_eq(nftnl_expr_get_str(nth_expr(r, "immediate", 0), NFTNL_EXPR_IMM_CHAIN), "s3");
	nftnl_rule_free(r);
	r = parse_rule(w.msg[1]);
	proto = *(const uint8_t *)nftnl_expr_get(nth_expr(r, "cmp", 2), NFTNL_EXPR_CMP_DATA, &len);
	cr_assert_eq(proto, IPPROTO_UDP);
	nftnl_rule_free(r);
	nft_close(n);
}

Test(nft, guard_without_port_covers_every_port_and_v6_uses_ip6_daddr)
{
	struct nft *n = builder();
	struct nftnl_rule *r;
	struct guard g;
	char names[256];
	struct walk w;

	guard(&g, "[2001:db8::5]");
	nft_guard_rules(n, CONF_HOOK_INPUT, 4, &g, 1);
	walk_batch(n, &w);
	r = parse_rule(w.msg[0]);
	cr_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "input");
	expr_names(r, names, sizeof names);
	cr_assert_str_eq(names, "meta cmp payload cmp meta cmp immediate");
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r, "payload", 0), NFTNL_EXPR_PAYLOAD_OFFSET), 24);
	cr_assert_eq(nftnl_expr_get_u32(nth_expr(r, "payload", 0), NFTNL_EXPR_PAYLOAD_LEN), 16);
	nftnl_rule_free(r);
	nft_close(n);
}

Test(nft, chain_flush_and_deletes_name_their_object)
{
	struct nft *n = builder();
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_set *s = nftnl_set_alloc();
	struct walk w;

	nft_chain_flush(n, "s2");
	nft_chain_del(n, "s2");
	nft_set_del(n, "s2_v4");
	walk_batch(n, &w);
	cr_assert_eq(w.n, 3);
	cr_assert_eq(type_of(w.msg[0]), NFT_MSG_DELRULE);
	cr_assert_eq(nftnl_rule_nlmsg_parse(w.msg[0], r), 0);
	cr_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "s2");
	cr_assert_not(nftnl_rule_is_set(r, NFTNL_RULE_HANDLE), "no handle: the whole chain");
	cr_assert_eq(type_of(w.msg[1]), NFT_MSG_DELCHAIN);
	cr_assert_eq(nftnl_chain_nlmsg_parse(w.msg[1], c), 0);
	cr_assert_not(nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM));
	cr_assert_eq(type_of(w.msg[2]), NFT_MSG_DELSET);
	cr_assert_eq(nftnl_set_nlmsg_parse(w.msg[2], s), 0);
	cr_assert_str_eq(nftnl_set_get_str(s, NFTNL_SET_NAME), "s2_v4");
	nftnl_rule_free(r);
	nftnl_chain_free(c);
	nftnl_set_free(s);
	nft_close(n);
}

Test(nft, begin_drops_an_uncommitted_batch_and_commit_needs_a_socket)
{
	struct nft *n = builder();
	char err[128];
	struct walk w;

	nft_table_add(n);
	nft_begin(n);
	walk_batch(n, &w);
	cr_assert_eq(w.n, 0);
	nft_begin(n);
	nft_table_add(n);
	cr_assert_eq(nft_commit(n, err, sizeof err), -1);
	cr_assert_str_eq(err, "no netlink socket");
	nft_close(n);
}

Test(nft, large_batches_grow_the_buffer)
{
	struct nft *n = builder();
	struct guard g[GUARDS_MAX];
	char s[32];
	struct walk w;
	int i;

	for (i = 0; i < GUARDS_MAX; i++) {
		snprintf(s, sizeof s, "10.1.0.%d:%d", i + 1, 1000 + i);
		guard(&g[i], s);
	}
	for (i = 0; i < 200; i++)
		nft_guard_rules(n, CONF_HOOK_FORWARD, i + 1, g, GUARDS_MAX);
	cr_assert_eq(nft_count(n), 200 * GUARDS_MAX * 2);
	walk_batch(n, &w);
	nft_close(n);
}
