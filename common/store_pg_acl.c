/*
 * PostgreSQL backend: groups and access lists (sql/pg/009_identity.sql). The
 * same meaning as store_sqlite_acl.c. Each write is one statement (its own
 * transaction): none of them touches the change feed, so none takes the
 * writers' lock.
 */

#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"

#define GROUP_COLS "g.id, g.name, (SELECT count(*) FROM group_members m " \
	"WHERE m.group_id = g.id), g.created_at"

int
pg_group_add(struct store *s, const char *name, int64_t now, int64_t *id)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_text(&q, name);
	pgq_int(&q, now);
	rc = pg_exec(pg_of(s), "INSERT INTO groups (name, created_at) VALUES ($1, $2) RETURNING id",
	             &q, &r, "group add");
	if (rc == STORE_EXISTS)
		return store_fail(s, STORE_EXISTS, "group %s exists", name);
	if (rc == STORE_OK && id)
		*id = pg_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static void
group_read(const PGresult *r, int row, struct store_group *g)
{
	memset(g, 0, sizeof *g);
	g->id = pg_i64(r, row, 0);
	pg_text(r, row, 1, g->name, sizeof g->name);
	g->members = (int)pg_i64(r, row, 2);
	g->created_at = pg_i64(r, row, 3);
}

int
pg_group_get(struct store *s, const char *name, int64_t id, struct store_group *g)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	if (name)
		pgq_text(&q, name);
	else
		pgq_int(&q, id);
	rc = pg_exec(pg_of(s), name ? "SELECT " GROUP_COLS " FROM groups g WHERE g.name = $1"
	                            : "SELECT " GROUP_COLS " FROM groups g WHERE g.id = $1",
	             &q, &r, "group get");
	if (rc == STORE_OK && PQntuples(r) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such group");
	else if (rc == STORE_OK)
		group_read(r, 0, g);
	PQclear(r);
	return rc;
}

/* One all-integer statement; no row changed is STORE_NOTFOUND with missing. */
static int
write_one(struct store *s, const char *sql, int64_t a, int64_t b, int nargs, const char *missing)
{
	struct pgq q = { .n = 0 };
	int rc, changed = 0;

	pgq_int(&q, a);
	if (nargs > 1)
		pgq_int(&q, b);
	rc = pg_run(pg_of(s), sql, &q, &changed, missing);
	if (rc == STORE_OK && changed == 0)
		rc = store_fail(s, STORE_NOTFOUND, "%s", missing);
	return rc;
}

int
pg_group_del(struct store *s, int64_t id)
{
	return write_one(s, "DELETE FROM groups WHERE id = $1", id, 0, 1, "no such group");
}

int
pg_group_list(struct store *s, int64_t user_id, store_group_fn fn, void *arg)
{
	struct store_group g;
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, user_id);
	rc = pg_exec(pg_of(s), "SELECT " GROUP_COLS " FROM groups g WHERE $1 = 0 OR g.id IN "
	             "(SELECT group_id FROM group_members WHERE user_id = $1) ORDER BY g.name",
	             &q, &r, "group list");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		group_read(r, i, &g);
		if (fn && fn(&g, arg))
			break;
	}
	PQclear(r);
	return rc;
}

int
pg_group_members(struct store *s, int64_t group_id, store_user_fn fn, void *arg)
{
	struct store_user u;
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, group_id);
	rc = pg_exec(pg_of(s), "SELECT u.id, u.name, u.role, u.disabled, u.created_at FROM users u "
	             "JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1 "
	             "ORDER BY u.name", &q, &r, "group members");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		memset(&u, 0, sizeof u);
		u.id = pg_i64(r, i, 0);
		pg_text(r, i, 1, u.name, sizeof u.name);
		u.role = (int)pg_i64(r, i, 2);
		u.disabled = (int)pg_i64(r, i, 3);
		u.created_at = pg_i64(r, i, 4);
		if (fn && fn(&u, arg))
			break;
	}
	PQclear(r);
	return rc;
}

/*
 * Adds (idempotent) or removes a pair. The add is one statement that also
 * says whether both ends exist, so "already there" and "gone" are told apart
 * in the same snapshot. ins: the INSERT ... RETURNING 1; both: a count of
 * the pair's two rows.
 */
static int
pair_set(struct store *s, const char *ins, const char *both, const char *del,
         int64_t a, int64_t b, int add, const char *what)
{
	char sql[640];
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	if (!add)
		return write_one(s, del, a, b, 2, "no such entry");
	snprintf(sql, sizeof sql, "WITH ins AS (%s) SELECT (SELECT count(*) FROM ins), (%s)",
	         ins, both);
	pgq_int(&q, a);
	pgq_int(&q, b);
	if ((rc = pg_exec(pg_of(s), sql, &q, &r, what)) != STORE_OK)
		return rc;
	if (pg_i64(r, 0, 0) == 0 && pg_i64(r, 0, 1) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "%s: no such user, group or service", what);
	PQclear(r);
	return rc;
}

int
pg_group_member(struct store *s, int64_t group_id, int64_t user_id, int add)
{
	return pair_set(s, "INSERT INTO group_members (group_id, user_id) SELECT $1, $2 "
	                "WHERE EXISTS (SELECT 1 FROM groups WHERE id = $1) "
	                "AND EXISTS (SELECT 1 FROM users WHERE id = $2) "
	                "ON CONFLICT DO NOTHING RETURNING 1",
	                "SELECT count(*) FROM groups g, users u WHERE g.id = $1 AND u.id = $2",
	                "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
	                group_id, user_id, add, "group member");
}

int
pg_acl_restrict(struct store *s, int64_t service_id, int restricted)
{
	return write_one(s, "UPDATE services SET restricted = $2 WHERE id = $1", service_id,
	                 restricted, 2, "no such service");
}

int
pg_acl_entry(struct store *s, int64_t service_id, int kind, int64_t member_id, int add)
{
	if (kind == ACL_USER)
		return pair_set(s, "INSERT INTO service_acl (service_id, user_id) SELECT $1, $2 "
		                "WHERE EXISTS (SELECT 1 FROM services WHERE id = $1) "
		                "AND EXISTS (SELECT 1 FROM users WHERE id = $2) "
		                "ON CONFLICT DO NOTHING RETURNING 1",
		                "SELECT count(*) FROM services v, users u WHERE v.id = $1 AND u.id = $2",
		                "DELETE FROM service_acl WHERE service_id = $1 AND user_id = $2",
		                service_id, member_id, add, "access list");
	return pair_set(s, "INSERT INTO service_acl (service_id, group_id) SELECT $1, $2 "
	                "WHERE EXISTS (SELECT 1 FROM services WHERE id = $1) "
	                "AND EXISTS (SELECT 1 FROM groups WHERE id = $2) "
	                "ON CONFLICT DO NOTHING RETURNING 1",
	                "SELECT count(*) FROM services v, groups g WHERE v.id = $1 AND g.id = $2",
	                "DELETE FROM service_acl WHERE service_id = $1 AND group_id = $2",
	                service_id, member_id, add, "access list");
}

/* One statement: the flag on every row (NULL entry when the list is empty). */
int
pg_acl_list(struct store *s, int64_t service_id, int *restricted, store_acl_fn fn, void *arg)
{
	struct store_acl_entry e;
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, service_id);
	rc = pg_exec(pg_of(s), "SELECT v.restricted, l.kind, l.id, l.name FROM services v "
	             "LEFT JOIN (SELECT a.service_id, 1 AS kind, u.id, u.name FROM service_acl a "
	             "JOIN users u ON u.id = a.user_id UNION ALL "
	             "SELECT a.service_id, 2, g.id, g.name FROM service_acl a "
	             "JOIN groups g ON g.id = a.group_id) l ON l.service_id = v.id "
	             "WHERE v.id = $1 ORDER BY l.kind, l.name", &q, &r, "access list");
	if (rc == STORE_OK && PQntuples(r) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service");
	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		*restricted = (int)pg_i64(r, i, 0);
		if (PQgetisnull(r, i, 1))
			break;
		memset(&e, 0, sizeof e);
		e.kind = (int)pg_i64(r, i, 1);
		e.id = pg_i64(r, i, 2);
		pg_text(r, i, 3, e.name, sizeof e.name);
		if (fn && fn(&e, arg))
			break;
	}
	PQclear(r);
	return rc;
}

int
pg_acl_allows(struct store *s, int64_t service_id, int64_t user_id)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_int(&q, service_id);
	pgq_int(&q, user_id);
	rc = pg_exec(pg_of(s), "SELECT (v.restricted = 0 OR EXISTS (SELECT 1 FROM service_acl a "
	             "WHERE a.service_id = v.id AND (a.user_id = $2 OR a.group_id IN "
	             "(SELECT group_id FROM group_members WHERE user_id = $2))))::int "
	             "FROM services v WHERE v.id = $1", &q, &r, "access check");
	if (rc == STORE_OK && PQntuples(r) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such service");
	else if (rc == STORE_OK && pg_i64(r, 0, 0) == 0)
		rc = store_fail(s, STORE_DENIED, "not on the service's access list");
	PQclear(r);
	return rc;
}
