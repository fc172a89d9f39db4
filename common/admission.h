#ifndef SEKISHO_ADMISSION_H
#define SEKISHO_ADMISSION_H

/*
 * The admission sequence, once, for the portal (authd/admit.c) and for
 * sekishoctl grant (ctl/session.c):
 *
 *   0. the service's access list (store_acl_allows): a user not on a
 *      restricted service's list is refused before anything else is
 *      touched (ADMISSION_FORBIDDEN; no cap counted, no queue joined);
 *   1. store_admit: one atomic step (reap, replace, count, insert);
 *   2. ask ipfd to open the new right and wait for its ACK;
 *   3. without an ACK (ipfd down, refused, or the reply lost): end the right
 *      in the store (END_ROLLBACK) and ask ipfd to remove the address, which
 *      it may have put in the set before the reply went missing. Fail closed;
 *   4. tell ipfd what else the admission changed (a replaced right, reaped
 *      rights) without waiting.
 *
 * The firewall side is injected (struct admission_fw), so each program uses
 * its own connection to ipfd: authd's pooled client with its retry queue,
 * sekishoctl's one connection.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

struct admission_fw {
	/* Asks ipfd to open right_id and waits for its ACK: 0, or -1 with err. */
	int  (*admit)(void *arg, int64_t right_id, char *err, size_t errlen);
	/* Asks ipfd to drop right_id's address (the right has ended); may queue. */
	void (*revoke)(void *arg, int64_t right_id);
	/* Asks ipfd to rebuild one service from the store; may queue. */
	void (*sync)(void *arg, int64_t service_id);
	void *arg;
};

enum admission_outcome {
	ADMISSION_OK = 0,
	ADMISSION_DENIED,        /* the cap is reached; nothing written */
	ADMISSION_NOTFOUND,      /* no such enabled user or service */
	ADMISSION_STORE_DOWN,    /* the store did not answer */
	ADMISSION_FW_DOWN,       /* ipfd did not confirm; the right was rolled back */
	ADMISSION_REPLACED,      /* a concurrent admission of the same user and service
	                            replaced the new right before ipfd confirmed it */
	ADMISSION_FORBIDDEN,     /* the user is not on the service's access list */
	ADMISSION_QUEUED,        /* the service is full; the user holds a place in line */
	ADMISSION_QUEUE_FULL,    /* the service and its line are full; nothing written */
	ADMISSION_UNAVAILABLE,   /* the service is down (its probe); nothing written */
	ADMISSION_RATE,          /* a new user past the service's admission rate; nothing
	                            written (adm.rate_next: when it has room) */
};

struct admission {
	int outcome;                         /* enum admission_outcome */
	struct store_admission adm;          /* what the store did (right filled on OK) */
	struct store_place place;            /* admission_queue_run: the place in line */
	double ms_store, ms_fw;              /* time spent in steps 1 and 2 */
	char why[200];                       /* for the log and the operator when not OK */
};

/*
 * Step 0 alone, for a path that must refuse before doing anything else (a
 * waiting queue): ADMISSION_OK, ADMISSION_FORBIDDEN, ADMISSION_NOTFOUND or
 * ADMISSION_STORE_DOWN (why filled).
 */
int admission_check(struct store *st, int64_t user_id, int64_t service_id, char *why,
                    size_t whylen);

void admission_run(struct store *st, const struct admission_fw *fw, int64_t user_id,
                   int64_t service_id, const struct addr *ip, int64_t now, struct admission *out);

/*
 * The same through the waiting room (store_queue_admit): OK, QUEUED (the
 * place in out->place), QUEUE_FULL, or the failures above. The cap the line
 * waits for is the store's (the service's cap), decided in the store's one
 * step, so the line is exact across gateways.
 */
void admission_queue_run(struct store *st, const struct admission_fw *fw, int64_t user_id,
                         int64_t service_id, const struct addr *ip, int64_t now,
                         const struct store_queue_rules *rules, struct admission *out);

/*
 * Undoes an admitted right: ends it in the store (END_ROLLBACK) and asks
 * ipfd to drop its address. 0, or -1 with err when the store could not end it
 * (ipfd is asked all the same; its sync repairs the rest).
 */
int admission_roll_back(struct store *st, const struct admission_fw *fw, int64_t right_id,
                        int64_t now, char *err, size_t errlen);

/*
 * 1 when right_id has been ended as END_REPLACED: one live right per user and
 * service, so a concurrent admission of the same user (another tab, another
 * device) replaced it. Its failures after step 1 are then no firewall or
 * store failure: the newer admission holds the access and has told ipfd.
 */
int admission_replaced(struct store *st, int64_t right_id);

/* "ok", "denied", "no_service", "store_unavailable", "ipfd_unavailable", "replaced",
 * "forbidden", "queued", "queue_full", "service_down". */
const char *admission_outcome_str(int outcome);

/*
 * The audit row of an admission, one name whatever interface admitted:
 * "admit" on OK, else "deny" with the reason. actor: who asked (the user at
 * the portal, "sekishoctl"); by, when not NULL, leads the detail as "by=BY"
 * (sekishoctl's Unix user). Returns a store_rc.
 */
int admission_audit(struct store *st, int64_t now, const char *actor, const char *by,
                    const char *user, const char *service, const struct addr *ip,
                    const struct admission *a);

#endif
