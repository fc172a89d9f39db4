/*
 * PostgreSQL backend: connecting (conf db.url is a libpq conninfo, so TLS,
 * passwords files and service files work as libpq documents them), the
 * schema's versions, waiting for change notifications, and the operation
 * table. docs/scaleout.md explains the change feed.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate.h"
#include "store_pg_int.h"

/* Serialises schema changes by concurrent "sekishoctl migrate" and daemons. */
#define PG_MIGRATE_LOCK "99702273"

static int
pg_version(struct store *s)
{
	return pg_of(s)->version;
}

static int
pg_maintain(struct store *s)
{
	(void)s;           /* the server's autovacuum does this work */
	return STORE_OK;
}

static void
pg_close(struct store *s)
{
	struct pgs *p = pg_of(s);

	PQfinish(p->conn);
	free(p);
}

/* The newest migration the database records: *version 0 and name "" when none. */
static int
schema_read(struct pgs *p, int *version, char *name, size_t n)
{
	PGresult *r;
	int rc = pg_exec(p, "SELECT version, name FROM schema_migrations "
	                 "ORDER BY version DESC LIMIT 1", NULL, &r, "schema version");

	*version = 0;
	name[0] = '\0';
	if (rc == STORE_OK && PQntuples(r) == 1) {
		*version = (int)pg_i64(r, 0, 0);
		pg_text(r, 0, 1, name, n);
	}
	PQclear(r);
	return rc;
}

/* In the migration transaction: a database without our table is empty, or someone else's. */
static int
schema_bootstrap(struct pgs *p, int flags, int *have)
{
	PGresult *r;
	int rc, tables;

	rc = pg_exec(p, "SELECT to_regclass('schema_migrations') IS NOT NULL, "
	             "(SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())",
	             NULL, &r, "schema check");
	if (rc != STORE_OK)
		return rc;
	*have = PQgetvalue(r, 0, 0)[0] == 't';
	tables = (int)pg_i64(r, 0, 1);
	PQclear(r);
	if (*have)
		return STORE_OK;
	if (tables > 0)
		return store_fail(&p->base, STORE_INVALID, "not a sekisho database "
		                  "(it has tables but no schema_migrations)");
	if (!(flags & STORE_OPEN_CREATE))
		return store_fail(&p->base, STORE_INVALID, "database not initialised "
		                  "(run \"sekishoctl init\")");
	return pg_run(p, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
	              "name text NOT NULL, applied_at bigint NOT NULL)", NULL, NULL,
	              "schema bootstrap");
}

/*
 * How many of this build's migrations a database at version have has
 * applied: numbers need not be consecutive (each change takes its own), so
 * the position is found by number. -1 when have is not one of ours.
 */
static int
schema_applied(int have)
{
	for (int i = 0; i < n_pg_migrations; i++)
		if (pg_migrations[i].version == have)
			return i + 1;
	return have == 0 ? 0 : -1;
}

/* Refuses a schema this build does not know, by version and by name. */
static int
schema_judge(struct pgs *p, int flags, int have, const char *name)
{
	const struct migration *m = pg_migrations;
	int n = n_pg_migrations, done = schema_applied(have);

	if (have > m[n - 1].version)
		return store_fail(&p->base, STORE_INVALID, "database schema version %d (%s) is newer "
		                  "than this build's %d (%s): upgrade sekisho", have, name,
		                  m[n - 1].version, m[n - 1].name);
	if (done < 0 || (done > 0 && strcmp(m[done - 1].name, name) != 0))
		return store_fail(&p->base, STORE_INVALID, "database schema version %d is \"%s\", "
		                  "not a schema this build knows", have, name);
	if (done < n && !(flags & STORE_OPEN_MIGRATE) && !(have == 0 && (flags & STORE_OPEN_CREATE)))
		return store_fail(&p->base, STORE_INVALID, "database schema version %d (%s), this "
		                  "build needs %d (run \"sekishoctl migrate\")", have,
		                  have ? name : "none", m[n - 1].version);
	return STORE_OK;
}

static int
schema_apply(struct pgs *p, int from, int64_t now)
{
	for (int i = from; i < n_pg_migrations; i++) {
		const struct migration *m = &pg_migrations[i];
		PGresult *r = PQexec(p->conn, m->sql);
		struct pgq q = { .n = 0 };
		int rc;

		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = store_fail(&p->base, STORE_UNAVAILABLE, "migration %s: %s", m->name,
			                PQresultErrorMessage(r));
			PQclear(r);
			return rc;
		}
		PQclear(r);
		pgq_int(&q, m->version);
		pgq_text(&q, m->name);
		pgq_int(&q, now);
		if ((rc = pg_run(p, "INSERT INTO schema_migrations VALUES ($1, $2, $3)", &q, NULL,
		                 "record migration")) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* Checks (and with the flags, creates or migrates) the schema in one transaction. */
static int
schema_open(struct pgs *p, int flags)
{
	char name[128];
	int rc, have_table, have;

	if ((rc = pg_begin(p, 0)) != STORE_OK)
		return rc;
	rc = pg_run(p, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", NULL, NULL,
	            "schema lock");
	if (rc == STORE_OK)
		rc = schema_bootstrap(p, flags, &have_table);
	if (rc == STORE_OK)
		rc = schema_read(p, &have, name, sizeof name);
	if (rc == STORE_OK)
		rc = schema_judge(p, flags, have, name);
	if (rc == STORE_OK && schema_applied(have) < n_pg_migrations)
		rc = schema_apply(p, schema_applied(have), (int64_t)time(NULL));
	if ((rc = pg_finish(p, rc)) == STORE_OK)
		p->version = pg_migrations[n_pg_migrations - 1].version;
	return rc;
}

/*
 * Per connection, after connecting and after every reconnect: lock waits are
 * bounded by conf busy_timeout_ms (a holder that never lets go makes callers
 * fail closed, not hang), bytes come back as hex, and the schema is still the
 * one this connection was opened on.
 */
int
pg_session(struct pgs *p)
{
	struct pgq q = { .n = 0 };
	char ms[24], name[128];
	int rc, have;

	snprintf(ms, sizeof ms, "%dms", p->lock_ms);
	pgq_text(&q, ms);
	rc = pg_run(p, "SELECT set_config('lock_timeout', $1, false), "
	            "set_config('bytea_output', 'hex', false)", &q, NULL, "session");
	if (rc != STORE_OK || p->version == 0)
		return rc;
	if ((rc = schema_read(p, &have, name, sizeof name)) != STORE_OK)
		return rc;
	if (have != p->version)
		return store_fail(&p->base, STORE_UNAVAILABLE, "database schema changed to version "
		                  "%d (%s) while this program runs version %d: restart it",
		                  have, name, p->version);
	return STORE_OK;
}

/*
 * The first call subscribes to change notifications and returns at once: the
 * caller then reads the log (or a snapshot), so nothing committed before the
 * subscription is missed. Later calls wait up to timeout_ms for a commit that
 * appended to the log. A reconnect drops the subscription; the next call
 * subscribes again and returns at once, and the caller reads the log from
 * where it was (the log itself was never lost).
 */
int
pg_wait(struct store *s, int timeout_ms, int *woken)
{
	struct pgs *p = pg_of(s);
	struct pollfd pfd;
	PGnotify *n;
	int rc, got = 0;

	if (!p->listening || PQstatus(p->conn) != CONNECTION_OK) {
		if ((rc = pg_run(p, "LISTEN " PG_CHANNEL, NULL, NULL, "listen")) != STORE_OK)
			return rc;
		p->listening = 1;
		return STORE_OK;
	}
	for (int round = 0; round < 2 && !got; round++) {
		if (!PQconsumeInput(p->conn))        /* first line only: the error goes into one log line */
			return store_fail(s, STORE_UNAVAILABLE, "wait: connection to PostgreSQL lost: %.*s",
			                  (int)strcspn(PQerrorMessage(p->conn), "\n"), PQerrorMessage(p->conn));
		while ((n = PQnotifies(p->conn)) != NULL) {
			got = 1;
			PQfreemem(n);
		}
		if (got || round == 1)
			break;
		if (timeout_ms == 0)
			break;
		pfd = (struct pollfd){ .fd = PQsocket(p->conn), .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
			return store_fail(s, STORE_UNAVAILABLE, "wait: poll: %s", strerror(errno));
	}
	*woken = got;
	return STORE_OK;
}

static const struct store_ops pg_ops = {
	.close = pg_close, .version = pg_version, .maintain = pg_maintain,
	.user_add = pg_user_add, .user_add_external = pg_user_add_external, .user_get = pg_user_get, .user_list = pg_user_list,
	.user_set_password = pg_user_set_password, .user_rehash = pg_user_rehash,
	.user_set_role = pg_user_set_role, .user_set_disabled = pg_user_set_disabled,
	.user_del = pg_user_del,
	.service_add = pg_service_add, .service_get = pg_service_get,
	.service_list = pg_service_list, .service_update = pg_service_update,
	.service_del = pg_service_del,
	.group_add = pg_group_add, .group_get = pg_group_get, .group_del = pg_group_del,
	.group_list = pg_group_list, .group_members = pg_group_members,
	.group_member = pg_group_member, .acl_restrict = pg_acl_restrict,
	.acl_entry = pg_acl_entry, .acl_list = pg_acl_list, .acl_allows = pg_acl_allows,
	.service_set_load = pg_service_set_load, .service_set_health = pg_service_set_health,
	.lease_take = pg_lease_take,
	.admit = pg_admit, .queue_admit = pg_queue_admit, .queue_leave = pg_queue_leave,
	.queue_len = pg_queue_len, .queue_places = pg_queue_places,
	.queue_lapse = pg_queue_lapse, .service_set_queue = pg_service_set_queue, .end = pg_end, .end_user = pg_end_user, .right_get = pg_right_get,
	.rights_get = pg_rights_get,
	.right_list = pg_right_list, .ip_rights = pg_ip_rights, .touch = pg_touch,
	.sweep = pg_sweep, .prune = pg_prune, .snapshot = pg_snapshot, .changes = pg_changes,
	.wait = pg_wait,
	.code_put = pg_code_put, .code_take = pg_code_take,
	.login_put = pg_login_put, .login_get = pg_login_get, .login_del = pg_login_del,
	.lockout_state = pg_lockout_state, .lockout_fail = pg_lockout_fail,
	.lockout_refund = pg_lockout_refund, .lockout_clear = pg_lockout_clear,
	.lockout_list = pg_lockout_list, .known_add = pg_known_add, .known_has = pg_known_has,
	.key_add = pg_key_add, .key_list = pg_key_list, .key_del_expired = pg_key_del_expired,
	.tls_key_add = pg_tls_key_add, .tls_key_list = pg_tls_key_list,
	.tls_key_del_expired = pg_tls_key_del_expired, .tls_key_activate = pg_tls_key_activate,
	.audit = pg_audit, .audit_list = pg_audit_list, .stats = pg_stats,
};

/*
 * Connects with defaults the url may override: connect_timeout 10 s, and TCP
 * keepalives and a 15 s tcp_user_timeout, so that a call on a link that
 * silently drops packets fails (and the caller fails closed) within seconds
 * rather than after the kernel's retransmissions (about 15 minutes), and an
 * idle listening connection notices a dead server.
 */
static PGconn *
pg_connect(const char *url, char *err, size_t errlen)
{
	static const char *const keys[] = { "connect_timeout", "application_name",
		"keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"dbname", NULL };
	const char *vals[] = { "10", "sekisho", "10", "5", "3", "15000", url, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	size_t len;

	if (c && PQstatus(c) == CONNECTION_OK)
		return c;
	if (!c) {
		snprintf(err, errlen, "PostgreSQL: out of memory");
		return NULL;
	}
	len = strcspn(PQerrorMessage(c), "\n");
	snprintf(err, errlen, "cannot connect to PostgreSQL at %s port %s: %.*s",
	         PQhost(c) && *PQhost(c) ? PQhost(c) : "(default host)", PQport(c) ? PQport(c) : "?",
	         (int)len, PQerrorMessage(c));
	PQfinish(c);
	return NULL;
}

struct store *
store_pg_open(const struct conf_db *db, int flags, char *err, size_t errlen)
{
	struct pgs *p = calloc(1, sizeof *p);

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->base.ops = &pg_ops;
	p->lock_ms = db->busy_timeout_ms > 0 ? db->busy_timeout_ms : 5000;
	if (!(p->conn = pg_connect(db->url, err, errlen))) {
		free(p);
		return NULL;
	}
	if (pg_session(p) != STORE_OK || schema_open(p, flags) != STORE_OK) {
		snprintf(err, errlen, "PostgreSQL at %s port %s: %s", PQhost(p->conn), PQport(p->conn),
		         p->base.err);
		pg_close(&p->base);
		return NULL;
	}
	return &p->base;
}
