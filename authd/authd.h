#ifndef SEKISHO_AUTHD_H
#define SEKISHO_AUTHD_H

/*
 * authd's private header: the daemon's state, a request as the handlers see
 * it, the route table, and the modules (one prefix each):
 *
 *   main.c     start-up, signals, shutdown
 *   authd.c    authd_   the daemon's state: init, reload, fini
 *   view.c     view_    what SIGHUP replaces: config, templates, stylesheet
 *   route.c    route_   the flat route table and the dispatcher
 *   login.c    login_   portal login cookie and CSRF (shared with admin pages)
 *   authn.c    authn_   name and password checks: throttle, dummy hash
 *   hashpool.c hashpool_ the threads that compute password hashes
 *   page.c     page_    rendering, security headers, redirects, messages
 *   portal.c   portal_  GET /, POST /login
 *   rights.c   rights_  GET /me, POST /release, POST /logout
 *   admit.c    admit_   the admission: store -> ipfd -> entry code
 *   queue.c    queue_   the waiting room: GET /queue, the waiting page, lapses
 *   fw.c       fwc_     ipfd client connections
 *   throttle.c throttle_ token buckets per client address, global; backoff rule
 *   lockout.c  lockout_  per-account failures and known sources, in the store
 *   clientip.c clientip_ the client's address, trusted proxies
 *   sweeper.c  sweeper_ ends expired and idle rights, lapses idle lines, prunes, rotates keys
 *   metrics.c  ametrics_ counters for /metrics; /healthz (monitor listener); /static
 *   metrics_svc.c ametrics_ per-service series and ipfd's counters on /metrics
 *   admin*.c   admin_   the admin web UI under /admin/ (its own header: admin.h)
 */

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "adaptive.h"
#include "admission.h"
#include "addr.h"
#include "clock.h"
#include "conf.h"
#include "dbpool.h"
#include "http.h"
#include "ipc.h"
#include "store.h"
#include "tmpl.h"

#define LOGIN_COOKIE     "sekisho_login"
#define CSRF_COOKIE      "sekisho_csrf"
#define DEVICE_COOKIE    "sekisho_device"  /* marks a browser that logged in: login throttle */
#define LINE_COOKIE      "sekisho_line"    /* a ticket in the login line (loginline.c) */
#define DEVICE_HEX_LEN   32              /* hex of a device cookie's hash kept as its source */
#define RANDOM_BYTES     32              /* login ids, CSRF values, entry codes */
#define RANDOM_STR_LEN   43              /* RANDOM_BYTES as base64url */
#define ENTRY_URL_MAX    (URL_MAX_LEN + 96)  /* + "/_sekisho/enter?code=" + a code */
#define CSP_MAX          1536
#define THROTTLE_SLOTS   4096            /* client addresses the throttle remembers */
#define FWC_POOL_MAX     16              /* idle ipfd connections kept */
#define HASH_WAIT_S      20              /* longest wait for a hash slot (new passwords) */
#define LINE_DIRECT      32              /* line places answered on their own connection, at most */

/* What SIGHUP replaces. Immutable while shared; freed with its last holder. */
struct authd_view {
	int refs;
	struct conf conf;
	struct tmpl_set *tmpl;
	char *css;
	size_t css_len;
	struct addr trusted[CONF_LIST_MAX];
	int n_trusted;
	int https;                           /* base_url is https: cookies get Secure */
};

struct buf;
struct fwc;
struct throttle;
struct sweeper;
struct hashpool;
struct loginline;
struct authn_login;
struct ticket;

struct authd {
	struct conf boot;                    /* as loaded at start: listen, db, tls, user */
	pthread_mutex_t view_lock;
	struct authd_view *view;
	struct dbpool *pool;
	struct fwc *fw;
	struct throttle *throttle;
	struct sweeper *sweeper;
	struct prober *prober;               /* health probes and adaptive caps */
	struct hashpool *hashes;             /* the portal's password checks */
	struct loginline *line;              /* portal logins in arrival order, around their hash */
	int hash_workers;                    /* authd.hash_workers, 0 (one per CPU) resolved */
	int http_threads;                    /* authd.http_threads, 0 resolved */
	int http_workers;                    /* authd.http_workers, 0 resolved */
	int http_workers_min;                /* of them, those kept while idle */
	struct http_pool *workers;           /* runs every request that may wait (route.c) */
	int line_direct;                     /* places from the line's front that wait on their connection */
	int wait_turns;                      /* http_workers / 2: see authd_wait_take */
	atomic_int waiting;                  /* request threads in a wait now */
	sem_t hash_sem;                      /* bounds every hash in authd to hash_workers */
	sem_t login_gate;                    /* bounds logins' store work to half the pool */
	char dummy_hash[HASH_MAX_LEN + 1];   /* verified for unknown users: same timing */
	atomic_int inflight;
	atomic_int stopping;
};

/* One request as the handlers see it. The dispatcher fills and cleans it. */
struct req {
	struct authd *a;
	struct authd_view *v;
	struct http_req *r;
	struct addr ip;                      /* the client, after trusted proxies */
	char ipstr[ADDR_STR_MAX];
	int64_t now;
	struct store *st;                    /* borrowed by req_store(), returned after */
	int st_broken;                       /* set on STORE_UNAVAILABLE: close, not reuse */
	int logged_in;
	char login_hash[CODE_HASH_LEN + 1];
	struct store_login login;
	char form_action[CSP_MAX / 2];       /* extra CSP form-action sources */
	int gated;                           /* holds a turn of a->login_gate */
};

/* ---- authd.c ---- */

/* Everything but the HTTP server and the sweeper, from conf. 0 or -1 with err. */
int authd_init(struct authd *a, const struct conf *c, char *err, size_t errlen);
void authd_fini(struct authd *a);
/*
 * The contract of the HTTP threads. The http_threads event threads each
 * serve many connections and never wait: they answer only what needs
 * nothing but memory (ROUTE_INLINE: the anonymous login form from its
 * cache, the login line's pages, the stylesheet) and hand every other
 * request to the http_workers workers (http_defer), whose connections are
 * suspended meanwhile. A worker may wait on the store (the store pool bounds
 * those), ipfd's confirmation or the login gate; it waits for something
 * slower (a login's answer in the line, an admin's password hash) only
 * while holding one of wait_turns = http_workers / 2 turns, so at least
 * half the workers keep taking requests. 0 with a turn, -1 (none free):
 * answer without waiting (a place page, or busy).
 */
int authd_wait_take(struct authd *a);
void authd_wait_give(struct authd *a);
/*
 * SIGHUP: the config file, templates and stylesheet again; on any error the
 * running ones stay. Keys read only at start are named (conf_restart_keys).
 */
void authd_reload(struct authd *a);

/* ---- route.c ---- */

enum {
	ROUTE_PREFIX     = 1,   /* path matches every path starting with it */
	ROUTE_LOGIN      = 2,   /* needs a portal login; a POST also needs its csrf field */
	ROUTE_FORM_CSRF  = 4,   /* POST before login: double-submit CSRF check */
	ROUTE_NO_STORE   = 8,   /* do not look up the portal login (static, metrics) */
	ROUTE_INLINE     = 16,  /* needs only memory: answered on the event thread */
	ROUTE_INLINE_ANON = 32, /* the same for a request without a portal login while
	                           the login form's cache is fresh (formcache_fresh) */
};

struct route {
	const char *method;                  /* "GET" (also serves HEAD) or "POST" */
	const char *path;
	int flags;
	void (*fn)(struct req *q);
};

/* Route tables, each ended by an entry with path NULL; route.c lists them. */
extern const struct route portal_routes[];
extern const struct route ametrics_routes[];   /* the monitor listener's only */
extern const struct route static_routes[];
extern const struct route admin_routes[];

/* The http_handler of the portal: client IP, route, login and CSRF checks, then the handler. */
void route_dispatch(struct http_req *r, void *arg);
/* The same for the admin_listen listeners: /admin/ pages and static files only. */
void route_admin(struct http_req *r, void *arg);
/* The same for the monitor listener: /metrics and /healthz, nothing else. */
void route_monitor(struct http_req *r, void *arg);
/* The store connection for this request, NULL when unavailable (answer 503). */
struct store *req_store(struct req *q);
/*
 * Gives the connection back before a long wait (a password hash), so waiting
 * logins never hold the pool; req_store() takes one again afterwards.
 */
void req_store_release(struct req *q);

/* ---- view.c ---- */

/* Loads templates, stylesheet and trusted proxies for conf. NULL with err. */
struct authd_view *view_load(const struct conf *c, char *err, size_t errlen);
struct authd_view *view_hold(struct authd *a);
/* One more hold on v, which the caller holds already. */
struct authd_view *view_ref(struct authd *a, struct authd_view *v);
void view_release(struct authd *a, struct authd_view *v);
/* Installs v as the current view (the old one is freed by its last holder). */
void view_swap(struct authd *a, struct authd_view *v);
/* For -n and start-up: 0 when the view for c loads, -1 with err. */
int view_check(const struct conf *c, char *err, size_t errlen);

/* ---- clientip.c ---- */

/*
 * The client's address. The TCP peer, unless the peer is a trusted proxy and
 * sent X-Forwarded-For: then the client addr_forwarded_client finds in it.
 * -1 when the header is repeated, too long, or malformed where it is read.
 */
int clientip_resolve(const struct addr *peer, const char *xff, int xff_count,
                     const struct addr *trusted, int n_trusted, struct addr *out);

/* ---- authn.c ---- */

enum authn_result { AUTHN_OK, AUTHN_BAD, AUTHN_THROTTLED, AUTHN_BUSY, AUTHN_STORE_DOWN,
                   AUTHN_EXT_DOWN };
/* What a user is told when the account source (PAM, the directory) did not answer. */
#define AUTHN_EXT_DOWN_TEXT "Your account's directory is not answering, so your password " \
	"could not be checked. Please try again later; accounts kept by this portal itself " \
	"still work."

/*
 * Checks a login form's name and password, throttled per client IP and
 * account, on a hash worker, waiting for it; u is filled on AUTHN_OK,
 * *retry_s on AUTHN_THROTTLED. AUTHN_BUSY: the hash line is full. Keeps st
 * (the request's connection) throughout.
 */
int authn_check(struct req *q, struct store *st, const char *name, const char *pw,
                struct store_user *u, int *retry_s);

/* ---- formcache.c ---- */

/*
 * The anonymous login form's service list, at most a second old (stale_ok:
 * up to 30 s, for a request on an event thread, which must not read the
 * store): 0 with a malloc'd copy in *v (*n services), -1 when there is none
 * that fresh.
 */
int formcache_get(struct store_service **v, size_t *n, int stale_ok);
/*
 * 1: an event thread may answer the anonymous form from the list kept: at
 * most a second old, or older (up to 30 s) while the refresher reads it
 * again, which this call asks for. 0: there is none (read it on a worker).
 */
int formcache_fresh(void);
/* The enabled services, with their live counts, into a malloc'd *v. A store_rc (an error is logged). */
int formcache_read(struct store *st, struct store_service **v, size_t *n);
/* Reads the list for the refresher: 0 with a malloc'd *v, or -1. */
typedef int (*formcache_reader)(void *arg, struct store_service **v, size_t *n);
/* Starts the refresher thread, which reads with read(arg) when asked. 0 or -1. */
int formcache_start(formcache_reader read, void *arg);
/* Stops it and forgets the list. */
void formcache_stop(void);
/* Keeps a copy of the n services v (enabled, with their live counts) as of now. */
void formcache_put(const struct store_service *v, size_t n);

/* ---- loginline.c ---- */

/* The login line and its finisher thread; max: tickets held at once. NULL with err. */
struct loginline *loginline_start(struct authd *a, int max, char *err, size_t errlen);
/* Stops it; call after hashpool_stop. Tickets left are dropped (passwords wiped). */
void loginline_stop(struct loginline *l);
/*
 * A portal login that needs its password checked, with its ticket t. The
 * answer is sent on q: the login's own (when its turn comes within
 * LINE_WAIT_MS) or the page of its place in line. Returns an LR_ when the
 * answer was the login's own and counted here by the caller, -1 when the
 * login line counts it (now or when it is answered).
 */
int loginline_login(struct req *q, struct ticket *t, const struct store_service *svc);
/*
 * The ticket a login takes on arrival, before any store work, so its place
 * is its arrival; NULL when the line is full (answer 503). A ticket not
 * taken on by loginline_login is given back with loginline_drop.
 */
struct ticket *loginline_reserve(struct req *q, const char *user, const char *pw);
void loginline_drop(struct req *q, struct ticket *t);
/*
 * Logins' store work (form, throttle, lockout) holds at most half the store
 * pool at once: a thousand logins arriving together must not starve GET /
 * and the other pages of store connections. enter waits for a turn; leave
 * (idempotent) gives it back.
 */
void login_gate_enter(struct req *q);
void login_gate_leave(struct req *q);
/* GET /login/wait. */
void loginline_poll(struct req *q);
/* Tickets not yet answered. */
int loginline_waiting(struct loginline *l);

/* ---- hashpool.c ---- */

/* n workers; at most queue_max logins wait for one, in arrival order. */
struct hashpool *hashpool_start(struct authd *a, int n, int queue_max, char *err, size_t errlen);
void hashpool_stop(struct hashpool *p);
#define HASH_GROUPS_MAX 32

/* What a hash worker checks: a password against a hash, or with an external source. */
struct hash_check {
	const char *user, *pw;
	const char *hash;                    /* the scrypt hash (a dummy for unknown names) */
	const struct conf_identity *ext;     /* not NULL: ask source instead, with these settings */
	int source;                          /* SOURCE_PAM or SOURCE_LDAP when ext is set */
	int account_ok;                      /* the account may log in (exists, enabled) */
	int gone;                            /* out: the source does not know the user */
	int groups_known, n_groups;          /* out (LDAP): the user's directory groups */
	char groups[HASH_GROUPS_MAX][NAME_MAX_LEN + 1];
};

/*
 * On a worker: reserves a check for ip and the global bucket (throttle_begin
 * with flags), verifies c, settles (OK only when c->account_ok too).
 * Waits its turn behind the logins that came first. AUTHN_OK, AUTHN_BAD,
 * AUTHN_THROTTLED (*retry_s), AUTHN_EXT_DOWN (the PAM stack or the directory
 * failed: logged, fail closed), or AUTHN_BUSY at once when queue_max logins
 * already wait (or authd is stopping; *retry_s a hint).
 */
int hashpool_verify(struct hashpool *p, const char *ip, int flags, struct hash_check *c,
                    int *retry_s);
/*
 * The same check without waiting for it: j joins the same line and cb(arg,
 * result, retry_s) is called on the worker once it is done (or with
 * AUTHN_BUSY, unhashed, when *skip was set before its turn or at stop). c
 * and ip must live until then. 0, or -1 when the line is full (*retry_s).
 */
typedef void (*hash_done_fn)(void *arg, int result, int retry_s);
int hashpool_submit(struct hashpool *p, const char *ip, int flags, struct hash_check *c,
                    hash_done_fn cb, void *arg, const atomic_int *skip, int *retry_s);
/* Logins waiting for a hash worker now. */
int hashpool_waiting(struct hashpool *p);

/* ---- pam.c, ldap.c: the external sources, on hash workers only ---- */

/* EXTV_UNKNOWN: the source does not know the user; EXTV_ERROR: it failed (err says how). */
enum ext_verdict { EXTV_OK = 0, EXTV_BAD, EXTV_UNKNOWN, EXTV_ERROR };
/*
 * Authenticates c->user with c->pw through PAM service id->pam_service (from
 * id->pam_confdir when not empty) and its account management.
 */
int pam_check(const struct conf_identity *id, const char *user, const char *pw, char *err,
              size_t errlen);
/* The same against the directory of id->ldap_*; fills c's groups on EXTV_OK. */
int ldap_check(const struct conf_identity *id, struct hash_check *c, char *err, size_t errlen);
/*
 * Hashes pw with the default parameters on the calling thread once one of the
 * hash_workers slots is free (new passwords, rehashes). 0, or -1 (logged) when
 * no slot came free in HASH_WAIT_S or the hash failed.
 */
int hashpool_hash(struct authd *a, const char *pw, char *out, size_t n);

/* ---- login.c ---- */

/* Looks up the portal login named by the cookie. 0 (q->logged_in says), -1 store down. */
int login_lookup(struct req *q);
/* Starts a portal login for user and adds its cookie. 0 or -1 (store down). */
int login_begin(struct req *q, const struct store_user *u);
/* Ends the portal login (row and cookie). */
void login_end(struct req *q);
/* The pre-login CSRF value for a form; sets the cookie when the browser has none. NULL on failure. */
const char *login_csrf_issue(struct req *q, char out[RANDOM_STR_LEN + 1]);
/* 0 when the request's csrf field matches: the login's token, or before login the cookie. */
int login_csrf_check(struct req *q, int logged_in_form);
/* Adds Set-Cookie for name=value (Max-Age max_age_s; 0 clears it). */
void login_cookie_set(struct req *q, const char *name, const char *value, int max_age_s);
/* The single value of cookie name, when it has the shape of one we issue; NULL otherwise. */
const char *login_cookie(struct req *q, const char *name);
const char *login_cookie_of(const struct http_req *r, const char *name);
/*
 * The device cookie (DEVICE_COOKIE) q brought, as a throttle source: "d:" and
 * DEVICE_HEX_LEN hex of its SHA-256. 0, or -1 when q brought none of ours.
 */
int login_device(struct req *q, char out[LOCK_SOURCE_MAX + 1]);
/* Gives the client a new device cookie for max_age_s; its source into out. 0 or -1. */
int login_device_issue(struct req *q, int max_age_s, char out[LOCK_SOURCE_MAX + 1]);

/* ---- page.c ---- */

/* A context with the values every page uses (title, user when logged in). */
struct tmpl_ctx *page_ctx(struct req *q, const char *title);
/* Renders template with c (freed here) as an HTML page with the security headers. */
void page_render(struct req *q, int status, const char *tmpl, struct tmpl_ctx *c);
/* A styled message page: title, text, an optional link. */
void page_message(struct req *q, int status, const char *title, const char *text,
                  const char *link, const char *link_text);
/* 303 See Other to location (a path of ours or a URL checked by the caller). */
void page_redirect(struct req *q, const char *location);
/* Adds a CSP form-action source (an origin); ignored when it does not fit. */
void page_allow_form_target(struct req *q, const char *origin);
/* Adds the headers every response carries (nosniff, frame and referrer policy). */
void page_base_headers(struct req *q);
/* "1 h 05 min", "45 s": a duration for people. */
void page_duration(int64_t s, char *out, size_t n);
/* "2026-11-22 14:05 UTC". */
void page_time(int64_t t, char *out, size_t n);

/* ---- portal.c ---- */

/* The login form (GET / and the answers that show it again). */
void portal_form(struct req *q, int status, const char *error, const char *user,
                 const char *service);

/* ---- rights.c: a logged-in user's own rights ---- */

void rights_me(struct req *q);
void rights_release(struct req *q);
void rights_logout(struct req *q);

/* ---- admit.c ---- */

/* The outcomes of common/admission.c, and one of the portal's own. */
enum admit_outcome {
	ADMIT_OK = ADMISSION_OK,
	ADMIT_DENIED = ADMISSION_DENIED,           /* cap reached: nothing written */
	ADMIT_NOSERVICE = ADMISSION_NOTFOUND,      /* the service is gone or disabled */
	ADMIT_STORE_DOWN = ADMISSION_STORE_DOWN,   /* store unavailable: nothing admitted */
	ADMIT_FW_DOWN = ADMISSION_FW_DOWN,         /* ipfd did not confirm: rolled back */
	ADMIT_REPLACED = ADMISSION_REPLACED,       /* a concurrent login of the account replaced it */
	ADMIT_FORBIDDEN = ADMISSION_FORBIDDEN,     /* not on the service's access list */
	ADMIT_QUEUED = ADMISSION_QUEUED,           /* full: the user holds a place in line */
	ADMIT_QUEUE_FULL = ADMISSION_QUEUE_FULL,   /* full, and so is the line */
	ADMIT_SERVICE_DOWN = ADMISSION_UNAVAILABLE, /* the service's probe says down */
	ADMIT_RATE = ADMISSION_RATE,               /* new user past the admission rate */
	ADMIT_BAD_URL,                             /* the service's URLs give no entry URL */
};

struct admit_in {
	const struct store_user *user;
	const struct store_service *svc;
	struct addr ip;
	int64_t now;
	int code_ttl_s;
	const struct store_queue_rules *queue;   /* NULL: no waiting room (a full service denies) */
};

struct admit_out {
	int outcome;                         /* enum admit_outcome */
	struct store_admission adm;
	struct store_place place;            /* ADMIT_QUEUED: the place in line */
	char location[ENTRY_URL_MAX];        /* where to send the user (ADMIT_OK) */
	int retry_after_s;                   /* ADMIT_DENIED: when a place may free up */
	double ms_store, ms_fw, ms_code;     /* time spent in each step */
	char why[160];                       /* for the log when not ADMIT_OK */
};

/* The admission sequence: store_admit, ipfd ack, entry code, audit. */
void admit_run(struct store *st, struct fwc *fw, const struct admit_in *in, struct admit_out *out);
/*
 * Entry URL for a code: entry_url + "?code=" (or "&code=") when entry_url is
 * set, else the origin of url + "/_sekisho/enter?code=". -1 when it does not fit
 * or a URL is not http(s).
 */
int admit_entry_url(const char *url, const char *entry_url, const char *code,
                    char *out, size_t n);
/* "scheme://host[:port]" of an http(s) URL. -1 when it is not one or does not fit. */
int admit_origin(const char *url, char *out, size_t n);
const char *admit_outcome_str(int outcome);
/*
 * 0 when a client at ip can use svc: it has a guard of ip's address family
 * (or none at all: the hook guards nothing by address). Otherwise the family
 * its guards use (AF_INET or AF_INET6): an admission from ip would open
 * nothing the client can reach.
 */
int admit_family_needed(const struct store_service *svc, const struct addr *ip);
/* After a right r has ended (r->end_reason set): revoke in ipfd (later if it fails), audit, count. */
void admit_ended(struct store *st, struct fwc *fw, const struct store_right *r, const char *actor,
                 int64_t now);

/* ---- portal.c ---- */

/*
 * Admits the authenticated user u to svc (through the waiting room when it
 * is on) and answers: the entry redirect, the waiting page, or why not.
 * Starts a portal login for u when the request has none. Returns an LR_.
 */
int portal_admit(struct req *q, const struct store_user *u, const struct store_service *svc);
/*
 * Answers a login whose check gave result (an authn_result; l the check, NULL
 * when it never began): the admission on AUTHN_OK, else the form or page
 * that says why. Returns an LR_.
 */
int portal_login_answer(struct req *q, const char *user, const struct store_service *svc,
                        const struct authn_login *l, int result, int retry);

/* ---- queue.c ---- */

/*
 * The service's waiting room rules into r: its own settings (svc->queue),
 * and the [authd] keys where it has none. NULL when the waiting room is off
 * for the service.
 */
const struct store_queue_rules *queue_rules(const struct conf_authd *c,
                                            const struct store_service *svc,
                                            struct store_queue_rules *r);
/*
 * Removes the places of service (service_id) not polled for lapse_s
 * (store_queue_lapse): each is logged and audited by its user (queue.lapse,
 * by actor) and counted in the metrics. Places polled since now - lapse_s
 * are never touched. Returns how many lapsed, -1 when the store failed (logged).
 */
int queue_lapse(struct store *st, int64_t service_id, const char *service, int64_t now,
                int lapse_s, const char *actor);
/* 503 with Retry-After: a new user past the service's admission rate. */
void queue_rate(struct req *q, const struct store_service *svc, const struct admit_out *out);
/* The waiting page for out->place (200, refreshing itself to GET /queue). */
void queue_page(struct req *q, const struct store_service *svc, const struct admit_out *out);
/* 503 with Retry-After: the service and its line are full. */
void queue_full(struct req *q, const struct store_service *svc, const struct admit_out *out);
/* GET /queue?service=NAME (needs the portal login). */
void queue_poll(struct req *q);

/* ---- fw.c ---- */

/* enabled == 0: every call succeeds without ipfd (database-only set-ups). */
struct fwc *fwc_new(const char *socket_path, int timeout_ms, int enabled);
void fwc_free(struct fwc *f);
void fwc_set_timeout(struct fwc *f, int timeout_ms);
int fwc_enabled(const struct fwc *f);
/* One request, waiting for ipfd's reply. 0 when ipfd answered IPC_OK; -1 with err. */
int fwc_call(struct fwc *f, int type, int64_t right_id, int64_t service_id,
             char *err, size_t errlen);
/* Queues a request nobody waits for; a notifier thread sends it at once and retries. */
void fwc_later(struct fwc *f, int type, int64_t right_id, int64_t service_id);
void fwc_revoke_later(struct fwc *f, int64_t right_id);
/* ipfd's counters; 0 or -1 with err. */
int fwc_status(struct fwc *f, struct ipc_stats *st, char *err, size_t errlen);

/* ---- throttle.c ---- */

#define THROTTLE_FORGET_S 86400          /* failures older than this count no more */

struct throttle_params {
	int ip_burst;                        /* failed checks per client address before 429 */
	int user_burst;                      /* failed checks per (account, source) before backoff */
	int account_burst;                   /* per account, before unknown sources must wait */
	int refill_s;                        /* an address's check comes back; the first backoff */
	int backoff_max_s;                   /* the longest backoff */
	int checks_per_s;                    /* failed password checks per second, all clients */
	int known_days;                      /* a known source or device cookie lasts this long */
};

enum throttle_result { THROTTLE_FAILED, THROTTLE_OK, THROTTLE_CANCEL };

enum {
	THROTTLE_NO_IP     = 1,              /* the client's address bucket does not apply */
	THROTTLE_NO_GLOBAL = 2,              /* the global bucket does not apply */
};

/* A reservation from throttle_begin, settled by throttle_done. */
struct throttle_ticket {
	int took_ip, took_global;
};

/* The throttle's settings from the [authd] section. */
void throttle_params_conf(const struct conf *c, struct throttle_params *p);
/* slots: client addresses remembered at most. now_ms: the clock the caller will use. */
struct throttle *throttle_new(int slots, const struct throttle_params *p, int64_t now_ms);
void throttle_free(struct throttle *t);
void throttle_set(struct throttle *t, const struct throttle_params *p);
/*
 * Reserves one password check for ip and the global bucket (flags: which do
 * not apply) at now_ms. 0: go ahead and settle with throttle_done. -1: too
 * many failures, *retry_s is when one comes back.
 */
int throttle_begin(struct throttle *t, const char *ip, int flags, int64_t now_ms,
                   struct throttle_ticket *tk, int *retry_s);
/* What throttle_begin would say, without reserving or remembering anything. */
int throttle_check(struct throttle *t, const char *ip, int flags, int64_t now_ms, int *retry_s);
/* FAILED keeps the reservation; OK and CANCEL give it back. */
void throttle_done(struct throttle *t, const char *ip, int result, int64_t now_ms,
                   const struct throttle_ticket *tk);
/* Client addresses remembered now. */
int throttle_entries(struct throttle *t);
/*
 * Seconds (unix clock) a source or account with failures, the latest at
 * last_at, must still wait at now: none below burst; then refill_s, doubled
 * by each further failure, at most backoff_max_s. Failures older than
 * THROTTLE_FORGET_S count no more.
 */
int throttle_backoff_s(const struct throttle_params *p, int failures, int burst, int64_t last_at,
                       int64_t now);

/* ---- lockout.c ---- */

/* Who is trying, as the per-account throttle sees it. */
struct lockout_src {
	char source[LOCK_SOURCE_MAX + 1];    /* the known device, else the client address */
	char device[LOCK_SOURCE_MAX + 1];    /* the device cookie the client brought, or "" */
	int flags;                           /* THROTTLE_NO_* for the in-memory buckets */
	int trusted;                         /* a device or address the user logged in from */
};

/* A login check in two halves around its hash, for a hash that is not waited for. */
struct authn_login {
	char account_buf[NAME_MAX_LEN + 1];
	const char *account;                 /* account_buf when the name is valid, else NULL */
	int found;                           /* the account exists */
	struct store_user u;
	struct lockout_src src;
	struct hash_check c;                 /* what the hash worker checks (c.pw: the caller's) */
};
/* Throttle, lockout, look-up and plan: AUTHN_OK to go on to the hash with l->c, else the answer. */
int authn_prepare(struct req *q, struct store *st, const char *name, const char *pw,
                  struct authn_login *l, int *retry_s);
/* After the hash's result: sources, lockout, rehash (st NULL: req_store). The result, maybe changed. */
int authn_finish(struct req *q, struct store *st, struct authn_login *l, const char *pw,
                 int result);


/* Finds the source of a login to account by q (device cookie, known address). 0 or -1 store down. */
int lockout_source(struct req *q, struct store *st, const char *account, struct lockout_src *src);
/*
 * Counts one failure for (account, source) before the password check, unless
 * the source's backoff or (untrusted sources) the account's is running: then
 * 1 with *retry_s. 0 go ahead; -1 store down.
 */
int lockout_begin(struct store *st, const struct throttle_params *p, const char *account,
                  const struct lockout_src *src, int64_t now, int *retry_s);
/* After the check: AUTHN_OK clears the source and remembers it; BAD keeps; else gives back. */
void lockout_settle(struct req *q, struct store *st, const char *account,
                    const struct lockout_src *src, int result);

/* ---- sweeper.c ---- */

struct sweeper *sweeper_start(struct authd *a, char *err, size_t errlen);
void sweeper_stop(struct sweeper *s);
/* One sweep now (also what the thread runs). Returns rights ended, -1 store down. */
int sweeper_run_once(struct authd *a, struct store *st, int64_t now);
/*
 * Lapses the stale places (queue_lapse, audited by "sweeper") of at most max
 * services under a waiting room, taken in list order from the *from-th;
 * *from then names where the next call goes on (0 once the walk reached
 * the end). Returns the places lapsed, -1 when the store failed (logged;
 * *from unchanged, the next call tries again).
 */
int sweeper_lapse(struct store *st, const struct conf_authd *c, int64_t now, int max, int *from);

/* ---- probe.c, probe_io.c ---- */

struct buf;
struct prober;
/*
 * The prober thread (docs/adaptive.md): probes every service that has a
 * probe, decides its health and (cap_mode adaptive) its effective cap, and
 * writes changes to the service row, which admission reads. Never on the
 * request path: the portal only reads the row.
 */
struct prober *prober_start(struct authd *a, char *err, size_t errlen);
void prober_stop(struct prober *p);
/* Per-service series for GET /metrics: health, effective cap, probe latency, transitions. */
void prober_metrics(struct prober *p, struct buf *b);
/*
 * One probe as a state machine on a non-blocking socket, so the prober polls
 * every service's probe at once. probe_start begins it (PROBE_PENDING, or
 * PROBE_MISS at once); while pending, poll c->fd for probe_events(c) and
 * pass what came back (0 on a poll timeout) to probe_advance, which returns
 * PROBE_OK (TCP connect, or HTTP 2xx), PROBE_MISS (refused, bad status, or
 * past the timeout) or PROBE_PENDING. Once done, c->latency_us is the
 * latency (the timeout on a miss) and the socket is closed. probe_abort
 * closes a pending one.
 */
#define PROBE_READ_MAX 512       /* enough for any status line */
enum { PROBE_MISS = -1, PROBE_PENDING = 0, PROBE_OK = 1 };

struct probe_conn {
	int     fd;                  /* -1 when none */
	int     step;                /* 0: done (or not started) */
	int     http, ok, timeout_ms;
	int64_t t0_us, deadline_us, latency_us;
	char    req[PROBE_URL_MAX + GUARD_STR_MAX + 96];
	size_t  req_len, sent, have;
	char    buf[PROBE_READ_MAX + 1];
	char   *page;                /* probe_fetch: the whole answer goes here ... */
	size_t  page_max, page_len;  /* ... up to page_max bytes (more: a miss) */
};

int probe_start(struct probe_conn *c, const struct probe_target *t, int timeout_ms);
short probe_events(const struct probe_conn *c);
int probe_advance(struct probe_conn *c, short revents, int64_t now_us);
void probe_abort(struct probe_conn *c);
/*
 * probe_start for a GET whose whole answer (at most max bytes, else a miss)
 * is read into page: PROBE_OK when it says 2xx, and probe_body then gives
 * its body (NULL when there is no header end).
 */
int probe_fetch(struct probe_conn *c, const struct probe_target *t, int timeout_ms, char *page,
                size_t max);
const char *probe_body(const struct probe_conn *c, size_t *len);

/* One probe, waiting for it: 0 when the service answered, else -1 (a miss). */
int probe_once(const struct probe_target *t, int timeout_ms, int64_t *latency_us);

/* ---- metrics.c ---- */

enum login_result {
	LR_ADMITTED, LR_BAD_CREDENTIALS, LR_THROTTLED, LR_CAP, LR_NO_SERVICE,
	LR_UNAVAILABLE, LR_BAD_REQUEST, LR_FORBIDDEN, LR_QUEUED, LR_WRONG_FAMILY,
	LR_SERVICE_DOWN, LR_RATE, LR_MAX
};

void ametrics_login(int result, double seconds);
void ametrics_admission(int outcome, double seconds);
void ametrics_sweep(int ok);
void ametrics_end(int reason);
void ametrics_csrf_rejected(void);
/* The waiting room: places lapsed; a user admitted after waiting seconds in line. */
void ametrics_queue_lapsed(int n);
void ametrics_queue_wait(double seconds);
/* metrics_svc.c: per-service series (one table of them) and ipfd's counters. */
void ametrics_service_login(const char *service, int result);
const char *ametrics_login_name(int result);
void ametrics_put_services(struct req *q, struct buf *b);

#endif
