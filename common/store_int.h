#ifndef SEKISHO_STORE_INT_H
#define SEKISHO_STORE_INT_H

/*
 * Private to the store: the backend vtable. store.c checks and bounds every
 * argument before dispatching, so backends receive valid names, lengths and
 * ranges and only have to speak their database. Each operation returns an
 * enum store_rc and leaves a one-line reason in s->err when it fails.
 *
 * Callbacks (fn) are called outside any open statement of the backend only
 * where store.h says "after commit"; elsewhere they run while the backend is
 * reading and must not call into the same struct store.
 */

#include "migrate.h"
#include "net.h"
#include "store.h"

#define STORE_ERR_MAX 256
#define STORE_FORBID_MAX (CONF_LIST_MAX + 4)   /* db.guard_forbid and the daemons' 4 listeners */

typedef int (*store_right_fn)(const struct store_right *, void *);
/*
 * The load columns of a service (sql/007_load.sql, 012_gauge.sql), after the base columns of
 * each backend's service column list, in this order.
 */
#define SERVICE_LOAD_COLS \
	"probe, probe_interval_ms, probe_timeout_ms, probe_down_after, probe_up_after, " \
	"cap_mode, cap_min, latency_target_ms, health, cap_effective, " SERVICE_QUEUE_COLS \
	", " SERVICE_GAUGE_COLS
/* The waiting room and rate columns (sql/010_queue_service.sql), after the load columns. */
#define SERVICE_QUEUE_COLS "queue_mode, queue_max, queue_lapse_s, rate_per_min"
/* The gauge columns (sql/012_gauge.sql), after the queue columns. */
#define SERVICE_GAUGE_COLS "gauge_url, gauge_metric, gauge_target_milli"

typedef int (*store_service_fn)(const struct store_service *, void *);
typedef int (*store_user_fn)(const struct store_user *, void *);
typedef int (*store_lockout_fn)(const struct store_lockout *, void *);
typedef int (*store_group_fn)(const struct store_group *, void *);
typedef int (*store_acl_fn)(const struct store_acl_entry *, void *);

struct store_ops {
	void (*close)(struct store *);
	int (*version)(struct store *);
	int (*maintain)(struct store *);

	int (*user_add)(struct store *, const char *name, int role, const char *pwhash,
	                int64_t now, int64_t *id);
	int (*user_add_external)(struct store *, const char *name, const char *source, int64_t now,
	                         int64_t *id);
	int (*user_get)(struct store *, const char *name, int64_t id, struct store_user *);
	int (*user_list)(struct store *, store_user_fn, void *);
	int (*user_set_password)(struct store *, int64_t id, const char *pwhash);
	int (*user_rehash)(struct store *, int64_t id, const char *old_hash, const char *new_hash);
	int (*user_set_role)(struct store *, int64_t id, int role);
	int (*user_set_disabled)(struct store *, int64_t id, int disabled, int64_t now);
	int (*user_del)(struct store *, int64_t id, int64_t now);

	/*
	 * Both refuse (STORE_INVALID) a guard that overlaps another service's, and
	 * service_update refuses guards other than the stored ones unless
	 * actor_role is ROLE_ROOT; checked inside the write transaction.
	 */
	int (*service_add)(struct store *, const struct store_service *, int actor_role,
	                   int64_t now, int64_t *id);
	int (*service_get)(struct store *, const char *name, int64_t id, struct store_service *);
	int (*service_list)(struct store *, int64_t admin_id, store_service_fn, void *);
	int (*service_update)(struct store *, const struct store_service *, int actor_role,
	                      int64_t now);
	int (*service_del)(struct store *, int64_t id, int64_t now);
	int (*service_set_load)(struct store *, int64_t id, const struct service_load *);
	int (*service_set_queue)(struct store *, int64_t id, const struct service_queue *);
	int (*service_set_health)(struct store *, int64_t id, int health, int cap_effective);
	int (*lease_take)(struct store *, const char *name, const char *holder, int64_t now_ms,
	                  int ttl_ms, int *held);

	int (*group_add)(struct store *, const char *name, int64_t now, int64_t *id);
	int (*group_get)(struct store *, const char *name, int64_t id, struct store_group *);
	int (*group_del)(struct store *, int64_t id);
	int (*group_list)(struct store *, int64_t user_id, store_group_fn, void *);
	int (*group_members)(struct store *, int64_t group_id, store_user_fn, void *);
	int (*group_member)(struct store *, int64_t group_id, int64_t user_id, int add);
	int (*acl_restrict)(struct store *, int64_t service_id, int restricted);
	int (*acl_entry)(struct store *, int64_t service_id, int kind, int64_t member_id, int add);
	int (*acl_list)(struct store *, int64_t service_id, int *restricted, store_acl_fn, void *);
	int (*acl_allows)(struct store *, int64_t service_id, int64_t user_id);

	int (*admit)(struct store *, int64_t user_id, int64_t service_id, const struct addr *ip,
	             int64_t now, struct store_admission *);
	int (*queue_admit)(struct store *, int64_t user_id, int64_t service_id,
	                   const struct addr *ip, int64_t now, const struct store_queue_rules *,
	                   struct store_admission *, struct store_place *);
	int (*queue_leave)(struct store *, int64_t user_id, int64_t service_id, int *n);
	int (*queue_len)(struct store *, int64_t service_id, int *n, int64_t *oldest);
	int (*queue_places)(struct store *, int64_t service_id, struct store_qplace *out, int max,
	                    int *n);
	int (*queue_lapse)(struct store *, int64_t service_id, int64_t now, int lapse_s,
	                   int (*fn)(const struct store_qplace *, void *), void *arg, int *n);
	int (*end)(struct store *, int64_t right_id, int reason, int64_t now, struct store_right *);
	int (*end_user)(struct store *, int64_t user_id, int64_t service_id, int reason,
	                int64_t now, store_right_fn, void *);
	int (*right_get)(struct store *, int64_t id, const char *sid, struct store_right *);
	int (*right_list)(struct store *, int64_t service_id, int64_t user_id, store_right_fn, void *);
	/* ids sorted ascending, distinct, 0 < n <= RIGHTS_GET_MAX (store.c checks). */
	int (*rights_get)(struct store *, const int64_t *ids, size_t n, store_right_fn, void *);
	int (*ip_rights)(struct store *, int64_t service_id, const struct addr *ip,
	                 store_right_fn fn, void *arg);
	int (*touch)(struct store *, const int64_t *ids, const int64_t *seen, size_t n);
	int (*sweep)(struct store *, int64_t now, store_right_fn, void *, int *n);
	int (*prune)(struct store *, int64_t before, int *n);
	int (*snapshot)(struct store *, int64_t now, store_service_fn, store_right_fn, void *,
	                int64_t *seq);
	int (*changes)(struct store *, int64_t after, int max,
	               int (*fn)(const struct store_change *, void *), void *);
	/* NULL: the backend cannot notify; store_wait sleeps timeout_ms instead. */
	int (*wait)(struct store *, int timeout_ms, int *woken);

	int (*code_put)(struct store *, const char *code_hash, int64_t right_id, int64_t expires_at);
	int (*code_take)(struct store *, const char *code_hash, const struct addr *ip,
	                 const char *service, int64_t now, struct store_right *);

	int (*login_put)(struct store *, const char *id_hash, int64_t user_id, const char *csrf,
	                 int64_t now, int64_t expires_at);
	int (*login_get)(struct store *, const char *id_hash, int64_t now, int idle_s,
	                 struct store_login *);
	int (*login_del)(struct store *, const char *id_hash);

	int (*lockout_state)(struct store *, const char *name, const char *source,
	                     struct store_lockout *pair, struct store_lockout *acct);
	int (*lockout_fail)(struct store *, const char *name, const char *source, int64_t now,
	                    int64_t since);
	int (*lockout_refund)(struct store *, const char *name, const char *source, int clear_source);
	int (*lockout_clear)(struct store *, const char *name, const char *source, int *n);
	int (*lockout_list)(struct store *, const char *name, store_lockout_fn, void *);
	int (*known_add)(struct store *, const char *name, const char *source, int64_t now);
	int (*known_has)(struct store *, const char *name, const char *source, int64_t since);

	int (*key_add)(struct store *, const struct store_key *);
	int (*key_list)(struct store *, int64_t now, struct store_key *, int max, int *n);
	int (*key_del_expired)(struct store *, int64_t now, int *n);
	int (*tls_key_add)(struct store *, const struct store_key *, int64_t unless_from, int *added);
	int (*tls_key_list)(struct store *, int64_t now, struct store_key *, int max, int *n);
	int (*tls_key_del_expired)(struct store *, int64_t now, int *n);
	int (*tls_key_activate)(struct store *, uint32_t kid, int64_t activates_at, int64_t expires_at);

	int (*audit)(struct store *, int64_t now, const char *actor, const char *action,
	             const char *service, const char *target, const char *detail);
	int (*audit_list)(struct store *, const struct store_audit_filter *,
	                  int (*fn)(const struct store_audit *, void *), void *);
	int (*stats)(struct store *, struct store_stats *);
};

/* Every backend's connection starts with this. */
struct store {
	const struct store_ops *ops;
	char err[STORE_ERR_MAX];
	unsigned epoch;              /* the backend counts its reconnects here */
	struct net forbid[STORE_FORBID_MAX];   /* no guard may touch these (conf_db) */
	int n_forbid;
};

/* Fills s->err; returns rc so a backend can write "return store_fail(s, rc, ...)". */
int store_fail(struct store *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills s->forbid from db (guard_forbid, guard_self). 0 or -1 with err. */
int store_forbid_load(struct store *s, const struct conf_db *db, char *err, size_t errlen);
/* The guards of v among themselves and against s->forbid. STORE_OK or STORE_INVALID. */
int store_guards_check(struct store *s, const struct store_service *v);
/* 1 when a and b hold the same guards, in any order. */
int store_guards_same(const struct store_service *a, const struct store_service *b);

/* Empties s->err (each wrapper starts so); copies s->err to err when rc fails. */
void store_clear(struct store *s);
int store_report(struct store *s, int rc, char *err, size_t errlen);
/* Argument checks the front's files share: text of at most max bytes, a hash
 * key (1..CODE_HASH_LEN lowercase hex digits), an IPv4 or IPv6 address. */
int store_text_ok(const char *t, size_t max);
int store_hash_ok(const char *h);
int store_addr_ok(const struct addr *a);

/* The embedded migrations this build applies, checked to run 1..N without gaps. */
const struct migration *store_migrations(int *n);
/*
 * For tests of the upgrade path only: use m[0..n-1] instead of the embedded
 * migrations (NULL restores them). Not thread-safe; call before store_open.
 */
void store_set_migrations(const struct migration *m, int n);

/*
 * Copying a whole installation from one backend to another (store_copy.c).
 * A table is copied as rows of named cells, every column of the source's
 * table but the derived one, under the same ids. The source runs
 * store_sqlite_export over every table in one read transaction; the target
 * takes the rows between store_pg_import_begin and store_pg_import_end, in
 * one write transaction. The two backends' migrations give a table the same
 * column names, so a column added to both is copied without a change here.
 */
#define STORE_COPY_COLS_MAX 32
#define STORE_COPY_NAME_MAX 63

enum store_cell_type { CELL_NULL, CELL_INT, CELL_TEXT, CELL_BLOB };

struct store_cell {
	int         type;
	int64_t     i;
	const void *p;              /* TEXT (NUL-terminated) or BLOB, valid during the callback */
	size_t      len;
};

struct store_row {
	int               n;
	const char       *name[STORE_COPY_COLS_MAX];   /* [a-z0-9_], checked by the export */
	struct store_cell cell[STORE_COPY_COLS_MAX];
};

struct store_table {
	const char *name;
	const char *order;          /* ORDER BY of the source, so ids and the audit keep their order */
	const char *derived;        /* a column the target's triggers fill (not copied), or NULL */
	int         identity;       /* id is GENERATED in PostgreSQL: written OVERRIDING, set past */
};

typedef int (*store_row_fn)(const struct store_table *, const struct store_row *, void *);

/*
 * Calls fn on every row of t[0..n-1], table by table, in one read transaction.
 * Fails (STORE_INVALID) before any row when the source has a table that is
 * neither in t nor in skip (NULL-terminated): the copy would lose it. In the
 * same transaction, seq[i] gets the last id the source handed out in t[i]
 * (AUTOINCREMENT: it may be past the largest id left), 0 when none.
 */
int store_sqlite_export(struct store *s, const struct store_table *t, int n,
                        const char *const *skip, store_row_fn fn, void *arg, int64_t *seq);
/*
 * Begins the import: a write transaction. A target with rows in any of t is
 * refused (STORE_EXISTS, the table named) unless replace, which deletes them
 * first (through the triggers, so the change log records it). A row naming a
 * column the target lacks fails the import.
 */
int store_pg_import_begin(struct store *s, const struct store_table *t, int n, int replace);
int store_pg_import_row(struct store *s, const struct store_table *t, const struct store_row *r);
/*
 * With rc STORE_OK: sets every identity past the copied ids and past seq[i]
 * (the source's last id handed out in t[i], so no id is handed out again),
 * writes the audit row a (id ignored) and commits. Otherwise rolls back and
 * returns rc.
 */
int store_pg_import_end(struct store *s, const struct store_table *t, int n,
                        const int64_t *seq, const struct store_audit *a, int rc);

struct store *store_sqlite_open(const struct conf_db *db, int flags, char *err, size_t errlen);
struct store *store_pg_open(const struct conf_db *db, int flags, char *err, size_t errlen);

#endif
