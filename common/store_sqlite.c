/*
 * SQLite backend: opening, schema migrations, the statement cache and the
 * helpers the other store_sqlite_*.c files share.
 *
 * Every connection runs WAL with synchronous=NORMAL (a commit is durable
 * against a crash of the process at once, and against power loss once
 * store_maintain has flushed the log, within about 100 ms: see below),
 * foreign keys on, and waits at most busy_timeout_ms for a write turn (see
 * sq_begin and store_sqlite_wlock.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "store_sqlite_int.h"

#define BUSY_DEFAULT_MS 5000

static void sq_close(struct store *s);
static int sq_version(struct store *s);
static int sq_maintain(struct store *s);

static const struct store_ops sq_ops = {
	.close = sq_close, .version = sq_version, .maintain = sq_maintain,
	.user_add = sq_user_add, .user_add_external = sq_user_add_external, .user_get = sq_user_get, .user_list = sq_user_list,
	.user_set_password = sq_user_set_password,
	.user_rehash = sq_user_rehash, .user_set_role = sq_user_set_role,
	.user_set_disabled = sq_user_set_disabled, .user_del = sq_user_del,
	.service_add = sq_service_add, .service_get = sq_service_get,
	.service_list = sq_service_list, .service_update = sq_service_update,
	.service_del = sq_service_del,
	.group_add = sq_group_add, .group_get = sq_group_get, .group_del = sq_group_del,
	.group_list = sq_group_list, .group_members = sq_group_members,
	.group_member = sq_group_member, .acl_restrict = sq_acl_restrict,
	.acl_entry = sq_acl_entry, .acl_list = sq_acl_list, .acl_allows = sq_acl_allows,
	.service_set_load = sq_service_set_load,
	.service_set_health = sq_service_set_health,
	.lease_take = sq_lease_take,
	.admit = sq_admit, .queue_admit = sq_queue_admit, .queue_leave = sq_queue_leave,
	.queue_len = sq_queue_len, .queue_places = sq_queue_places,
	.queue_lapse = sq_queue_lapse, .service_set_queue = sq_service_set_queue, .end = sq_end, .end_user = sq_end_user,
	.right_get = sq_right_get, .rights_get = sq_rights_get, .right_list = sq_right_list, .ip_rights = sq_ip_rights,
	.touch = sq_touch, .sweep = sq_sweep, .prune = sq_prune, .snapshot = sq_snapshot,
	.changes = sq_changes,
	.code_put = sq_code_put, .code_take = sq_code_take,
	.login_put = sq_login_put, .login_get = sq_login_get, .login_del = sq_login_del,
	.lockout_state = sq_lockout_state, .lockout_fail = sq_lockout_fail,
	.lockout_refund = sq_lockout_refund, .lockout_clear = sq_lockout_clear,
	.lockout_list = sq_lockout_list, .known_add = sq_known_add, .known_has = sq_known_has,
	.key_add = sq_key_add, .key_list = sq_key_list, .key_del_expired = sq_key_del_expired,
	.tls_key_add = sq_tls_key_add, .tls_key_list = sq_tls_key_list,
	.tls_key_del_expired = sq_tls_key_del_expired, .tls_key_activate = sq_tls_key_activate,
	.audit = sq_audit, .audit_list = sq_audit_list, .stats = sq_stats,
};

int
sq_fail(struct sq *q, int rc, const char *what)
{
	const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return store_fail(&q->base, STORE_UNAVAILABLE,
		                  "store busy: %s: database locked longer than the busy timeout", what);
	case SQLITE_CONSTRAINT:
		return store_fail(&q->base, STORE_INVALID, "store: %s: %s", what, msg);
	default:
		return store_fail(&q->base, STORE_UNAVAILABLE, "store: %s: %s", what, msg);
	}
}

/* Slot of sql in the cache: open addressing on the string's address. */
static struct sq_slot *
slot_of(struct sq *q, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % SQ_CACHE_SLOTS;

	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++) {
		struct sq_slot *sl = &q->cache[(h + i) % SQ_CACHE_SLOTS];
		if (sl->sql == sql || sl->sql == NULL)
			return sl;
	}
	return NULL;
}

sqlite3_stmt *
sq_stmt(struct sq *q, const char *sql)
{
	struct sq_slot *sl = slot_of(q, sql);
	int rc;

	if (!sl) {
		store_fail(&q->base, STORE_UNAVAILABLE, "store: statement cache full");
		return NULL;
	}
	if (sl->st) {
		sqlite3_reset(sl->st);
		return sl->st;
	}
	rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &sl->st, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(q, rc, "prepare");
		sl->st = NULL;
		return NULL;
	}
	sl->sql = sql;
	return sl->st;
}

int
sq_step(struct sq *q, sqlite3_stmt *st, const char *what, int *row)
{
	int rc = sqlite3_step(st);

	*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return STORE_OK;
	rc = sq_fail(q, rc, what);
	sqlite3_reset(st);
	return rc;
}

static const char SQL_BEGIN_WRITE[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_READ[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

static void
turn_done(struct sq *q)
{
	if (q->writing) {
		q->writing = 0;
		sq_wlock_release(q->wlock);
	}
}

/*
 * A read transaction starts its snapshot at its first read; every read in it
 * then sees that one snapshot. A writer's busy timeout counts from the moment
 * it asked, its wait in the queue included: when another process holds the
 * lock, the queued threads all give up about busy_timeout_ms after they came,
 * not one timeout after another.
 */
int
sq_begin(struct sq *q, int write)
{
	int64_t start, left;
	int rc;

	if (!write)
		return sq_run(q, SQL_BEGIN_READ, NULL, 0, NULL);
	start = clock_mono_ms();
	sq_wlock_acquire(q->wlock);
	q->writing = 1;
	left = q->busy_ms - (clock_mono_ms() - start);
	if (left <= 0) {
		turn_done(q);
		return store_fail(&q->base, STORE_UNAVAILABLE,
		                  "store busy: waited %d ms for the writers ahead", q->busy_ms);
	}
	sqlite3_busy_timeout(q->db, (int)left);
	if ((rc = sq_run(q, SQL_BEGIN_WRITE, NULL, 0, NULL)) != STORE_OK)
		turn_done(q);
	return rc;
}

int
sq_commit(struct sq *q)
{
	int rc = sq_run(q, SQL_COMMIT, NULL, 0, NULL);

	if (rc != STORE_OK)
		sq_rollback(q);
	turn_done(q);
	return rc;
}

/* Keeps the error of whatever failed before; a failed rollback adds nothing useful. */
void
sq_rollback(struct sq *q)
{
	sqlite3_stmt *st;

	if (!sqlite3_get_autocommit(q->db) && (st = sq_stmt(q, SQL_ROLLBACK)) != NULL) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	turn_done(q);
}

int
sq_finish(struct sq *q, int rc)
{
	if (rc == STORE_OK)
		return sq_commit(q);
	sq_rollback(q);
	return rc;
}

int
sq_begin_stmt(struct sq *q, const char *sql, sqlite3_stmt **st)
{
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if (!(*st = sq_stmt(q, sql))) {
		sq_rollback(q);
		return STORE_UNAVAILABLE;
	}
	return STORE_OK;
}

void
sq_bind_ints(sqlite3_stmt *st, const int64_t *args, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
}

void
sq_bind_addr(sqlite3_stmt *st, int idx, const struct addr *a)
{
	sqlite3_bind_blob(st, idx, a->bytes, a->family == AF_INET ? 4 : 16, SQLITE_TRANSIENT);
}

void
sq_bind_text(sqlite3_stmt *st, int idx, const char *t)
{
	sqlite3_bind_text(st, idx, t, -1, SQLITE_TRANSIENT);
}

int
sq_run(struct sq *q, const char *sql, const int64_t *args, int n, int *changed)
{
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, args, n);
	do
		rc = sq_step(q, st, sql, &row);
	while (rc == STORE_OK && row);
	if (rc == STORE_OK && changed)
		*changed = sqlite3_changes(q->db);
	sqlite3_reset(st);
	return rc;
}

int
sq_int(struct sq *q, const char *sql, const int64_t *args, int n, int64_t *out)
{
	sqlite3_stmt *st = sq_stmt(q, sql);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_ints(st, args, n);
	if ((rc = sq_step(q, st, sql, &row)) == STORE_OK) {
		if (row)
			*out = sqlite3_column_int64(st, 0);
		else
			rc = STORE_NOTFOUND;
	}
	sqlite3_reset(st);
	return rc;
}

void
sq_col_text(sqlite3_stmt *st, int col, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

void
sq_col_addr(sqlite3_stmt *st, int col, struct addr *a)
{
	const void *b = sqlite3_column_blob(st, col);
	int len = sqlite3_column_bytes(st, col);

	memset(a, 0, sizeof *a);
	if (!b || (len != 4 && len != 16))
		return;
	a->family = len == 4 ? AF_INET : AF_INET6;
	memcpy(a->bytes, b, (size_t)len);
}

void
sq_read_right(sqlite3_stmt *st, int c, struct store_right *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, c);
	sq_col_text(st, c + 1, r->sid, sizeof r->sid);
	r->user_id = sqlite3_column_int64(st, c + 2);
	sq_col_text(st, c + 3, r->user_name, sizeof r->user_name);
	r->service_id = sqlite3_column_int64(st, c + 4);
	sq_col_text(st, c + 5, r->service_name, sizeof r->service_name);
	sq_col_addr(st, c + 6, &r->ip);
	r->created_at = sqlite3_column_int64(st, c + 7);
	r->expires_at = sqlite3_column_int64(st, c + 8);
	r->last_seen = sqlite3_column_int64(st, c + 9);
	r->idle_deadline = sqlite3_column_int64(st, c + 10);
	r->ended_at = sqlite3_column_int64(st, c + 11);
	r->end_reason = sqlite3_column_int(st, c + 12);
	r->vouched = sqlite3_column_int(st, c + 13);
}

static int
rights_push(struct sq_rights *rs, const struct store_right *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct store_right *v = realloc(rs->v, cap * sizeof *v);
		if (!v)
			return -1;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	return 0;
}

int
sq_end_rows(struct sq *q, sqlite3_stmt *st, struct sq_rights *out, int *n)
{
	struct store_right r;
	int rc, row;

	*n = 0;
	while ((rc = sq_step(q, st, "end rights", &row)) == STORE_OK && row) {
		(*n)++;
		if (!out)
			continue;
		sq_read_right(st, 0, &r);
		if (rights_push(out, &r) < 0) {
			rc = store_fail(&q->base, STORE_UNAVAILABLE, "store: out of memory");
			break;
		}
	}
	sqlite3_reset(st);
	return rc;
}

int
sq_end_txn(struct sq *q, const char *sql, const int64_t *args, int nargs,
           struct sq_rights *out, int *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if ((rc = sq_begin_stmt(q, sql, &st)) != STORE_OK)
		return rc;
	sq_bind_ints(st, args, nargs);
	return sq_finish(q, sq_end_rows(q, st, out, n));
}

void
sq_rights_deliver(struct sq_rights *rs, store_right_fn fn, void *arg)
{
	for (size_t i = 0; fn && i < rs->n; i++)
		if (fn(&rs->v[i], arg))
			break;
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->cap = 0;
}

/*
 * Creates a missing database file readable and writable by its owner and
 * group, and nobody else: it holds password hashes, and every daemon of the
 * group opens it (a WAL reader too writes the -shm index). The mode is set
 * whatever the umask; SQLite gives the -wal and -shm files the same mode.
 */
static int
precreate(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);

	if (fd >= 0) {
		if (fchmod(fd, 0660) == 0)
			return close(fd);
		snprintf(err, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

/*
 * Checkpoints belong to store_maintain(), and even there only once the log is
 * long. A checkpoint that copies the whole log lets the next commit start the
 * log afresh, and that commit flushes the new log header to disk: a flush on
 * the commit path (one admission every 60 ms: store_admit p50 0.38 ms without
 * checkpoints, 0.70 ms with one between every two admissions). Copying on the
 * commit path costs that commit milliseconds more (back to back: admission
 * p99 2.2 ms with a commit checkpointing every 1000 pages, 0.8 ms without).
 *
 * So a commit only notes the log's length (wal_committed). store_maintain,
 * called every 100 ms or so by a writing daemon, flushes the log to disk (a
 * power loss takes at most that interval's commits, whoever made them, as
 * when every call checkpointed), and copies the log
 * into the database once it passes WAL_MAINTAIN_PAGES (as this process's
 * commits saw it) or WAL_MAINTAIN_MAX_MS have passed. A commit checkpoints by
 * itself only past WAL_FALLBACK_PAGES, so a store nobody maintains, or one
 * written faster than it is maintained, keeps its log bounded all the same.
 * WAL_KEEP_BYTES is what an emptied log may keep on disk.
 */
#define WAL_MAINTAIN_PAGES  4000         /* 16 MiB of 4 KiB pages */
#define WAL_MAINTAIN_MAX_MS 60000
#define WAL_FALLBACK_PAGES  16000
#define WAL_KEEP_BYTES      "16777216"

static int
wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq_wal *wal = sq_wlock_wal(((struct sq *)arg)->wlock);

	atomic_store(&wal->frames, frames);
	if (frames >= WAL_FALLBACK_PAGES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static int
pragmas(struct sq *q, char *err, size_t errlen)
{
	static const char *const set[] = {
		"PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON",
		"PRAGMA journal_size_limit = " WAL_KEEP_BYTES,
	};
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int ok;

	if (sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	ok = sqlite3_step(st) == SQLITE_ROW && (mode = sqlite3_column_text(st, 0)) != NULL &&
	     strcmp((const char *)mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!ok)
		goto fail;
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
		if (sqlite3_exec(q->db, set[i], NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	sqlite3_wal_hook(q->db, wal_committed, q);
	return 0;
fail:
	snprintf(err, errlen, "cannot set up the database (WAL mode): %s", sqlite3_errmsg(q->db));
	return -1;
}

static const char SQL_USER_VERSION[] = "PRAGMA user_version";
static const char SQL_OBJECTS[] = "SELECT count(*) FROM sqlite_master";

/* Runs one migration in its own write transaction unless someone else just did. */
static int
apply(struct sq *q, const struct migration *m, char *err, size_t errlen)
{
	char setver[48];
	int64_t have = 0;

	if (sq_begin(q, 1) != STORE_OK)
		goto fail;
	if (sq_int(q, SQL_USER_VERSION, NULL, 0, &have) != STORE_OK)
		goto fail;
	if (have >= m->version)
		return sq_commit(q) == STORE_OK ? 0 : -1;
	snprintf(setver, sizeof setver, "PRAGMA user_version = %d", m->version);
	if (sqlite3_exec(q->db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, setver, NULL, NULL, NULL) != SQLITE_OK) {
		sq_fail(q, sqlite3_errcode(q->db), m->name);
		goto fail;
	}
	if (sq_commit(q) != STORE_OK)
		goto fail;
	return 0;
fail:
	sq_rollback(q);
	snprintf(err, errlen, "migration %s failed: %s", m->name, q->base.err);
	return -1;
}

/*
 * Migration numbers rise strictly from 1 (sql/001_init.sql first); a number
 * may be skipped, so a number handed out for work not yet merged leaves a gap
 * rather than a clash. A database at version v gets every migration above v.
 */
static int
migrations_ok(const struct migration *m, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++)
		if (m[i].version <= (i > 0 ? m[i - 1].version : 0) || (i == 0 && m[i].version != 1)) {
			snprintf(err, errlen, "embedded migrations do not rise strictly from 1 (%s)",
			         m[i].name);
			return 0;
		}
	return 1;
}

/* -1 with err when the schema may not be used or migrated as the flags ask; else 0. */
static int
refuse(const char *path, int64_t have, int want, int64_t objects, int flags,
       char *err, size_t errlen)
{
	if (have > want)
		snprintf(err, errlen, "%s has schema version %lld, newer than this build's %d: "
		         "run a newer sekisho (sekishoctl migrate cannot downgrade)",
		         path, (long long)have, want);
	else if (have == 0 && objects > 0)
		snprintf(err, errlen, "%s is not a sekisho database (schema version 0 with tables)",
		         path);
	else if (have == 0 && !(flags & (STORE_OPEN_CREATE | STORE_OPEN_MIGRATE)))
		snprintf(err, errlen, "%s is not initialised (schema version 0, this build needs %d): "
		         "run sekishoctl init or sekishoctl migrate", path, want);
	else if (have > 0 && have < want && !(flags & STORE_OPEN_MIGRATE))
		snprintf(err, errlen, "%s has schema version %lld, this build needs %d: "
		         "run sekishoctl migrate", path, (long long)have, want);
	else
		return 0;
	return -1;
}

static int
schema(struct sq *q, const char *path, int flags, char *err, size_t errlen)
{
	int n;
	const struct migration *m = store_migrations(&n);
	int want = store_schema_version();
	int64_t have = 0, objects = 0;

	if (!migrations_ok(m, n, err, errlen))
		return -1;
	if (sq_int(q, SQL_USER_VERSION, NULL, 0, &have) != STORE_OK ||
	    sq_int(q, SQL_OBJECTS, NULL, 0, &objects) != STORE_OK) {
		snprintf(err, errlen, "%s: %s", path, q->base.err);
		return -1;
	}
	if (refuse(path, have, want, objects, flags, err, errlen) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (m[i].version > have && apply(q, &m[i], err, errlen) < 0)
			return -1;
	q->version = want;
	return 0;
}

struct store *
store_sqlite_open(const struct conf_db *c, int flags, char *err, size_t errlen)
{
	struct sq *q = calloc(1, sizeof *q);
	int oflags = SQLITE_OPEN_NOMUTEX;
	int rc;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->base.ops = &sq_ops;
	oflags |= flags & STORE_OPEN_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (flags & STORE_OPEN_CREATE) {
		oflags |= SQLITE_OPEN_CREATE;
		if (precreate(c->path, err, errlen) < 0)
			goto fail;
	}
	if ((rc = sqlite3_open_v2(c->path, &q->db, oflags, NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", c->path,
		         q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	q->busy_ms = c->busy_timeout_ms > 0 ? c->busy_timeout_ms : BUSY_DEFAULT_MS;
	sqlite3_busy_timeout(q->db, q->busy_ms);
	if (!(q->wlock = sq_wlock_get(c->path, err, errlen)) || pragmas(q, err, errlen) < 0 ||
	    schema(q, c->path, flags, err, errlen) < 0)
		goto fail;
	return &q->base;
fail:
	sq_close(&q->base);
	return NULL;
}

static void
sq_close(struct store *s)
{
	struct sq *q = sq_of(s);

	for (size_t i = 0; i < SQ_CACHE_SLOTS; i++)
		sqlite3_finalize(q->cache[i].st);
	sqlite3_close_v2(q->db);
	sq_wlock_put(q->wlock);
	free(q);
}

static int
sq_version(struct store *s)
{
	return sq_of(s)->version;
}

static const char SQL_CHECKPOINT[] = "PRAGMA wal_checkpoint(PASSIVE)";

/*
 * Flushes the log file to disk through this connection's handle to it, which
 * it has from its first read; a connection that has not read checkpoints
 * instead (which opens the log and flushes what it copies).
 */
static int
wal_flush(struct sq *q)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK ||
	    f == NULL || f->pMethods == NULL)
		return sq_run(q, SQL_CHECKPOINT, NULL, 0, NULL);
	if (f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK)
		return store_fail(&q->base, STORE_UNAVAILABLE, "cannot flush the write-ahead log");
	return STORE_OK;
}

/*
 * Copies the log into the database (blocking neither readers nor writers)
 * when it is long or the last copy is old or there was none in this process,
 * and flushes the log, whoever wrote it (a flush with nothing new to write
 * costs a system call).
 */
static int
sq_maintain(struct store *s)
{
	struct sq *q = sq_of(s);
	struct sq_wal *wal = sq_wlock_wal(q->wlock);
	int64_t now = clock_mono_ms(), copied = atomic_load(&wal->copied_ms);
	int rc;

	if (copied == 0 || now - copied >= WAL_MAINTAIN_MAX_MS ||
	    atomic_load(&wal->frames) >= WAL_MAINTAIN_PAGES) {
		if ((rc = sq_run(q, SQL_CHECKPOINT, NULL, 0, NULL)) != STORE_OK)
			return rc;
		atomic_store(&wal->copied_ms, now);
		atomic_store(&wal->frames, 0);
	}
	/* after a checkpoint too: one held back by a reader copies and flushes nothing */
	return wal_flush(q);
}
