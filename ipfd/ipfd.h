#ifndef SEKISHO_IPFD_H
#define SEKISHO_IPFD_H

/*
 * ipfd: mirrors the store's live access rights into one nftables table.
 *
 * Kernel layout (table inet sekisho, all owned by ipfd):
 *   chain forward / input   base chains, priority filter - 10, policy accept;
 *                           per guard and protocol: "ip daddr G tcp dport P jump sID"
 *   chain sID               per service: accept saddr in @sID_v4 / @sID_v6,
 *                           else reject (tcp reset, icmpx admin-prohibited)
 *   set sID_v4, sID_v6      admitted client addresses, flags timeout
 *   chain captive           only with [ipfd] captive: nat prerouting, priority dstnat - 10;
 *                           per captive service and guard of the HTTP port:
 *                           "ip daddr G tcp dport P ip saddr != @sID_v4 dnat ip to R"
 *                           (R: [cid] captive_listen, the redirect responder)
 *
 * Files: main.c start-up and event loop, ctl.c control socket, ops.c admit
 * and revoke batches, sync.c store -> kernel rebuild, mirror.c what ipfd put in
 * each set; nft.c, nft_rule.c and nft_read.c (with nft_int.h) are the only
 * users of libnftnl/libmnl.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "clock.h"
#include "conf.h"
#include "ipc.h"
#include "feedwatch.h"
#include "store.h"

#define IPFD_TABLE        "sekisho"
#define IPFD_PRIORITY     (-10)      /* NF_IP_PRI_FILTER - 10: before the usual filter chains */
#define IPFD_NAT_PRIORITY (-110)     /* NF_IP_PRI_NAT_DST - 10: before the usual dnat chains */
#define IPFD_HOOK_CAPTIVE 4          /* the captive chain, besides CONF_HOOK_FORWARD/INPUT */
#define IPFD_NAME_MAX     32         /* "s" + int64 + "_v6" */
#define IPFD_CLIENTS_MAX  64         /* control connections at once */
#define IPFD_QUEUE_MAX    1024       /* requests committed in one round */
#define IPFD_CLIENT_INFLIGHT 64      /* unanswered requests per connection */
#define IPFD_ELEMS_PER_MSG 1024      /* set elements per netlink message (< 64 KiB nest) */
#define IPFD_RETRY_SYNC_S 5          /* next sync after a failed one */
/*
 * The kernel's element timers may lag ipfd's clock: an address is forgotten
 * (pruned, or treated as surely gone) only this long after its timeout.
 */
#define IPFD_GONE_GRACE_MS 2000

/* ---- nft.c, nft_rule.c, nft_read.c: netlink (the only files that see libnftnl/libmnl) ---- */

struct nft;

enum nft_elem_op { NFT_ELEM_ADD, NFT_ELEM_DEL };

struct nft_elem {
	struct addr ip;
	uint64_t timeout_ms;          /* ADD only; > 0 */
};

enum nft_obj_kind { NFT_OBJ_CHAIN = 1, NFT_OBJ_SET };

/* One object of our table as the kernel reports it. */
struct nft_obj {
	int  kind;
	char name[IPFD_NAME_MAX * 8];
	int  base;                    /* chain with a hook */
	int  hooknum;                 /* NF_INET_* when base */
	int  prio;
};

/* Opens the netlink socket; with_socket 0 builds batches only (tests). NULL with err. */
struct nft *nft_open(int with_socket, char *err, size_t errlen);
void nft_close(struct nft *n);

/* Starts a new batch, dropping whatever was built and not committed. */
void nft_begin(struct nft *n);
/* Ends the batch (BATCH_END); nft_data then returns the whole nlmsg stream. */
void nft_end(struct nft *n);
const void *nft_data(const struct nft *n, size_t *len);
/* Messages in the batch between BEGIN and END. */
size_t nft_count(const struct nft *n);
/*
 * Ends, sends and drains every ACK. 0 when the kernel committed every
 * message; -1 with err naming the first failing message and errno (nothing
 * changed in the kernel, the batch is atomic) or a local failure. An empty
 * batch commits trivially.
 */
int nft_commit(struct nft *n, char *err, size_t errlen);

/* Builders: each appends messages to the batch; a failure is sticky and reported by commit. */
void nft_table_add(struct nft *n);
void nft_base_chain_add(struct nft *n, int hook);          /* CONF_HOOK_FORWARD or _INPUT */
void nft_chain_add(struct nft *n, const char *name);
void nft_chain_del(struct nft *n, const char *name);
void nft_chain_flush(struct nft *n, const char *name);
void nft_set_add(struct nft *n, const char *name, int family);
void nft_set_del(struct nft *n, const char *name);
void nft_set_flush(struct nft *n, const char *name);
/* The accept/reject rules of service id's chain (which must exist in the batch or kernel). */
void nft_service_rules(struct nft *n, int64_t id);
/* Jumps from hook's base chain to service id's chain for each guard, TCP and UDP. */
void nft_guard_rules(struct nft *n, int hook, int64_t id, const struct guard *g, int ng);
/* Where the captive chain sends connections: the responder, per family (port 0: none). */
struct captive_to {
	int http_port;                /* [ipfd] captive_port: the guards' port that is redirected */
	struct addr addr4, addr6;
	uint16_t port4, port6;        /* host order; 0 = no responder of that family */
};
/*
 * In the captive chain: for each guard of service id on the HTTP port (or on
 * every port) whose family has a responder, TCP to it from an address not in
 * the service's set is sent to the responder (DNAT).
 */
void nft_captive_rules(struct nft *n, int64_t id, const struct guard *g, int ng,
                       const struct captive_to *to);
/* ADD or DEL elements of one set (family picks the key length), split into messages. */
void nft_elems(struct nft *n, const char *set, int family, int op,
               const struct nft_elem *e, size_t count);

/* Calls fn for every chain and set of our table. 0 (also when the table is absent) or -1. */
int nft_list(struct nft *n, int (*fn)(const struct nft_obj *, void *), void *arg,
             char *err, size_t errlen);

/*
 * Subscribes to the kernel's nftables events, so a change to our table made
 * by anyone else (nft flush ruleset, a firewall reload) is seen at once.
 * 0 or -1 with err.
 */
int nft_watch_open(struct nft *n, char *err, size_t errlen);
/* The events' descriptor for poll(), or -1 when not open. */
int nft_watch_fd(const struct nft *n);
/*
 * Whether another process may have committed while a large batch of ours ran
 * without the subscription (see nft_commit); clears it. The caller then
 * checks that the table is intact (sync_intact). nft_watch_pending only looks.
 */
int nft_watch_missed(struct nft *n);
int nft_watch_pending(const struct nft *n);
/*
 * Reads every queued event without blocking. 1 when another process changed
 * our table (or events were lost), 0 when not, -1 with err when the socket
 * failed (it is then closed: nft_watch_fd says -1).
 */
int nft_watch_read(struct nft *n, char *err, size_t errlen);

/* Object names. buf holds IPFD_NAME_MAX. */
const char *nft_chain_name(int64_t id, char *buf);
const char *nft_set_name(int64_t id, int family, char *buf);
const char *nft_hook_chain(int hook);        /* "forward" / "input" / "captive" */
int nft_hook_num(int hook);                  /* NF_INET_FORWARD / _LOCAL_IN / _PRE_ROUTING */
int nft_hook_prio(int hook);                 /* IPFD_PRIORITY, IPFD_NAT_PRIORITY for captive */

/* ---- mirror.c: what ipfd put in each set ---- */

struct ipent {
	struct addr ip;
	int64_t until_ms;             /* unix ms when the kernel drops it; 0 = empty slot */
};

struct ipset {
	struct ipent *slots;
	size_t size;                  /* power of two, or 0 */
	size_t n;
};

struct svc {
	int64_t id;
	char    name[NAME_MAX_LEN + 1];   /* [ipfd] captive names services */
	int     cap;
	int     enabled;              /* disabled: chain kept, sets empty, nobody admitted */
	int     n_guards;
	struct guard guards[GUARDS_MAX];
	struct ipset ips;
};

struct mirror {
	struct svc *svcs;             /* sorted by id */
	size_t n, size;
};

struct ipent *ipset_get(const struct ipset *s, const struct addr *ip);
/* Inserts ip or sets its until_ms. 0 or -1 (out of memory). */
int ipset_put(struct ipset *s, const struct addr *ip, int64_t until_ms);
void ipset_del(struct ipset *s, const struct addr *ip);
/* Drops entries whose timeout is at or before until_ms; returns what is left. */
size_t ipset_prune(struct ipset *s, int64_t now_ms);
void ipset_free(struct ipset *s);

struct svc *mirror_find(const struct mirror *m, int64_t id);
/* Adds a service (unsorted append); call mirror_sort after the last one. NULL on OOM. */
struct svc *mirror_add(struct mirror *m, const struct store_service *ss);
void mirror_sort(struct mirror *m);
size_t mirror_elements(const struct mirror *m);
void mirror_free(struct mirror *m);
/* Same name and guards (and so the same rules) in both. */
int svc_same_rules(const struct svc *a, const struct store_service *b);

/* ---- the daemon ---- */

struct client {
	int      fd;                  /* -1 when the slot is free */
	uid_t    uid;                 /* the peer, for the log */
	pid_t    pid;
	uint64_t gen;                 /* bumped on close, so late replies go nowhere */
	int      inflight;
};

struct pending {
	int      slot;                /* client slot */
	uint64_t gen;
	struct ipc_req req;
	struct ipc_rep rep;
	int      in_batch;            /* answered by the outcome of this round's batch */
};

struct ipfd {
	struct conf    conf;
	struct store  *store;
	struct nft    *nft;
	struct mirror  mirror;
	struct ipc_stats stats;
	gid_t          gid;
	int            listen_fd;
	struct client  clients[IPFD_CLIENTS_MAX];
	struct pending queue[IPFD_QUEUE_MAX];
	size_t         nqueue;
	int64_t        next_sync;     /* monotonic µs */
	int64_t        seq;           /* change-log position the kernel reflects */
	unsigned       epoch;         /* store_epoch() at the last full sync */
	int            wake_fd[2];    /* feedwatch -> serve(): the log may have grown */
	struct feedwatch watch;
};

/* ctl.c */
int  ctl_listen(struct ipfd *d, char *err, size_t errlen);
void ctl_close(struct ipfd *d);
void ctl_accept(struct ipfd *d);
/* Reads every whole request waiting on slot into the queue; closes the client on garbage. */
void ctl_read(struct ipfd *d, int slot);
/* Sends each queued reply to its client (if still connected) and empties the queue. */
void ctl_reply_all(struct ipfd *d);
void ctl_drop(struct ipfd *d, int slot);

/* follow.c: the change log, for changes made through other gateways (PostgreSQL). */
/* Starts the watcher thread and its wake pipe (nothing to start with SQLite). 0 or -1. */
int  follow_start(struct ipfd *d, char *err, size_t errlen);
void follow_stop(struct ipfd *d);
/* The wake pipe's read end, or -1. */
int  follow_fd(const struct ipfd *d);
/* Drains the wake pipe and brings every service the log names since d->seq up to date. */
void follow_log(struct ipfd *d);

/* ops.c: answers every queued request (one kernel batch for all admits and revokes). */
void ops_run(struct ipfd *d);

/* sync.c */
/* Rebuilds the whole table from a store snapshot in one batch. 0, or -1 (kernel untouched). */
int sync_all(struct ipfd *d, int *status, char *err, size_t errlen);
/*
 * Whether the kernel still has our table's base chains and every service's
 * chain and sets, as the last rebuild left them: 1 yes, 0 no, -1 with err.
 */
int sync_intact(struct ipfd *d, char *err, size_t errlen);
/* Re-reads one service's rights and refills its sets; falls back to sync_all when its rules changed. */
int sync_service(struct ipfd *d, int64_t id, int *status, char *err, size_t errlen);
/*
 * 1 when the store vouches for the right: its user exists under its name and
 * is enabled, its service exists and is enabled. A right that fails this was
 * not written by the store's own rules (a row put straight into the file):
 * ipfd opens nothing for it, and logs event=right_refused.
 */
int right_vouched(const struct store_right *r);

#endif
