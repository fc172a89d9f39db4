#ifndef SEKISHO_STORE_PG_INT_H
#define SEKISHO_STORE_PG_INT_H

/*
 * Private to the PostgreSQL backend (store_pg*.c, the only includers of
 * libpq-fe.h). One struct pgs is one connection. Every value goes in as a
 * bound parameter (struct pgq): numbers and text as text, bytes as binary.
 * Results come back as text.
 *
 * Writes that end rights, change services or keys, or check a rule over
 * several rows (the last root) run in a transaction begun by pg_begin(p, 1),
 * which first takes the writers' advisory lock exclusively: such writers run
 * one at a time, and not while an admission (which takes it shared, in
 * admit()) is under way. Admissions do not wait for each other except on
 * their service's row. The change log needs no writers' order: entries are
 * numbered when a reader publishes them (feed_publish(), sql/pg/011,
 * docs/scaleout.md).
 *
 * A lost connection fails the call in progress (STORE_UNAVAILABLE); the next
 * call outside a transaction reconnects, checks the schema again and starts
 * without the subscription to change notifications (the follower resyncs).
 */

#include <libpq-fe.h>

#include "store_int.h"

#define PGQ_MAX 32     /* STORE_COPY_COLS_MAX: the widest row store_copy writes */

/* The writers' lock (sql/pg/011_feed_publish.sql names the same key). */
#define PG_WRITERS_LOCK "hashtext('sekisho.writers')"
/* Change notifications: pg_ring sends them, store_wait listens. */
#define PG_CHANNEL "sekisho_changes"

struct pgs {
	struct store base;
	PGconn      *conn;
	int          version;
	int          lock_ms;      /* conf busy_timeout_ms: longest wait for a lock */
	int          in_txn;
	int          listening;    /* LISTEN sekisho_changes is active on conn */
	int          ring;         /* the open transaction is a writer's: pg_commit rings */
};

/* Bound parameters $1..$n of one statement. */
struct pgq {
	const char *v[PGQ_MAX];
	int         len[PGQ_MAX];
	int         fmt[PGQ_MAX];
	char        num[PGQ_MAX][24];
	int         n;
};

/* Rights collected while a transaction runs, handed to a callback after commit. */
struct pg_rights {
	struct store_right *v;
	size_t n, cap;
};

/* Columns of a right as pg_read_right() reads them, from rights (unaliased). */
#define PG_RIGHT_COLS \
	"id, sid, user_id, user_name, service_id, service_name, ip, " \
	"created_at, expires_at, last_seen, " \
	"last_seen + 60 * coalesce((SELECT v.max_interval_min FROM services v " \
	"WHERE v.id = rights.service_id), 0), coalesce(ended_at, 0), end_reason, " \
	"(EXISTS (SELECT 1 FROM users u WHERE u.id = rights.user_id " \
	"AND u.name = rights.user_name AND u.disabled = 0) AND " \
	"EXISTS (SELECT 1 FROM services v WHERE v.id = rights.service_id AND v.enabled = 1))::int"
#define PG_RIGHT_NCOLS 14

/* Columns of a service as pg_service_read() reads them, from services. */
#define PG_SERVICE_COLS \
	"id, name, url, entry_url, max_usage_min, max_interval_min, cap, admin_id, " \
	"coalesce((SELECT u.name FROM users u WHERE u.id = services.admin_id), ''), " \
	"enabled, active, created_at, updated_at, " SERVICE_LOAD_COLS

static inline struct pgs *
pg_of(struct store *s)
{
	return (struct pgs *)s;
}

/* Session settings after (re)connecting; checks the schema version did not move. */
int pg_session(struct pgs *p);

void pgq_int(struct pgq *q, int64_t x);
void pgq_text(struct pgq *q, const char *t);
void pgq_bytes(struct pgq *q, const void *b, size_t n);
void pgq_addr(struct pgq *q, const struct addr *a);

/*
 * Runs sql with q (may be NULL). On STORE_OK *res holds the result (caller
 * PQclear()s it; res may be NULL to drop it). A taken unique key is
 * STORE_EXISTS, a missing referenced row STORE_NOTFOUND, a broken check
 * STORE_INVALID; anything else (lost connection, lock timeout, deadlock)
 * STORE_UNAVAILABLE, with s->err naming what failed.
 */
int pg_exec(struct pgs *p, const char *sql, const struct pgq *q, PGresult **res,
            const char *what);
/* The same for a statement without rows; *changed (may be NULL) gets the rows it changed. */
int pg_run(struct pgs *p, const char *sql, const struct pgq *q, int *changed, const char *what);

/*
 * Wakes the followers after a commit that may have appended to the change
 * log: NOTIFY in a transaction of its own, committed without waiting for its
 * WAL flush (a NOTIFY holds a lock global to the server until its commit
 * ends; a hint need not survive a crash). Errors are ignored: a lost
 * wake-up costs a follower its fallback poll, never a change.
 */
void pg_ring(struct pgs *p);

int pg_begin(struct pgs *p, int write);
int pg_commit(struct pgs *p);
void pg_rollback(struct pgs *p);
/* Commits when rc is STORE_OK, else rolls back; returns rc or the commit's failure. */
int pg_finish(struct pgs *p, int rc);

int64_t pg_i64(const PGresult *r, int row, int col);
void pg_text(const PGresult *r, int row, int col, char *dst, size_t n);
/* A bytea column into dst (at most max bytes); returns its length, -1 when malformed. */
int pg_bytes(const PGresult *r, int row, int col, uint8_t *dst, size_t max);
void pg_addr(const PGresult *r, int row, int col, struct addr *a);
void pg_read_right(const PGresult *r, int row, int col, struct store_right *out);

/* Appends the rights of res (PG_RIGHT_COLS) to out, when out is not NULL. */
int pg_rights_add(struct pgs *p, const PGresult *res, struct pg_rights *out);
/* Calls fn on each collected right until it returns non-zero; frees them. */
void pg_rights_deliver(struct pg_rights *rs, store_right_fn fn, void *arg);
/* One write transaction running one all-integer UPDATE ... RETURNING PG_RIGHT_COLS. */
int pg_end_txn(struct pgs *p, const char *sql, const struct pgq *q, struct pg_rights *out,
               int *n);

/* Backend operations, by file. */
int pg_user_add(struct store *, const char *, int, const char *, int64_t, int64_t *);
int pg_user_add_external(struct store *, const char *, const char *, int64_t, int64_t *);
int pg_user_get(struct store *, const char *, int64_t, struct store_user *);
int pg_user_list(struct store *, store_user_fn, void *);
int pg_user_set_password(struct store *, int64_t, const char *);
int pg_user_rehash(struct store *, int64_t, const char *, const char *);
int pg_user_set_role(struct store *, int64_t, int);
int pg_user_set_disabled(struct store *, int64_t, int, int64_t);
int pg_user_del(struct store *, int64_t, int64_t);
int pg_login_put(struct store *, const char *, int64_t, const char *, int64_t, int64_t);
int pg_login_get(struct store *, const char *, int64_t, int, struct store_login *);
int pg_login_del(struct store *, const char *);

int pg_service_add(struct store *, const struct store_service *, int, int64_t, int64_t *);
int pg_service_get(struct store *, const char *, int64_t, struct store_service *);
int pg_service_list(struct store *, int64_t, store_service_fn, void *);
int pg_service_update(struct store *, const struct store_service *, int, int64_t);
int pg_service_del(struct store *, int64_t, int64_t);
int pg_service_set_load(struct store *, int64_t, const struct service_load *);
int pg_service_set_health(struct store *, int64_t, int, int);
int pg_lease_take(struct store *, const char *, const char *, int64_t, int, int *);
/* Reads the services of res (PG_SERVICE_COLS) with their guards into an array. */
int pg_services_load(struct pgs *p, PGresult *res, struct store_service **out, size_t *n);

int pg_group_add(struct store *, const char *, int64_t, int64_t *);
int pg_group_get(struct store *, const char *, int64_t, struct store_group *);
int pg_group_del(struct store *, int64_t);
int pg_group_list(struct store *, int64_t, store_group_fn, void *);
int pg_group_members(struct store *, int64_t, store_user_fn, void *);
int pg_group_member(struct store *, int64_t, int64_t, int);
int pg_acl_restrict(struct store *, int64_t, int);
int pg_acl_entry(struct store *, int64_t, int, int64_t, int);
int pg_acl_list(struct store *, int64_t, int *, store_acl_fn, void *);
int pg_acl_allows(struct store *, int64_t, int64_t);

/* Fills a from the first 11 columns of admit() or queue_admit() (sql/pg/). */
void pg_admit_read(const PGresult *r, const struct addr *ip, int64_t now, const char *sid,
                   struct store_admission *a);
int pg_queue_admit(struct store *, int64_t, int64_t, const struct addr *, int64_t,
                   const struct store_queue_rules *, struct store_admission *,
                   struct store_place *);
int pg_queue_leave(struct store *, int64_t, int64_t, int *);
int pg_queue_len(struct store *, int64_t, int *, int64_t *);
int pg_queue_places(struct store *, int64_t, struct store_qplace *, int, int *);
int pg_queue_lapse(struct store *, int64_t, int64_t, int,
                   int (*)(const struct store_qplace *, void *), void *, int *);
int pg_service_set_queue(struct store *, int64_t, const struct service_queue *);
int pg_admit(struct store *, int64_t, int64_t, const struct addr *, int64_t,
             struct store_admission *);
int pg_end(struct store *, int64_t, int, int64_t, struct store_right *);
int pg_end_user(struct store *, int64_t, int64_t, int, int64_t, store_right_fn, void *);
int pg_touch(struct store *, const int64_t *, const int64_t *, size_t);
int pg_sweep(struct store *, int64_t, store_right_fn, void *, int *);
int pg_code_put(struct store *, const char *, int64_t, int64_t);
int pg_code_take(struct store *, const char *, const struct addr *, const char *, int64_t,
                 struct store_right *);

int pg_right_get(struct store *, int64_t, const char *, struct store_right *);
int pg_rights_get(struct store *, const int64_t *, size_t, store_right_fn, void *);
int pg_right_list(struct store *, int64_t, int64_t, store_right_fn, void *);
int pg_ip_rights(struct store *, int64_t, const struct addr *, store_right_fn, void *);
int pg_snapshot(struct store *, int64_t, store_service_fn, store_right_fn, void *, int64_t *);
int pg_changes(struct store *, int64_t, int, int (*)(const struct store_change *, void *), void *);
int pg_wait(struct store *, int, int *);

int pg_lockout_state(struct store *, const char *, const char *, struct store_lockout *,
                     struct store_lockout *);
int pg_lockout_fail(struct store *, const char *, const char *, int64_t, int64_t);
int pg_lockout_refund(struct store *, const char *, const char *, int);
int pg_lockout_clear(struct store *, const char *, const char *, int *);
int pg_lockout_list(struct store *, const char *, store_lockout_fn, void *);
int pg_known_add(struct store *, const char *, const char *, int64_t);
int pg_known_has(struct store *, const char *, const char *, int64_t);

int pg_key_add(struct store *, const struct store_key *);
int pg_key_list(struct store *, int64_t, struct store_key *, int, int *);
int pg_key_del_expired(struct store *, int64_t, int *);
int pg_tls_key_add(struct store *, const struct store_key *, int64_t, int *);
int pg_tls_key_list(struct store *, int64_t, struct store_key *, int, int *);
int pg_tls_key_del_expired(struct store *, int64_t, int *);
int pg_tls_key_activate(struct store *, uint32_t, int64_t, int64_t);
int pg_audit(struct store *, int64_t, const char *, const char *, const char *, const char *,
             const char *);
int pg_audit_list(struct store *, const struct store_audit_filter *,
                  int (*)(const struct store_audit *, void *), void *);
int pg_prune(struct store *, int64_t, int *);
int pg_stats(struct store *, struct store_stats *);

#endif
