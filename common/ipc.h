#ifndef SEKISHO_IPC_H
#define SEKISHO_IPC_H

/*
 * The ipfd control protocol: fixed-size messages over an AF_UNIX SOCK_SEQPACKET
 * socket. One request, one reply, in order; a client may pipeline several.
 * ipfd reads rights from the store itself: a request names a right or a
 * service, never an address to open, so nothing but the store can open the
 * firewall.
 *
 * Anything that is not exactly sizeof(struct ipc_req) bytes with the right magic,
 * version and a known type is refused: ipfd logs it, closes the connection and
 * changes nothing.
 */

#include <stddef.h>
#include <stdint.h>

#define IPC_MAGIC   0x534b5348u   /* "SKSH" */
#define IPC_VERSION 1

enum ipc_type {
	IPC_ADMIT = 1,     /* right_id: put its IP in its service's set; reply after the kernel commit */
	IPC_REVOKE,        /* right_id (ended): drop its IP unless another live right of the service uses it */
	IPC_SYNC,          /* service_id, 0 = everything: rebuild from the store */
	IPC_STATUS,        /* counters */
	IPC_TYPE_MAX
};

enum ipc_status {
	IPC_OK = 0,
	IPC_EINVAL,        /* malformed or unknown request */
	IPC_ENOTLIVE,      /* the right is not live (admit refused) */
	IPC_ECAP,          /* the service's set would exceed its cap (admit refused) */
	IPC_ESTORE,        /* ipfd could not read the store */
	IPC_EKERNEL,       /* the netlink batch failed */
};

struct ipc_req {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint64_t id;       /* echoed in the reply */
	int64_t  right_id;
	int64_t  service_id;
};

struct ipc_stats {
	uint64_t services;       /* services in the kernel table */
	uint64_t elements;       /* addresses held across all sets */
	uint64_t batches;        /* netlink batches committed since start */
	uint64_t batch_errors;
	uint64_t admits, revokes, syncs;
	int64_t  last_sync;      /* unix time of the last full sync */
	int64_t  started;
	uint64_t rebuilds;       /* full syncs that committed (the whole table rebuilt) */
	uint64_t watch_repairs;  /* rebuilds because another process changed the table */
};

struct ipc_rep {
	uint32_t magic;
	uint16_t version;
	uint16_t status;         /* enum ipc_status */
	uint64_t id;
	struct ipc_stats stats;  /* filled for IPC_STATUS */
	char     msg[96];        /* human reason when status != IPC_OK */
};

const char *ipc_status_str(int status);

/* Client side (authd, sekishoctl). All calls bounded by timeout_ms. */
struct ipc_client;
/* Connects to path. NULL with err on failure. */
struct ipc_client *ipc_connect(const char *path, int timeout_ms, char *err, size_t errlen);
void ipc_close(struct ipc_client *c);
/*
 * Sends one request and waits for its reply. Returns 0 and fills rep (whose
 * status may still say no), or -1 when ipfd did not answer in time or the
 * connection broke (err says which; the caller fails closed).
 */
int ipc_call(struct ipc_client *c, int type, int64_t right_id, int64_t service_id,
             struct ipc_rep *rep, char *err, size_t errlen);

/* Server side helpers (ipfd): validates a received datagram. 0 or -1 with why. */
int ipc_req_check(const void *buf, size_t len, struct ipc_req *req, char *why, size_t whylen);
void ipc_rep_init(struct ipc_rep *rep, const struct ipc_req *req, int status, const char *msg);

#endif
