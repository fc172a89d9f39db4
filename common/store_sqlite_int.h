#ifndef SEKISHO_STORE_SQLITE_INT_H
#define SEKISHO_STORE_SQLITE_INT_H

/*
 * Private to the SQLite backend (store_sqlite*.c, the only includers of
 * sqlite3.h). One struct sq is one connection with its own statement cache.
 *
 * Statements are named by their SQL text, a static string next to the code
 * that runs it: sq_stmt() prepares it once per connection and hands it back
 * reset. Whoever steps a statement resets it when done, so no read stays open
 * behind the caller's back. Every value goes in through a bound parameter.
 */

#include <sqlite3.h>
#include <stdatomic.h>

#include "store_int.h"

#define SQ_CACHE_SLOTS 128

struct sq_wlock;

struct sq_slot {
	const char   *sql;
	sqlite3_stmt *st;
};

struct sq {
	struct store      base;
	sqlite3          *db;
	int               version;
	int               busy_ms;     /* conf busy_timeout_ms: longest wait for a write turn */
	struct sq_wlock  *wlock;       /* this process's queue of writers to the file */
	int               writing;     /* holds its turn in wlock */
	struct sq_slot    cache[SQ_CACHE_SLOTS];
};

/* Rights collected while a transaction runs, handed to a callback after commit. */
struct sq_rights {
	struct store_right *v;
	size_t n, cap;
};

/*
 * Columns of a right as sq_read_right() reads them. Unqualified, so the same
 * list serves "SELECT ... FROM rights" and "UPDATE rights ... RETURNING"
 * (which can neither join nor use an alias).
 */
#define SQ_RIGHT_COLS \
	"id, sid, user_id, user_name, service_id, service_name, ip, " \
	"created_at, expires_at, last_seen, " \
	"last_seen + 60 * coalesce((SELECT v.max_interval_min FROM services v " \
	"WHERE v.id = rights.service_id), 0), coalesce(ended_at, 0), end_reason, " \
	"EXISTS (SELECT 1 FROM users u WHERE u.id = rights.user_id " \
	"AND u.name = rights.user_name AND u.disabled = 0) AND " \
	"EXISTS (SELECT 1 FROM services v WHERE v.id = rights.service_id AND v.enabled = 1)"

/* Columns of a service as sq_services_load() reads them, from services. */
#define SQ_SERVICE_COLS \
	"id, name, url, entry_url, max_usage_min, max_interval_min, cap, admin_id, " \
	"(SELECT u.name FROM users u WHERE u.id = services.admin_id), enabled, active, " \
	"created_at, updated_at, " SERVICE_LOAD_COLS

static inline struct sq *
sq_of(struct store *s)
{
	return (struct sq *)s;
}

/* The cached statement for sql, reset; NULL with s->err set when it cannot be prepared. */
sqlite3_stmt *sq_stmt(struct sq *q, const char *sql);
/* Maps an SQLite result to a store rc (busy, I/O, ... are STORE_UNAVAILABLE) with s->err. */
int sq_fail(struct sq *q, int rc, const char *what);
/* Steps st and maps anything but SQLITE_ROW/SQLITE_DONE through sq_fail. */
int sq_step(struct sq *q, sqlite3_stmt *st, const char *what, int *row);

/*
 * Transactions. A write transaction first waits for this thread's turn among
 * the process's writers to the file (sq_wlock), then takes SQLite's write lock
 * up front (BEGIN IMMEDIATE), so it never fails half-way because another
 * writer got there first. Every write, even of one statement, runs in one.
 */
int sq_begin(struct sq *q, int write);
int sq_commit(struct sq *q);
void sq_rollback(struct sq *q);
/* Commits when rc is STORE_OK, else rolls back; returns rc or the commit's failure. */
int sq_finish(struct sq *q, int rc);
/* Begins a write transaction and hands back the cached statement for sql. */
int sq_begin_stmt(struct sq *q, const char *sql, sqlite3_stmt **st);

struct sq_wlock;
/* The writers' queue of the database file at path (shared by its connections). */
struct sq_wlock *sq_wlock_get(const char *path, char *err, size_t errlen);
void sq_wlock_put(struct sq_wlock *w);
void sq_wlock_acquire(struct sq_wlock *w);
void sq_wlock_release(struct sq_wlock *w);
/* The file's write-ahead log as this process's commits and maintenance saw it. */
struct sq_wal {
	atomic_int frames;         /* log length after the last commit */
	_Atomic int64_t copied_ms; /* last checkpoint, monotonic ms; 0: none yet */
};
struct sq_wal *sq_wlock_wal(struct sq_wlock *w);

/* Binds args[0..n-1] to ?1..?n. */
void sq_bind_ints(sqlite3_stmt *st, const int64_t *args, int n);
void sq_bind_addr(sqlite3_stmt *st, int idx, const struct addr *a);
void sq_bind_text(sqlite3_stmt *st, int idx, const char *t);

/* Runs an all-integer statement to completion; *changed gets the rows it changed. */
int sq_run(struct sq *q, const char *sql, const int64_t *args, int n, int *changed);
/* One integer from an all-integer query; STORE_NOTFOUND when it has no row. */
int sq_int(struct sq *q, const char *sql, const int64_t *args, int n, int64_t *out);

void sq_col_text(sqlite3_stmt *st, int col, char *dst, size_t n);
void sq_col_addr(sqlite3_stmt *st, int col, struct addr *a);
void sq_read_right(sqlite3_stmt *st, int col, struct store_right *r);

/*
 * Runs st (an UPDATE ... RETURNING SQ_RIGHT_COLS, parameters bound) and appends
 * every ended right to out (when out is not NULL); *n counts them.
 */
int sq_end_rows(struct sq *q, sqlite3_stmt *st, struct sq_rights *out, int *n);
/* The same as a transaction of its own, for an all-integer statement sql. */
int sq_end_txn(struct sq *q, const char *sql, const int64_t *args, int nargs,
               struct sq_rights *out, int *n);
/* Calls fn on each collected right until it returns non-zero; frees them. */
void sq_rights_deliver(struct sq_rights *rs, store_right_fn fn, void *arg);

/* Backend operations, by file. */
int sq_user_add(struct store *, const char *, int, const char *, int64_t, int64_t *);
int sq_user_add_external(struct store *, const char *, const char *, int64_t, int64_t *);
int sq_user_get(struct store *, const char *, int64_t, struct store_user *);
int sq_user_list(struct store *, store_user_fn, void *);
int sq_user_set_password(struct store *, int64_t, const char *);
int sq_user_rehash(struct store *, int64_t, const char *, const char *);
int sq_user_set_role(struct store *, int64_t, int);
int sq_user_set_disabled(struct store *, int64_t, int, int64_t);
int sq_user_del(struct store *, int64_t, int64_t);
int sq_login_put(struct store *, const char *, int64_t, const char *, int64_t, int64_t);
int sq_login_get(struct store *, const char *, int64_t, int, struct store_login *);
int sq_login_del(struct store *, const char *);

int sq_lockout_state(struct store *, const char *, const char *, struct store_lockout *,
                     struct store_lockout *);
int sq_lockout_fail(struct store *, const char *, const char *, int64_t, int64_t);
int sq_lockout_refund(struct store *, const char *, const char *, int);
int sq_lockout_clear(struct store *, const char *, const char *, int *);
int sq_lockout_list(struct store *, const char *, store_lockout_fn, void *);
int sq_known_add(struct store *, const char *, const char *, int64_t);
int sq_known_has(struct store *, const char *, const char *, int64_t);

int sq_service_add(struct store *, const struct store_service *, int, int64_t, int64_t *);
int sq_service_get(struct store *, const char *, int64_t, struct store_service *);
int sq_service_list(struct store *, int64_t, store_service_fn, void *);
int sq_service_update(struct store *, const struct store_service *, int, int64_t);
int sq_service_del(struct store *, int64_t, int64_t);
int sq_service_set_load(struct store *, int64_t, const struct service_load *);
int sq_service_set_health(struct store *, int64_t, int, int);
int sq_lease_take(struct store *, const char *, const char *, int64_t, int, int *);
/* Reads the services matching st (SQ_SERVICE_COLS, bound) with their guards into an array. */
int sq_services_load(struct sq *q, sqlite3_stmt *st, struct store_service **out, size_t *n);

int sq_group_add(struct store *, const char *, int64_t, int64_t *);
int sq_group_get(struct store *, const char *, int64_t, struct store_group *);
int sq_group_del(struct store *, int64_t);
int sq_group_list(struct store *, int64_t, store_group_fn, void *);
int sq_group_members(struct store *, int64_t, store_user_fn, void *);
int sq_group_member(struct store *, int64_t, int64_t, int);
int sq_acl_restrict(struct store *, int64_t, int);
int sq_acl_entry(struct store *, int64_t, int, int64_t, int);
int sq_acl_list(struct store *, int64_t, int *, store_acl_fn, void *);
int sq_acl_allows(struct store *, int64_t, int64_t);

int sq_admit(struct store *, int64_t, int64_t, const struct addr *, int64_t,
             struct store_admission *);
/* store_admit's steps inside the caller's write transaction (store_sqlite_rights.c). */
int sq_admit_steps(struct sq *q, int64_t user_id, int64_t service_id, const struct addr *ip,
                   int64_t now, struct store_admission *a,
                   int (*decide)(struct sq *, void *, const struct store_admission *, int room),
                   void *arg, int *admitted);
int sq_queue_admit(struct store *, int64_t, int64_t, const struct addr *, int64_t,
                   const struct store_queue_rules *, struct store_admission *,
                   struct store_place *);
int sq_queue_leave(struct store *, int64_t, int64_t, int *);
int sq_queue_len(struct store *, int64_t, int *, int64_t *);
int sq_queue_places(struct store *, int64_t, struct store_qplace *, int, int *);
int sq_queue_lapse(struct store *, int64_t, int64_t, int,
                   int (*)(const struct store_qplace *, void *), void *, int *);
int sq_service_set_queue(struct store *, int64_t, const struct service_queue *);
int sq_end(struct store *, int64_t, int, int64_t, struct store_right *);
int sq_end_user(struct store *, int64_t, int64_t, int, int64_t, store_right_fn, void *);
int sq_touch(struct store *, const int64_t *, const int64_t *, size_t);
int sq_sweep(struct store *, int64_t, store_right_fn, void *, int *);
int sq_code_put(struct store *, const char *, int64_t, int64_t);
int sq_code_take(struct store *, const char *, const struct addr *, const char *, int64_t,
                 struct store_right *);

int sq_right_get(struct store *, int64_t, const char *, struct store_right *);
int sq_rights_get(struct store *, const int64_t *, size_t, store_right_fn, void *);
int sq_right_list(struct store *, int64_t, int64_t, store_right_fn, void *);
int sq_ip_rights(struct store *, int64_t, const struct addr *, store_right_fn, void *);
int sq_snapshot(struct store *, int64_t, store_service_fn, store_right_fn, void *, int64_t *);
int sq_changes(struct store *, int64_t, int, int (*)(const struct store_change *, void *), void *);

int sq_key_add(struct store *, const struct store_key *);
int sq_key_list(struct store *, int64_t, struct store_key *, int, int *);
int sq_key_del_expired(struct store *, int64_t, int *);
int sq_tls_key_add(struct store *, const struct store_key *, int64_t, int *);
int sq_tls_key_list(struct store *, int64_t, struct store_key *, int, int *);
int sq_tls_key_del_expired(struct store *, int64_t, int *);
int sq_tls_key_activate(struct store *, uint32_t, int64_t, int64_t);
int sq_audit(struct store *, int64_t, const char *, const char *, const char *, const char *,
             const char *);
int sq_audit_list(struct store *, const struct store_audit_filter *,
                  int (*)(const struct store_audit *, void *), void *);
int sq_prune(struct store *, int64_t, int *);
int sq_stats(struct store *, struct store_stats *);

#endif
