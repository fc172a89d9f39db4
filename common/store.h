#ifndef SEKISHO_STORE_H
#define SEKISHO_STORE_H

/*
 * The session database, by meaning: users, services, access rights, keys,
 * entry codes, portal logins, audit and the change log. Callers never see SQL.
 *
 * Backends: SQLite (conf db.path) and PostgreSQL (conf db.url), behind the
 * same functions (store.c bounds the arguments, then dispatches through
 * struct store_ops). The contract below is what every backend guarantees and
 * what callers may rely on; tests/unit/store_contract.c checks it against
 * each backend.
 *
 * Threads: a struct store is one connection and is used by one thread at a
 * time. A multi-threaded daemon opens one per thread. Callbacks (fn) must not
 * call into the struct store that is calling them.
 *
 * Time: every function that decides by time takes `now` (unix seconds) from
 * the caller, so tests control the clock.
 *
 * Results: functions return an enum store_rc. err, when given, receives one
 * line for the log or the operator.
 *
 * THE CONTRACT
 *
 * 1. Admission is atomic against the cap across every connection, process
 *    and host using the same database: store_admit's reap, replace, count and
 *    insert happen as one step, so no interleaving of admissions (from any
 *    number of authd processes) leaves more than cap live rights on a service
 *    at any commit, and a denial is only given when cap live, unexpired,
 *    non-idle rights exist at that moment.
 *
 * 2. Business rules are the backend's to keep, in the same transaction as the
 *    change that moves them, never left to the caller:
 *    - store_service.active is the number of live rights (ended_at unset) of
 *      the service, exactly, after every commit;
 *    - a right is expired when expires_at <= now and idle when
 *      last_seen + 60 * max_interval_min <= now (the service's current
 *      interval); idle_deadline = last_seen + 60 * max_interval_min; expiry
 *      wins when both hold;
 *    - at most one live right per user and service (a new admission ends the
 *      old one, END_REPLACED);
 *    - the last enabled root can be neither demoted, disabled nor deleted,
 *      checked in the transaction that would do it, so two operators cannot
 *      each remove "the other" root;
 *    - ids of users, services, rights and changes are never reused.
 *
 * 3. The change feed (store_changes; cid and ipfd follow it): every committed
 *    change of what a follower mirrors (a right admitted or ended, a service
 *    added, changed or deleted, the key ring changed) appends one entry in the
 *    same transaction. seq is assigned so that
 *    - a reader that has seen seq n sees every entry below n, and no entry
 *      will ever get a seq < n: a committed entry not yet seen gets a higher
 *      number (SQLite numbers entries in commit order; PostgreSQL numbers
 *      them when a reader publishes them, after they commit);
 *    - seq is gap-free: a rolled-back transaction takes no number, so entries
 *      are n, n+1, n+2, ... without holes.
 *    A follower that saw seq n and next reads m > n + 1 therefore knows the
 *    entries between were pruned (store_prune, older than the retention) and
 *    must take a new snapshot; it never has to guess whether a gap will fill.
 *    An entry names a right or a service, not its state: followers re-read
 *    what it names, so applying an entry twice does no harm.
 *
 * 4. Snapshots are consistent with a change position: store_snapshot reads
 *    every service and usable right in one read view and reports in *seq the
 *    last change committed in that view. Following the feed from *seq after
 *    applying the snapshot misses nothing and at worst repeats.
 *
 * 5. Unavailable means fail closed. STORE_UNAVAILABLE: the store could not
 *    answer (locked too long, I/O error, schema mismatch, connection lost,
 *    server down). Nothing was decided: the caller admits nobody, opens
 *    nothing and says so. A connection lost mid-transaction commits nothing
 *    the caller was told about; the next call on the same struct store tries
 *    to reconnect, and store_epoch() counts the reconnects so followers know
 *    to resync.
 *
 * 6. Schema versions: a backend records the version of the last migration
 *    applied and refuses (store_open fails, naming both versions) a schema
 *    older or newer than this build's unless asked to migrate, and never
 *    downgrades.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"

#define NAME_MAX_LEN   32    /* user and service names: [A-Za-z0-9._-], 1..32 */
#define URL_MAX_LEN    512
#define HASH_MAX_LEN   160   /* self-describing password hash string */
#define SID_HEX_LEN    32    /* 16 random bytes as hex */
#define GUARDS_MAX     16    /* guarded endpoints per service */
#define AUDIT_TEXT_MAX 256
#define KEY_SECRET_LEN 32
#define KEYRING_MAX    8
#define CODE_HASH_LEN  64    /* hex SHA-256 of an entry code or login id */
#define CSRF_MAX_LEN   64

enum store_rc {
	STORE_OK = 0,
	STORE_DENIED,        /* admission refused: the service's cap is reached */
	STORE_NOTFOUND,      /* no such user / service / right / code */
	STORE_EXISTS,        /* a unique name is taken */
	STORE_INVALID,       /* refused by a rule: bad field, last root, disabled service, ... */
	STORE_UNAVAILABLE,   /* the store could not answer: fail closed */
	STORE_QUEUED,        /* store_queue_admit: the user holds a place in line */
};

/* A short human word for rc ("ok", "denied", ...). */
const char *store_rc_str(int rc);

enum role { ROLE_USER = 0, ROLE_ADMIN = 1, ROLE_ROOT = 2 };

/* Where a user's password is checked (docs/identity.md). */
enum user_source { SOURCE_LOCAL = 0, SOURCE_PAM = 1, SOURCE_LDAP = 2 };
const char *source_str(int source);     /* "local", "pam", "ldap" */
int source_parse(const char *s);        /* -1 when unknown */
/* The password hash of an external account: matches no password. */
#define PWHASH_EXTERNAL "!"
const char *role_str(int role);
int role_parse(const char *s);          /* -1 when unknown */

/* Valid user/service name: 1..NAME_MAX_LEN of [A-Za-z0-9._-], not starting with '.' or '-'. */
int name_valid(const char *s);

struct store_user {
	int64_t id;
	char    name[NAME_MAX_LEN + 1];
	int     role;                        /* enum role */
	char    pwhash[HASH_MAX_LEN + 1];
	int     disabled;
	int64_t created_at;
	int     source;                      /* enum user_source */
};

/* How a service's load is watched (docs/adaptive.md); zeroes are the defaults. */
#define PROBE_URL_MAX  URL_MAX_LEN
#define GAUGE_METRIC_MAX 200           /* a gauge's series selector */
enum cap_mode { CAP_FIXED = 0, CAP_ADAPTIVE = 1 };
struct service_load {
	char    probe[PROBE_URL_MAX + 1];    /* "" none, http://HOST[:PORT]/PATH, tcp://HOST:PORT */
	int     interval_ms, timeout_ms;     /* 1000, 500 */
	int     down_after, up_after;        /* 3 misses, 2 answers */
	int     cap_mode;                    /* enum cap_mode */
	int     cap_min;                     /* adaptive: the effective cap's floor */
	int     target_ms;                   /* adaptive: probe latency target (200) */
	char    gauge_url[PROBE_URL_MAX + 1];        /* "" none, http://ADDR[:PORT]/PATH */
	char    gauge_metric[GAUGE_METRIC_MAX + 1];  /* name, or name{label="value",...} */
	double  gauge_target;                /* the gauge's value at the service's limit */
	                                     /* (stored in thousandths: 0.001 .. 1e12) */
};

/*
 * A service's waiting room and admission rate (sql/010_queue_service.sql).
 * The waiting room's settings at their "unset" value (mode -1, max 0,
 * lapse_s 0) take the [authd] keys queue, queue_max, queue_lapse_s.
 */
enum queue_mode { QUEUE_DEFAULT = -1, QUEUE_OFF = 0, QUEUE_ON = 1 };
#define RATE_MAX_PER_MIN  100000
#define QUEUE_LAPSE_MIN_S 10
#define QUEUE_LAPSE_MAX_S 86400
struct service_queue {
	int     mode;                        /* enum queue_mode */
	int     max;                         /* places in line, 0..QUEUE_MAX_PLACES (0: default) */
	int     lapse_s;                     /* 0 (default) or QUEUE_LAPSE_MIN_S..QUEUE_LAPSE_MAX_S */
	int     rate_per_min;                /* new admissions in any 60 s, 0..RATE_MAX_PER_MIN (0: none) */
};

struct store_service {
	int64_t id;
	char    name[NAME_MAX_LEN + 1];
	char    url[URL_MAX_LEN + 1];        /* where users are sent after entry */
	char    entry_url[URL_MAX_LEN + 1];  /* "" = <origin of url>/_sekisho/enter */
	int     max_usage_min;               /* absolute lifetime of a right */
	int     max_interval_min;            /* longest idle gap */
	int     cap;                         /* admitted users at once */
	int64_t admin_id;
	char    admin_name[NAME_MAX_LEN + 1];
	int     enabled;
	int     n_guards;
	struct guard guards[GUARDS_MAX];
	int     active;                      /* live rights now (filled by get/list) */
	int64_t created_at, updated_at;
	struct service_load load;            /* probe and cap mode (store_service_set_load) */
	int     health;                      /* enum health_state, the prober's verdict */
	int     cap_effective;               /* what admission compares against; -1 = cap */
	struct service_queue queue;          /* waiting room and rate (store_service_set_queue) */
};

/* Why a right ended. */
enum end_reason {
	END_NONE = 0, END_EXPIRED, END_IDLE, END_LOGOUT, END_RELEASED, END_REVOKED,
	END_REPLACED, END_SERVICE_DELETED, END_SERVICE_DISABLED, END_USER_DISABLED,
	END_ROLLBACK,                        /* ipfd did not confirm; admission undone */
};
const char *end_reason_str(int reason);

/* An access right: one user admitted to one service from one IP. */
struct store_right {
	int64_t id;
	char    sid[SID_HEX_LEN + 1];        /* random id named by the cookie */
	int64_t user_id;
	char    user_name[NAME_MAX_LEN + 1];
	int64_t service_id;
	char    service_name[NAME_MAX_LEN + 1];
	struct addr ip;
	int64_t created_at;
	int64_t expires_at;                  /* created + max usage time */
	int64_t last_seen;
	int64_t idle_deadline;               /* last_seen + max interval (filled on read) */
	int64_t ended_at;                    /* 0 while live */
	int     end_reason;                  /* enum end_reason */
	int     vouched;                     /* 1: its user (by id and name) exists and is enabled,
	                                        and its service exists and is enabled (filled on read) */
};

/* What store_admit did. */
struct store_admission {
	struct store_right right;            /* the new right (on STORE_OK) */
	int     replaced;                    /* 1: the user's previous right here was ended */
	int64_t replaced_id;
	struct addr replaced_ip;
	int     reaped;                      /* rights of this service found expired/idle and ended */
	int     active;                      /* live rights of the service after the decision */
	int     cap;                         /* the effective cap the count was compared against */
	int     down;                        /* 1: refused because the service is down */
	int     rate;                        /* 1: refused because the admission rate is spent */
	int64_t rate_next;                   /* rate: when the rate next has room (epoch s) */
};

struct store_key {
	uint32_t kid;
	uint8_t  secret[KEY_SECRET_LEN];
	int64_t  created_at;
	int64_t  activates_at;               /* signs from here on (the newest active one signs) */
	int64_t  expires_at;                 /* verifies until here */
};

struct store_login {                         /* a portal/admin login */
	int64_t user_id;
	char    user_name[NAME_MAX_LEN + 1];
	int     role;
	char    csrf[CSRF_MAX_LEN + 1];
	int64_t created_at, expires_at, last_seen;
};

struct store_audit {
	int64_t id;
	int64_t at;
	char    actor[NAME_MAX_LEN + 1];     /* user name, "sweeper", "sekishoctl", "-" */
	char    action[32];                  /* "admit", "deny", "end", "service.add", ... */
	char    service[NAME_MAX_LEN + 1];   /* "" when none */
	char    target[NAME_MAX_LEN + 1];    /* the user acted upon, "" when none */
	char    detail[AUDIT_TEXT_MAX + 1];
};

struct store_audit_filter {
	const char *service;                 /* NULL = any */
	const char *user;                    /* actor or target; NULL = any */
	int64_t before_id;                   /* 0 = newest first; else rows with id < before_id */
	int     limit;                       /* 1..1000 */
};

/* One entry of the change log that followers (ipfd, cid) replay. */
enum change_kind { CHANGE_ADMIT = 1, CHANGE_END, CHANGE_SERVICE, CHANGE_KEYS };
struct store_change {
	int64_t seq;
	int     kind;                        /* enum change_kind */
	int64_t service_id;                  /* 0 when not about one service */
	int64_t right_id;                    /* 0 when not about one right */
};

struct store_stats {
	int64_t users, services, live_rights, ended_rights, audit_rows, last_seq;
	int     schema_version;
};

struct store;

/* ---- opening ---- */

enum { STORE_OPEN_CREATE = 1,   /* create the file if missing */
       STORE_OPEN_MIGRATE = 2,  /* bring an older schema up to date */
       STORE_OPEN_READONLY = 4 }; /* never write (SQLite: the file, though its -shm index
                                     still is; PostgreSQL: give the role SELECT only) */

/*
 * Opens the store the config names. Without STORE_OPEN_MIGRATE a schema older
 * or newer than this build understands is refused (NULL, err says which
 * versions and to run "sekishoctl migrate").
 */
struct store *store_open(const struct conf_db *db, int flags, char *err, size_t errlen);
void store_close(struct store *s);
/*
 * How many times this connection was re-established (contract 5). A follower
 * that sees it change takes a new snapshot before following the log again:
 * the server it reached may be a promoted standby whose log is not the one
 * it followed.
 */
unsigned store_epoch(struct store *s);
/* Schema version this build understands; the open store's version. */
int store_schema_version(void);
int store_version(struct store *s);

/*
 * Housekeeping kept off the request path. On SQLite: flushes the write-ahead
 * log to disk (commits do not flush it: a power loss takes what was committed
 * since the last call), and copies the log into the database when it has
 * grown long or a minute has passed (a checkpoint that blocks neither readers
 * nor writers). A commit checkpoints by itself only when the log has grown
 * very long, so a writing daemon (authd) calls this from a background thread
 * every 100 ms; any connection to the database will do. Cheap when there is
 * nothing to do.
 */
int store_maintain(struct store *s);

/* ---- users ---- */

int store_user_add(struct store *s, const char *name, int role, const char *pwhash,
                   int64_t now, int64_t *id, char *err, size_t errlen);
/*
 * An account of an external source (SOURCE_PAM, SOURCE_LDAP) at its first
 * successful login: role user, password hash PWHASH_EXTERNAL.
 */
int store_user_add_external(struct store *s, const char *name, int source, int64_t now,
                            int64_t *id, char *err, size_t errlen);
int store_user_get(struct store *s, const char *name, struct store_user *u);
int store_user_get_id(struct store *s, int64_t id, struct store_user *u);
/* Calls fn for each user by name; fn returns non-zero to stop. */
int store_user_list(struct store *s, int (*fn)(const struct store_user *, void *), void *arg);
/* Also ends every portal/admin login of the user: an old session dies with the old password. */
int store_user_set_password(struct store *s, int64_t id, const char *pwhash);
/*
 * The same password hashed anew (stronger parameters): replaces the hash only
 * while it is still old_hash (STORE_NOTFOUND otherwise: the user is gone or
 * the password was changed meanwhile) and, being the same password, ends no
 * login.
 */
int store_user_rehash(struct store *s, int64_t id, const char *old_hash, const char *new_hash);
/* Refuses (STORE_INVALID) to demote or disable the last enabled root. */
int store_user_set_role(struct store *s, int64_t id, int role, char *err, size_t errlen);
/* Disabling ends the user's live rights (END_USER_DISABLED) and portal logins. */
int store_user_set_disabled(struct store *s, int64_t id, int disabled, int64_t now,
                            char *err, size_t errlen);
/*
 * Refuses the last root and a user who still administers services (err names
 * them). Ends the user's live rights (END_USER_DISABLED), which keep the name.
 */
int store_user_del(struct store *s, int64_t id, int64_t now, char *err, size_t errlen);

/* ---- services ---- */

/*
 * Guards (the firewall's scope) are root's. store_service_add and
 * store_service_update take the role of whoever acts (ROLE_ADMIN or
 * ROLE_ROOT; sekishoctl, which holds the database itself, acts as root) and
 * refuse with STORE_INVALID and err saying why:
 *   - guards set or changed by anyone but root (an admin's edit must carry
 *     the stored guards unchanged, in any order);
 *   - a guard overlapping a guard of another service: the same address with
 *     the same port, or either port 0 (every port);
 *   - a guard repeating or covering another guard of the same service;
 *   - a guard inside conf db.guard_forbid (client-side networks, the
 *     gateway's own addresses) or on authd's or cid's listen endpoint.
 */

/* Fields from svc (id, active, admin_name, timestamps ignored). */
int store_service_add(struct store *s, const struct store_service *svc, int actor_role,
                      int64_t now, int64_t *id, char *err, size_t errlen);
int store_service_get(struct store *s, const char *name, struct store_service *svc);
int store_service_get_id(struct store *s, int64_t id, struct store_service *svc);
/* admin_id > 0: only that admin's services. Ordered by name. */
int store_service_list(struct store *s, int64_t admin_id,
                       int (*fn)(const struct store_service *, void *), void *arg);
/*
 * Replaces every editable field of svc->id. Live rights keep their expiry;
 * a lower cap does not evict anyone (it only stops new admissions).
 * Disabling ends the service's live rights (END_SERVICE_DISABLED).
 */
int store_service_update(struct store *s, const struct store_service *svc, int actor_role,
                         int64_t now, char *err, size_t errlen);
/*
 * Sets how the service's load is watched (svc->load; checked by
 * service_load_check). Going back to a fixed cap clears the effective cap;
 * removing the probe marks the service up. Admitted rights are never touched.
 */
int store_service_set_load(struct store *s, int64_t id, const struct service_load *load,
                           char *err, size_t errlen);
/*
 * Sets the service's waiting room and admission rate (bounds in struct
 * service_queue; STORE_INVALID with a reason otherwise). Places already in
 * line and admitted rights are not touched.
 */
int store_service_set_queue(struct store *s, int64_t id, const struct service_queue *sq,
                            char *err, size_t errlen);
/* 0 when sq is within its bounds, else -1 with a reason (for forms and the CLI). */
int service_queue_check(const struct service_queue *sq, char *err, size_t errlen);
/*
 * The prober's verdict: health (enum health_state) and the effective cap
 * (-1 = the configured cap), read by the next admission. Lowering the cap
 * ends no right: it only stops admitting. Not a change followers mirror.
 */
int store_service_set_health(struct store *s, int64_t id, int health, int cap_effective);
/*
 * A lease (e.g. "prober": which gateway probes): taken when free, expired
 * (expires_ms <= now_ms) or already held by holder, then held until
 * now_ms + ttl_ms. *held: 1 when holder has it now, else 0. Times are wall
 * clock ms, so gateways sharing a store need clocks in step (NTP) to well
 * under ttl_ms.
 */
#define LEASE_HOLDER_MAX 128
int store_lease_take(struct store *s, const char *name, const char *holder, int64_t now_ms,
                     int ttl_ms, int *held);
/* Ends its live rights (END_SERVICE_DELETED), keeps them for audit, removes the service. */
int store_service_del(struct store *s, int64_t id, int64_t now, char *err, size_t errlen);

/* ---- groups and access lists ---- */

/*
 * A service is open to every enabled user (restricted = 0, the default) or,
 * restricted, only to the users its list names directly or through a group.
 * The list is checked before any admission (common/admission.c); changing it
 * does not end rights already given. Deleting a user, group or service drops
 * its memberships and list entries.
 */
struct store_group {
	int64_t id;
	char    name[NAME_MAX_LEN + 1];      /* the same rule as user names */
	int     members;
	int64_t created_at;
};

enum acl_kind { ACL_USER = 1, ACL_GROUP = 2 };
struct store_acl_entry {
	int     kind;                        /* enum acl_kind */
	int64_t id;                          /* the user's or the group's */
	char    name[NAME_MAX_LEN + 1];
};

int store_group_add(struct store *s, const char *name, int64_t now, int64_t *id,
                    char *err, size_t errlen);
/* By name (id ignored) or, name NULL, by id. */
int store_group_get(struct store *s, const char *name, int64_t id, struct store_group *g);
int store_group_del(struct store *s, int64_t id, char *err, size_t errlen);
/* Groups by name; user_id > 0: only the groups that user is in. */
int store_group_list(struct store *s, int64_t user_id,
                     int (*fn)(const struct store_group *, void *), void *arg);
/* Members of a group by name. */
int store_group_members(struct store *s, int64_t group_id,
                        int (*fn)(const struct store_user *, void *), void *arg);
/*
 * add: puts user_id in group_id (STORE_OK when already there); else takes it
 * out (STORE_NOTFOUND when it was not there). STORE_NOTFOUND when either is gone.
 */
int store_group_member(struct store *s, int64_t group_id, int64_t user_id, int add,
                       char *err, size_t errlen);

int store_acl_restrict(struct store *s, int64_t service_id, int restricted,
                       char *err, size_t errlen);
/* The same contract as store_group_member, for a user or group on a service's list. */
int store_acl_entry(struct store *s, int64_t service_id, int kind, int64_t member_id, int add,
                    char *err, size_t errlen);
/* *restricted and the list: users by name, then groups by name. */
int store_acl_list(struct store *s, int64_t service_id, int *restricted,
                   int (*fn)(const struct store_acl_entry *, void *), void *arg);
/*
 * STORE_OK when user_id may use service_id (open, or listed directly or
 * through a group), STORE_DENIED when not, STORE_NOTFOUND without such a
 * service; one read.
 */
int store_acl_allows(struct store *s, int64_t service_id, int64_t user_id);

/* ---- access rights ---- */

/*
 * The admission, one atomic step: within one write transaction, end this
 * service's rights that are past expiry or idle (counted in a->reaped), end the
 * user's own live right on this service (a->replaced, its id and IP), count the
 * live rights, and insert a new one if fewer than cap: expires_at = now +
 * max usage time, last_seen = now, a fresh random sid.
 * STORE_OK (a->right filled), STORE_DENIED (cap; nothing written),
 * STORE_NOTFOUND (no such enabled service or user), STORE_UNAVAILABLE.
 *
 * The admission rate (contract 10, every backend): on a service with
 * queue.rate_per_min R > 0, a NEW admission (the user replaces no live right
 * of theirs on the service) is allowed only while fewer than R new
 * admissions were made in the last 60 s (at > now - 60), counted in the same
 * transaction, so R is exact across gateways. Past it: STORE_DENIED with
 * a->rate set and a->rate_next = when enough of them have left the window
 * for one more (the oldest's leaving; later when R was lowered since);
 * nothing written. The cap is checked first (a full service says a->rate 0).
 * A replacement is neither refused by the rate nor counted in it.
 */
int store_admit(struct store *s, int64_t user_id, int64_t service_id,
                const struct addr *ip, int64_t now, struct store_admission *a);

/*
 * The waiting room. A place in line per (service, user), kept in the store so
 * it holds across restarts and gateways. Contract 6 (every backend):
 *
 *   store_queue_admit runs in the same one-step transaction as store_admit
 *   (SQLite: one write transaction; PostgreSQL: queue_admit(), under the feed
 *   and service row locks), and in it:
 *   - removes the service's places not polled for rules->lapse_s (pl->lapsed);
 *   - ends the service's expired and idle rights, as store_admit;
 *   - free = cap - live rights (the caller's own live right counted as free:
 *     a user who holds a right replaces it and is never queued);
 *   - the caller's position is its place's rank by arrival (1 = head), or
 *     waiting + 1 when it has none;
 *   - position <= free: admitted (store_admit's replace and insert; the place
 *     goes): STORE_OK. So the first `free` places hold reserved slots that a
 *     newcomer cannot take (it ranks behind them), and a reserved slot lapses
 *     with its place when the browser stops polling;
 *   - otherwise, with a place: last_poll = now, STORE_QUEUED; without one:
 *     a new place at the end, STORE_QUEUED, unless rules->max places already
 *     wait: STORE_DENIED (nothing added). A poll never changes the order.
 *   pl->departures counts the service's rights ended in the last
 *   rules->window_s seconds (for an estimate of the wait).
 *   Turns (sql/013_queue_turn.sql): every admission transaction of the
 *   service (store_admit's too) stamps turn_at = now on each of the first k
 *   places that has none, k = free (cap in force - live rights, bounded by
 *   the rate's room now); a place keeps its first turn_at. pl->turn_at is
 *   the caller's place's (0: none), reported on its admission too.
 *   With an admission rate (contract 10), free is at most the new admissions
 *   the rate still allows now: the head waits in line (STORE_QUEUED, place
 *   kept) until the rate has room, and nobody behind it passes it.
 *   store_admit (sekishoctl grant) ignores the queue: an operator's grant
 *   may pass the line but never the cap.
 */
#define QUEUE_MAX_PLACES 1000000

struct store_queue_rules {
	int lapse_s;                         /* a place lapses unpolled this long (1..86400) */
	int max;                             /* places per service (1..1000000) */
	int window_s;                        /* departures counted over (1..86400) */
};

struct store_place {
	int     position;                    /* 1 = next in line; 0 when not queued */
	int     waiting;                     /* places in the service's line after the call */
	int     lapsed;                      /* places removed for not polling */
	int     departures;                  /* rights ended in the last window_s */
	int     joined;                      /* 1: this call gave the place */
	int64_t joined_at;
	int64_t turn_at;                     /* when the place's turn came; 0: not yet */
};

int store_queue_admit(struct store *s, int64_t user_id, int64_t service_id,
                      const struct addr *ip, int64_t now, const struct store_queue_rules *rules,
                      struct store_admission *a, struct store_place *pl);
/* Gives up the user's place on service_id (0: every service). *n (may be NULL): how many. */
int store_queue_leave(struct store *s, int64_t user_id, int64_t service_id, int *n);
/* The service's places and the oldest joined_at (0 when none), lapsed or not. */
int store_queue_len(struct store *s, int64_t service_id, int *n, int64_t *oldest);

/* One place in a service's line, for operators (the admin queue view). */
struct store_qplace {
	int     position;                    /* 1 = head */
	int64_t user_id;
	char    user_name[NAME_MAX_LEN + 1];
	int64_t joined_at, last_poll, turn_at;   /* turn_at 0: not yet */
};
/*
 * The service's places in order, at most max (*n gets how many were
 * filled), lapsed ones included until an operation on the service removes them.
 */
int store_queue_places(struct store *s, int64_t service_id, struct store_qplace *out, int max,
                       int *n);
/*
 * Removes the service's places not polled since now - lapse_s, in one
 * transaction, and hands each removed place to fn after commit (so lapses
 * can be audited by user). *n (may be NULL): how many.
 */
int store_queue_lapse(struct store *s, int64_t service_id, int64_t now, int lapse_s,
                      int (*fn)(const struct store_qplace *, void *), void *arg, int *n);

/* One service's line, for operators (metrics, sekishoctl status). */
struct store_line {
	int64_t service_id;
	char    name[NAME_MAX_LEN + 1];
	int     waiting;
	int64_t oldest;                      /* joined_at of the first in line, 0 when none */
};
/* Every service's line by name, at most max (*n gets how many). */
int store_queue_lines(struct store *s, struct store_line *out, int max, int *n);

/* Ends one live right with reason. STORE_NOTFOUND when it is not live. out may be NULL. */
int store_end(struct store *s, int64_t right_id, int reason, int64_t now,
              struct store_right *out);
/* Ends every live right of user (all services when service_id == 0); fn sees each. */
int store_end_user(struct store *s, int64_t user_id, int64_t service_id, int reason,
                   int64_t now, int (*fn)(const struct store_right *, void *), void *arg);

/* A right by id or by sid, live or ended, with idle_deadline filled. */
int store_right_get(struct store *s, int64_t id, struct store_right *r);
int store_right_by_sid(struct store *s, const char *sid, struct store_right *r);

/*
 * The rights named by ids[0..n), live or ended, read at one moment (on
 * PostgreSQL one statement, one round trip): fn is called once for each
 * distinct id that names a right, in id order, with idle_deadline and vouched
 * filled; an id naming no right is skipped. n <= RIGHTS_GET_MAX and every id
 * > 0, else STORE_INVALID. On an error fn may have seen some of them: the
 * caller must not take the others to be absent.
 */
#define RIGHTS_GET_MAX 1024
int store_rights_get(struct store *s, const int64_t *ids, size_t n,
                     int (*fn)(const struct store_right *, void *), void *arg);

/* Live rights (service_id 0 = all; user_id 0 = any user), oldest first. */
int store_right_list(struct store *s, int64_t service_id, int64_t user_id,
                     int (*fn)(const struct store_right *, void *), void *arg);

/* Live rights of service_id that use ip (behind NAT there may be several), oldest first. */
int store_ip_rights(struct store *s, int64_t service_id, const struct addr *ip,
                    int (*fn)(const struct store_right *, void *), void *arg);

/*
 * Last-seen refresh, batched: one transaction for n rights; each right's
 * last_seen becomes max(last_seen, seen[i]). Ended rights are left alone.
 */
int store_touch(struct store *s, const int64_t *ids, const int64_t *seen, size_t n);

/*
 * The sweep: end every live right past expiry (END_EXPIRED) or idle past its
 * service's max interval (END_IDLE), in one transaction; fn sees each ended
 * right (after commit). *n gets the count.
 */
int store_sweep(struct store *s, int64_t now,
                int (*fn)(const struct store_right *, void *), void *arg, int *n);

/* Deletes ended rights, audit rows, used codes and old changes older than before. */
int store_prune(struct store *s, int64_t before, int *n);

/*
 * Consistent snapshot of what the firewall should hold: every service (svc_fn;
 * disabled ones too, so their endpoints stay closed) and, after each enabled
 * one, its rights usable at now: live, not past expiry, not idle (right_fn);
 * all in one read transaction.
 * *seq gets the change-log position the snapshot reflects. Either fn may be NULL.
 */
int store_snapshot(struct store *s, int64_t now,
                   int (*svc_fn)(const struct store_service *, void *),
                   int (*right_fn)(const struct store_right *, void *),
                   void *arg, int64_t *seq);

/*
 * Change-log entries with seq > after, oldest first, at most max: committed
 * entries only, gap-free, in the order contract 3 gives.
 */
int store_changes(struct store *s, int64_t after, int max,
                  int (*fn)(const struct store_change *, void *), void *arg);

/*
 * Waits up to timeout_ms for a commit that appended to the change log, so a
 * follower need not poll. Followers: call store_wait once (it subscribes and
 * returns at once), then take the snapshot, then loop { store_changes;
 * store_wait }. *woken (may be NULL) is 1 when the log may have grown: a
 * notification came, or the call (re)subscribed and so cannot know; 0 when
 * the time ran out. Read the log after every return either way. A backend
 * without notifications (SQLite) sleeps timeout_ms and says 1.
 * STORE_UNAVAILABLE when the connection is lost.
 */
int store_wait(struct store *s, int timeout_ms, int *woken);

/* ---- entry codes (authd -> cid handoff) ---- */

/* Stores the hash of a one-time code bound to a live right, valid until expires_at. */
int store_code_put(struct store *s, const char *code_hash, int64_t right_id, int64_t expires_at);
/*
 * Redeems a code from client address ip at the door of service (NULL when the
 * door does not say which service it guards): a code is bound to its right's
 * client address and service.
 *   STORE_OK       consumed (single use, atomically); r is its live right.
 *   STORE_NOTFOUND unknown, used, expired, or its right ended (such a code is
 *                  deleted: it can never become good).
 *   STORE_INVALID  good, but ip is not the right's address or service is not
 *                  its service (err says which): the code is NOT consumed, so
 *                  a stranger cannot burn it for its owner; r is filled for
 *                  the log.
 */
int store_code_take(struct store *s, const char *code_hash, const struct addr *ip,
                    const char *service, int64_t now, struct store_right *r);

/* ---- portal/admin logins ---- */

int store_login_put(struct store *s, const char *id_hash, int64_t user_id, const char *csrf,
                    int64_t now, int64_t expires_at);
/* Live login (not expired, user enabled); refreshes last_seen when idle_s > 0 and not idle. */
int store_login_get(struct store *s, const char *id_hash, int64_t now, int idle_s,
                    struct store_login *l);
int store_login_del(struct store *s, const char *id_hash);

/* ---- login throttle: failure counts and known sources ---- */

#define LOCK_SOURCE_MAX 48   /* a client address, or "d:" and 32 hex of a device cookie hash */
#define LOCK_ACCOUNT    "*"  /* the source of an account's row across every source */

/*
 * Failed logins of one account name from one source (or from all, source
 * LOCK_ACCOUNT). The name need not be a user's. Policy is the caller's
 * (authd/throttle.c): the store only counts.
 */
struct store_lockout {
	char    name[NAME_MAX_LEN + 1];
	char    source[LOCK_SOURCE_MAX + 1];
	int     failures;
	int64_t last_at;                     /* the latest counted failure */
};

/* The rows (name, source) and (name, LOCK_ACCOUNT); absent ones left as the caller set them. */
int store_lockout_state(struct store *s, const char *name, const char *source,
                        struct store_lockout *pair, struct store_lockout *acct);
/*
 * One more failure on both rows, at now, in one transaction. A row whose last
 * failure is older than since counts from zero again.
 */
int store_lockout_fail(struct store *s, const char *name, const char *source, int64_t now,
                       int64_t since);
/*
 * Gives back what store_lockout_fail took: one failure off the account's row,
 * and off the source's row (clear_source: the source's row goes entirely).
 * A row that reaches zero goes.
 */
int store_lockout_refund(struct store *s, const char *name, const char *source,
                         int clear_source);
/* Removes name's rows from source (NULL: every row of name); *n gets how many. */
int store_lockout_clear(struct store *s, const char *name, const char *source, int *n);
/* Rows of name (NULL: everyone's) by name, the account's row first. */
int store_lockout_list(struct store *s, const char *name,
                       int (*fn)(const struct store_lockout *, void *), void *arg);
/* Remembers that user name logged in from source at now (nothing when no such user). */
int store_known_add(struct store *s, const char *name, const char *source, int64_t now);
/* STORE_OK when user name logged in from source at or after since, else STORE_NOTFOUND. */
int store_known_has(struct store *s, const char *name, const char *source, int64_t since);

/* ---- keys ---- */

int store_key_add(struct store *s, const struct store_key *k);
/* Keys with expires_at > now, newest activates_at first, at most max. */
int store_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n);
int store_key_del_expired(struct store *s, int64_t now, int *n);

/*
 * The TLS session-ticket key ring (docs/tls.md), the same shape in its own
 * table. store_tls_key_add adds k only when no key activating at or after
 * unless_from exists, atomically against other gateways; *added gets 1 or 0.
 * store_tls_key_activate moves a key's window (a rotation promotes the key
 * provisioned ahead); STORE_NOTFOUND when kid is not in the ring.
 */
int store_tls_key_add(struct store *s, const struct store_key *k, int64_t unless_from, int *added);
int store_tls_key_list(struct store *s, int64_t now, struct store_key *keys, int max, int *n);
int store_tls_key_del_expired(struct store *s, int64_t now, int *n);
int store_tls_key_activate(struct store *s, uint32_t kid, int64_t activates_at, int64_t expires_at);

/* ---- audit ---- */

int store_audit(struct store *s, int64_t now, const char *actor, const char *action,
                const char *service, const char *target, const char *detail);
int store_audit_list(struct store *s, const struct store_audit_filter *f,
                     int (*fn)(const struct store_audit *, void *), void *arg);

int store_stats(struct store *s, struct store_stats *st);

/* The last error text of this connection (for logs). */
const char *store_error(struct store *s);

#endif
