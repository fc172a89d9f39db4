#ifndef SEKISHO_CID_H
#define SEKISHO_CID_H

/*
 * cid, private: the cookie check at the service's door.
 *
 *   check.c    the decision: is this cookie valid for this service and client?
 *   cache.c    the live rights and services in memory, under one rwlock
 *   follow.c   the thread that keeps the cache in step with the store
 *   touch.c    the thread that writes last-seen times in batches
 *   handoff.c  entry code redemption (/_sekisho/enter) and store connections
 *   routes.c   the HTTP endpoints
 *   metrics.c  counters and the Prometheus page
 *   spoe_agent.c  HAProxy's SPOE agent (the codec is spoe.c, spoe.h)
 *   setup.c    [cid] settings in the form the hot path uses
 *   main.c     start, signals, stop
 *
 * Readers (HTTP threads) never touch the store for a check unless a right
 * looks idle in memory (then it is re-read, at most once a second per right).
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "clock.h"
#include "dbpool.h"
#include "addr.h"
#include "conf.h"
#include "feedwatch.h"
#include "store.h"
#include "token.h"

#define CID_HOST_MAX      255    /* a Host header or host_map key */
#define CID_CODE_MIN      16     /* characters of an entry code */
#define CID_CODE_MAX      128
#define CID_STALE_MIN_MS  5000   /* no good sync for this long: answer "unavailable" */
#define CID_KEYS_RELOAD_S 60     /* the key ring is re-read this often */
#define CID_PURGE_S       60     /* rights past expiry leave memory this often */
#define CID_RECHECK_S     1      /* an idle-looking right is re-read at most this often */
#define CID_TOUCH_BATCH   4096   /* rights per store_touch call */

/* ---- setup.c ---- */

struct cid_hostmap {
	char host[CID_HOST_MAX + 1];
	char service[NAME_MAX_LEN + 1];
};

/* The settings cid applies, built at start and again on SIGHUP. */
struct cid_conf {
	struct addr proxies[CONF_LIST_MAX];
	int n_proxies;
	struct cid_hostmap map[CONF_LIST_MAX];
	int n_map;
	char cookie[64];
	int bind_ip;
	int secure;                          /* 1, 0, -1 = when the request is HTTPS */
	char portal[CONF_STR_MAX];           /* [authd] base_url */
	char captive[CONF_STR_MAX];          /* [ipfd] captive: services the responder serves */
	int captive_port;                    /* [ipfd] captive_port */
};

int cid_conf_build(const struct conf *c, struct cid_conf *cc, char *err, size_t errlen);
int cid_trusted(const struct cid_conf *cc, const struct addr *a);
/* The service mapped to host (case-insensitive; retried without ":port"); NULL if none. */
const char *cid_host_service(const struct cid_conf *cc, const char *host);

/* ---- cache.c ---- */

struct cache_right {
	int64_t id;
	uint8_t sid[SID_BYTES];
	int64_t service_id;
	int64_t expires_at;
	struct addr ip;
	char user[NAME_MAX_LEN + 1];
	_Atomic int64_t seen;                /* last use known: max(store, validated checks) */
	atomic_int dirty;                    /* seen not yet written to the store */
	_Atomic int64_t recheck_at;          /* earliest re-read when it looks idle */
	struct cache_right *next_sid, *next_id;
};

struct cache_service {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char url[URL_MAX_LEN + 1];
	int64_t interval_s;                  /* the longest idle gap */
	int n_guards;                        /* the captive responder finds services by guard */
	struct guard guards[GUARDS_MAX];
};

/* What one snapshot replaces at once. */
struct cache_data {
	struct cache_right **by_sid, **by_id;
	size_t mask, count;
	struct cache_service *svcs;          /* sorted by name */
	int n_svcs, cap_svcs;
};

/* Re-reads one right from the store; STORE_OK, STORE_NOTFOUND or another store_rc. */
typedef int (*cache_reread_fn)(void *arg, const uint8_t sid[SID_BYTES], struct store_right *r);

struct cache {
	pthread_rwlock_t lock;
	struct cache_data d;
	struct keyring kr;
	int64_t seq;                         /* change-log position reflected */
	int loaded;                          /* a snapshot has been applied */
	_Atomic int64_t synced_ms;           /* monotonic ms of the last good sync */
	int64_t stale_ms;
	cache_reread_fn reread;
	void *reread_arg;
};


int cache_init(struct cache *c, int64_t stale_ms);
void cache_destroy(struct cache *c);

void cache_rdlock(struct cache *c);
void cache_wrlock(struct cache *c);
void cache_unlock(struct cache *c);

/* Under a lock: */
int cache_usable_locked(const struct cache *c);
struct cache_right *cache_right_locked(const struct cache *c, const uint8_t sid[SID_BYTES]);
const struct cache_service *cache_service_locked(const struct cache *c, const char *name);
/* Records a validated use at now (lock-free on the right itself). */
void cache_seen(struct cache_right *r, int64_t now);

/* cache_data, for a caller that holds the write lock or owns d alone. 0 or -1 (memory). */
int data_init(struct cache_data *d);
void data_free(struct cache_data *d);
int data_put_right(struct cache_data *d, const struct store_right *r);
void data_drop_right(struct cache_data *d, int64_t id);
int data_put_service(struct cache_data *d, const struct store_service *s);
/* Drops the service and every right of it. */
void data_drop_service(struct cache_data *d, int64_t id);
/* Drops rights past expiry; returns how many. */
size_t data_purge(struct cache_data *d, int64_t now);

/* Each takes the write lock. */
int cache_put_right(struct cache *c, const struct store_right *r);
void cache_drop_right(struct cache *c, int64_t id);
void cache_set_keyring(struct cache *c, const struct keyring *kr);
/* Makes fresh the cache's data at seq (fresh is emptied); keeps unflushed last-seen times. */
void cache_swap(struct cache *c, struct cache_data *fresh, const struct keyring *kr, int64_t seq);
void cache_synced(struct cache *c);

/* Rights and services held now. */
void cache_sizes(struct cache *c, size_t *rights, int *services);
/* Copies up to max dirty rights (and clears their flag); returns how many. */
size_t cache_take_dirty(struct cache *c, int64_t *ids, int64_t *seen, size_t max);
/* Marks rights dirty again after a failed write. */
void cache_redirty(struct cache *c, const int64_t *ids, size_t n);
/* Raises the known last use of a right held now (never inserts one). */
void cache_raise_seen(struct cache *c, int64_t id, int64_t seen);

/* ---- check.c ---- */

enum check_result {
	CHECK_OK = 0,
	CHECK_NO_COOKIE,
	CHECK_BAD_COOKIE,                    /* repeated, oversized, not a token */
	CHECK_UNKNOWN_KEY,
	CHECK_BAD_TAG,
	CHECK_EXPIRED,                       /* token or right past absolute expiry */
	CHECK_UNKNOWN_SERVICE,
	CHECK_WRONG_SERVICE,
	CHECK_NO_RIGHT,                      /* ended or unknown */
	CHECK_IDLE,
	CHECK_WRONG_IP,
	CHECK_BAD_REQUEST,                   /* the proxy's headers make no sense: 400 */
	CHECK_UNAVAILABLE,                   /* no current view of the store: 503 */
	CHECK__N
};

/* Metric label and HTTP status of a result. */
const char *check_label(int result);
int check_status(int result);

/* What the proxy sent, as found in the request. */
struct check_in {
	const char *service;                 /* X-Sekisho-Service, or from the path */
	int n_service;
	const char *host;
	const char *cookie;                  /* value of the cid cookie */
	int n_cookie;
	const char *xff;
	int n_xff;
	const char *xfp;                     /* X-Forwarded-Proto */
	const char *xfh;                     /* X-Forwarded-Host */
	const struct sockaddr *peer;
	int tls;
};

/* The same, checked and bounded. */
struct check_req {
	char service[NAME_MAX_LEN + 1];
	const char *token;                   /* NULL: no cookie */
	size_t token_len;
	struct addr client;
	int https;
	int via_proxy;                       /* the peer is a trusted proxy */
};

struct check_out {
	int result;
	const char *why;                     /* for the log when the input was malformed */
	char service[NAME_MAX_LEN + 1];      /* the asked service, once known */
	int64_t right_id;
	int64_t service_id;                  /* set once the service is known to exist */
	char user[NAME_MAX_LEN + 1];
	int64_t remaining;                   /* seconds until absolute expiry */
};

/*
 * Reads the proxy's headers into q. CHECK_OK, or CHECK_BAD_REQUEST /
 * CHECK_BAD_COOKIE / CHECK_NO_COOKIE with out->why. A missing service is
 * CHECK_BAD_REQUEST; no cookie is reported after everything else parsed.
 */
int check_parse(const struct cid_conf *cc, const struct check_in *in, struct check_req *q,
                struct check_out *out);
/*
 * Only the client part: q->client and q->https. The X-Forwarded-* headers are
 * believed only from a trusted proxy. CHECK_OK or CHECK_BAD_REQUEST.
 */
int check_client(const struct cid_conf *cc, const struct check_in *in, struct check_req *q,
                 struct check_out *out);
/*
 * Which service a request is for, the one way check and handoff both ask:
 * X-Sekisho-Service (once), else the host_map entry of the Host, or of
 * X-Forwarded-Host when via_proxy (a trusted proxy, as Traefik's forwardAuth
 * sends it). 1 with name filled; 0 when the request does not say; -1 when
 * what it says is malformed. *why says what was missing or wrong.
 */
int check_service(const struct cid_conf *cc, const struct check_in *in, int via_proxy,
                  char name[NAME_MAX_LEN + 1], const char **why);
/* The decision for q at now; a valid check records the use. Returns out->result. */
int check_run(struct cache *c, const struct cid_conf *cc, const struct check_req *q,
              int64_t now, struct check_out *out);

/* ---- follow.c ---- */

struct follower {
	struct cache *cache;
	const struct conf *conf;
	pthread_t thread;
	int running;
	atomic_int resnapshot;               /* full reload at the next tick */
	struct store *store;                 /* the follower thread's own */
	int64_t keys_at, purge_at;           /* next key reload and purge (unix s) */
	int down;                            /* the store was unavailable at the last try */
	pthread_mutex_t mu;                  /* guards what follows */
	pthread_cond_t wake, done;
	uint64_t gen_req, gen_done;          /* sync rounds asked for and finished */
	int last_rc;                         /* of the last finished round */
	int stop;
	unsigned epoch;                      /* store_epoch() when the cache was loaded */
	struct feedwatch watch;              /* PostgreSQL: wakes the thread on a commit */
};

/* One full load: services, live rights and keys, swapped in at once. 0 or store_rc. */
int follow_snapshot(struct follower *f, int64_t now);
/* Applies the change log since the cache's seq; asks for a snapshot on a gap. 0 or store_rc. */
int follow_changes(struct follower *f, int64_t now);
/* One round of the thread's loop: open, snapshot or follow, keys, purge. STORE_OK or why not. */
int follow_tick(struct follower *f);
/* Runs one round on the calling thread, then starts the thread. 0 or -1. */
int follow_start(struct follower *f, struct cache *c, const struct conf *conf);
/*
 * Asks for a round that starts after this call and waits for it, at most
 * timeout_ms: afterwards the cache holds every change committed before the
 * call. STORE_OK, or why not.
 */
int follow_sync(struct follower *f, int timeout_ms);
/* Full reload at the next round (SIGHUP), which starts at once. */
void follow_request_snapshot(struct follower *f);
void follow_stop(struct follower *f);

/* ---- touch.c ---- */

struct toucher {
	struct cache *cache;
	const struct conf *conf;
	pthread_t thread;
	int running;
	atomic_int stop;
	struct store *store;                 /* the touch thread's own */
	int64_t ids[CID_TOUCH_BATCH], seen[CID_TOUCH_BATCH];
};

/* Writes every pending last-seen time. Rights written, or -1 when the store failed. */
long touch_flush(struct toucher *t);
int touch_start(struct toucher *t, struct cache *c, const struct conf *conf);
/* Stops the thread after one last flush. */
void touch_stop(struct toucher *t);

/* ---- handoff.c ---- */

/* The HTTP threads' store connections: a short busy timeout, one per thread. NULL: out of memory. */
struct dbpool *pool_new(const struct conf *c);
/* A connection from the pool, or NULL after logging why. */
struct store *pool_get(struct dbpool *p);
/* cache_reread_fn over a pool. */
int pool_reread(void *arg, const uint8_t sid[SID_BYTES], struct store_right *r);

struct http_req;
struct cid;

void handoff_enter(struct http_req *r, struct cid *cid);

/* ---- metrics.c ---- */

enum handoff_result {
	HANDOFF_OK = 0, HANDOFF_BAD_CODE, HANDOFF_UNKNOWN_CODE, HANDOFF_WRONG_SERVICE,
	HANDOFF_UNAVAILABLE, HANDOFF_WRONG_ADDRESS, HANDOFF__N
};

void metrics_check(int result, int64_t ns);
/* One check of an existing service (out->service_id != 0), by result, under its name. */
void metrics_service_check(const char *service, int result);
void metrics_handoff(int result);
void metrics_touch(long rows);
void metrics_sync(int snapshot, long changes);
struct buf;
void metrics_render(struct buf *b, struct cache *c);

/* ---- routes.c ---- */

struct tmpl_set;

/*
 * What SIGHUP replaces (cc, tmpl, css) changes only under live_lock held
 * for writing; cid_handle holds it for reading while it answers.
 */
struct cid {
	const struct conf *conf;             /* as started: what only a restart changes */
	pthread_rwlock_t live_lock;
	struct cid_conf cc;
	struct cache cache;
	struct follower follower;
	struct toucher toucher;
	struct dbpool *pool;                 /* as many connections as HTTP threads: none waits */
	struct tmpl_set *tmpl;
	char *css;                           /* web_dir/static/sekisho.css */
	size_t css_len;
};

/*
 * captive.c: the captive-portal redirect responder ([cid] captive_listen).
 * ipfd sends unadmitted TCP to a captive service's HTTP port here (DNAT); the
 * answer is 302 to the portal with the service preselected, the service found
 * from the connection's original destination among [ipfd] captive's
 * services. Any other request (a direct connection) gets the portal itself.
 */
void cid_handle_captive(struct http_req *r, void *arg);
/* The portal's URL with ?service=NAME (a valid name), else its root. */
void cid_portal_url(const struct cid *cid, const char *service, char *out, size_t n);

/* The service-side listener's handler; /_sekisho/auth only for trusted proxies. */
void cid_handle(struct http_req *r, void *arg);
/* The monitor listener's: /metrics and /healthz. */
void cid_handle_monitor(struct http_req *r, void *arg);
/* Fills in from the request (service may be overridden, e.g. by /go/NAME). */
void cid_check_in(struct http_req *r, const struct cid *cid, const char *service,
                  struct check_in *in);
/*
 * Counts one check started at t0: by result, and by service and result when
 * the service exists (a refusal before the decision is looked up first).
 */
void cid_count_check(struct cid *cid, struct check_out *out, const struct timespec *t0);
/* Renders the "message" page with a link to the portal; status and texts. */
void cid_page(struct http_req *r, struct cid *cid, int status, const char *title,
              const char *text, const char *service);
/* The portal's URL for service (NULL: the portal's start page) into out. */
void cid_portal_url(const struct cid *cid, const char *service, char *out, size_t n);
/* Logs a line for malformed input, at most a few per second. */
void cid_log_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- spoe_agent.c ---- */

struct spoe_agent;

/* Binds spoe_listen (before privileges drop). NULL with err. */
struct spoe_agent *spoe_agent_listen(const char *where, char *err, size_t errlen);
/* Starts the agent's thread. 0 or -1. */
int spoe_agent_start(struct spoe_agent *a, struct cid *cid);
/* Stops the thread (if started), closes every connection, frees a. NULL is fine. */
void spoe_agent_stop(struct spoe_agent *a);
void spoe_agent_free(struct spoe_agent *a);

#endif
