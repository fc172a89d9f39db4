#ifndef SEKISHO_IPFD_NFT_INT_H
#define SEKISHO_IPFD_NFT_INT_H

/*
 * Shared by nft.c, nft_rule.c and nft_read.c, the only files that see
 * libnftnl and libmnl: the batch under construction and its helpers.
 */

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#include "ipfd.h"

#define RCVBUF_BYTES (4 << 20)     /* netlink receive buffers */
/*
 * Batches this large are committed with the event subscription dropped: with
 * a listener the kernel builds one event per element (a rebuild of 100 000
 * rights took 10x as long), and ours are thrown away anyway.
 */
#define WATCH_DEAF_BYTES (64 * 1024)

struct mnl_socket;
struct nftnl_set_elem;

struct msginfo {
	uint16_t type;
	char     name[IPFD_NAME_MAX];
};

struct nft {
	struct mnl_socket *nl;           /* NULL: build only */
	struct mnl_socket *watch;        /* nftables events; NULL until nft_watch_open */
	int      missed;                 /* another commit may have passed unheard */
	int      watch_lost;             /* the subscription broke: say so once */
	uint32_t portid;
	uint32_t seq;
	char    *buf;
	size_t   len, size;
	uint32_t first_seq;              /* seq of the first message after BEGIN */
	struct msginfo *info;            /* one per message after BEGIN */
	size_t   nmsgs, info_size;
	int      ended;
	int      oom;                    /* a builder failed: commit refuses */
	size_t   sndbuf;
	uint32_t set_id;                 /* transaction-local set ids */
	struct nftnl_set_elem *elem;     /* reused for every element */
};

/* Starts one message of the batch; NULL (sticky oom) when memory ran out. */
struct nlmsghdr *nft_msg_start(struct nft *n, uint16_t type, uint16_t flags, const char *name);
/* Adds the finished message to the batch. */
void nft_msg_end(struct nft *n, struct nlmsghdr *nlh);
/* What a netlink errno means for our table, in words. */
const char *nft_errno_hint(int e);
/*
 * Around a large commit: drops the event subscription after reading the
 * ruleset generation into gen (0 when there is no watch or that failed: the
 * commit then runs heard), and takes it back after, marking the watch missed
 * when the generation moved by more than our own commit.
 */
int nft_watch_pause(struct nft *n, uint32_t *gen);
void nft_watch_resume(struct nft *n, uint32_t gen, int committed);

#endif
