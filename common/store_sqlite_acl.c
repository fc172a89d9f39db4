/*
 * SQLite backend: groups and access lists (sql/009_identity.sql). Adding what
 * is already there changes nothing and succeeds; adding for a user, group or
 * service that is gone is STORE_NOTFOUND, decided in the write transaction.
 */

#include <string.h>

#include "store_sqlite_int.h"

#define GROUP_COLS "g.id, g.name, (SELECT count(*) FROM group_members m " \
	"WHERE m.group_id = g.id), g.created_at"

static const char SQL_GROUP_ADD[] =
	"INSERT INTO groups (name, created_at) VALUES (?1, ?2) RETURNING id";
static const char SQL_GROUP_BY_NAME[] = "SELECT " GROUP_COLS " FROM groups g WHERE g.name = ?1";
static const char SQL_GROUP_BY_ID[] = "SELECT " GROUP_COLS " FROM groups g WHERE g.id = ?1";
static const char SQL_GROUP_DEL[] = "DELETE FROM groups WHERE id = ?1";
static const char SQL_GROUP_LIST[] =
	"SELECT " GROUP_COLS " FROM groups g WHERE ?1 = 0 OR g.id IN "
	"(SELECT group_id FROM group_members WHERE user_id = ?1) ORDER BY g.name";
static const char SQL_GROUP_MEMBERS[] =
	"SELECT u.id, u.name, u.role, u.disabled, u.created_at FROM users u "
	"JOIN group_members m ON m.user_id = u.id WHERE m.group_id = ?1 ORDER BY u.name";

static const char SQL_MEMBER_ADD[] =
	"INSERT INTO group_members (group_id, user_id) SELECT ?1, ?2 "
	"WHERE EXISTS (SELECT 1 FROM groups WHERE id = ?1) "
	"AND EXISTS (SELECT 1 FROM users WHERE id = ?2) ON CONFLICT DO NOTHING";
static const char SQL_MEMBER_DEL[] =
	"DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2";
static const char SQL_MEMBER_BOTH[] =
	"SELECT count(*) FROM groups g, users u WHERE g.id = ?1 AND u.id = ?2";

static const char SQL_ACL_RESTRICT[] = "UPDATE services SET restricted = ?2 WHERE id = ?1";
static const char SQL_ACL_RESTRICTED[] = "SELECT restricted FROM services WHERE id = ?1";
static const char SQL_ACL_ADD_USER[] =
	"INSERT INTO service_acl (service_id, user_id) SELECT ?1, ?2 "
	"WHERE EXISTS (SELECT 1 FROM services WHERE id = ?1) "
	"AND EXISTS (SELECT 1 FROM users WHERE id = ?2) ON CONFLICT DO NOTHING";
static const char SQL_ACL_ADD_GROUP[] =
	"INSERT INTO service_acl (service_id, group_id) SELECT ?1, ?2 "
	"WHERE EXISTS (SELECT 1 FROM services WHERE id = ?1) "
	"AND EXISTS (SELECT 1 FROM groups WHERE id = ?2) ON CONFLICT DO NOTHING";
static const char SQL_ACL_DEL_USER[] =
	"DELETE FROM service_acl WHERE service_id = ?1 AND user_id = ?2";
static const char SQL_ACL_DEL_GROUP[] =
	"DELETE FROM service_acl WHERE service_id = ?1 AND group_id = ?2";
static const char SQL_ACL_BOTH_USER[] =
	"SELECT count(*) FROM services s, users u WHERE s.id = ?1 AND u.id = ?2";
static const char SQL_ACL_BOTH_GROUP[] =
	"SELECT count(*) FROM services s, groups g WHERE s.id = ?1 AND g.id = ?2";
static const char SQL_ACL_LIST[] =
	"SELECT 1, u.id, u.name FROM service_acl a JOIN users u ON u.id = a.user_id "
	"WHERE a.service_id = ?1 UNION ALL "
	"SELECT 2, g.id, g.name FROM service_acl a JOIN groups g ON g.id = a.group_id "
	"WHERE a.service_id = ?1 ORDER BY 1, 3";
static const char SQL_ACL_ALLOWS[] =
	"SELECT s.restricted = 0 OR EXISTS (SELECT 1 FROM service_acl a WHERE a.service_id = s.id "
	"AND (a.user_id = ?2 OR a.group_id IN "
	"(SELECT group_id FROM group_members WHERE user_id = ?2))) FROM services s WHERE s.id = ?1";

int
sq_group_add(struct store *s, const char *name, int64_t now, int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, SQL_GROUP_ADD, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && id)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		rc = store_fail(s, STORE_EXISTS, "group %s exists", name);
	else if (rc != SQLITE_ROW)
		rc = sq_fail(q, rc, "group add");
	else
		rc = STORE_OK;
	return sq_finish(q, rc);
}

static void
group_read(sqlite3_stmt *st, struct store_group *g)
{
	memset(g, 0, sizeof *g);
	g->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, g->name, sizeof g->name);
	g->members = sqlite3_column_int(st, 2);
	g->created_at = sqlite3_column_int64(st, 3);
}

int
sq_group_get(struct store *s, const char *name, int64_t id, struct store_group *g)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, name ? SQL_GROUP_BY_NAME : SQL_GROUP_BY_ID);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	if (name)
		sq_bind_text(st, 1, name);
	else
		sqlite3_bind_int64(st, 1, id);
	if ((rc = sq_step(q, st, "group get", &row)) == STORE_OK && row)
		group_read(st, g);
	sqlite3_reset(st);
	if (rc == STORE_OK && !row)
		rc = store_fail(s, STORE_NOTFOUND, "no such group");
	return rc;
}

/* One all-integer write in a transaction of its own; no row changed is STORE_NOTFOUND. */
static int
write_one(struct sq *q, const char *sql, const int64_t *args, int n, const char *missing)
{
	int rc, changed = 0;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_run(q, sql, args, n, &changed);
	if (rc == STORE_OK && changed == 0)
		rc = store_fail(&q->base, STORE_NOTFOUND, "%s", missing);
	return sq_finish(q, rc);
}

int
sq_group_del(struct store *s, int64_t id)
{
	return write_one(sq_of(s), SQL_GROUP_DEL, &id, 1, "no such group");
}

int
sq_group_list(struct store *s, int64_t user_id, store_group_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_GROUP_LIST);
	struct store_group g;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, user_id);
	while ((rc = sq_step(q, st, "group list", &row)) == STORE_OK && row) {
		group_read(st, &g);
		if (fn && fn(&g, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

int
sq_group_members(struct store *s, int64_t group_id, store_user_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_GROUP_MEMBERS);
	struct store_user u;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, group_id);
	while ((rc = sq_step(q, st, "group members", &row)) == STORE_OK && row) {
		memset(&u, 0, sizeof u);
		u.id = sqlite3_column_int64(st, 0);
		sq_col_text(st, 1, u.name, sizeof u.name);
		u.role = sqlite3_column_int(st, 2);
		u.disabled = sqlite3_column_int(st, 3);
		u.created_at = sqlite3_column_int64(st, 4);
		if (fn && fn(&u, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Adds (idempotent) or removes the pair args[0], args[1]. An add that changed
 * nothing was either already there or named something gone: both asks which.
 */
static int
pair_set(struct sq *q, const char *add_sql, const char *del_sql, const char *both_sql,
         const int64_t args[2], int add, const char *what)
{
	int64_t both = 0;
	int rc, changed = 0;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	rc = sq_run(q, add ? add_sql : del_sql, args, 2, &changed);
	if (rc == STORE_OK && changed == 0 && !add)
		rc = store_fail(&q->base, STORE_NOTFOUND, "%s: no such entry", what);
	else if (rc == STORE_OK && changed == 0 &&
	         (rc = sq_int(q, both_sql, args, 2, &both)) == STORE_OK && both == 0)
		rc = store_fail(&q->base, STORE_NOTFOUND, "%s: no such user, group or service", what);
	return sq_finish(q, rc);
}

int
sq_group_member(struct store *s, int64_t group_id, int64_t user_id, int add)
{
	int64_t args[2] = { group_id, user_id };

	return pair_set(sq_of(s), SQL_MEMBER_ADD, SQL_MEMBER_DEL, SQL_MEMBER_BOTH, args, add,
	                "group member");
}

int
sq_acl_restrict(struct store *s, int64_t service_id, int restricted)
{
	int64_t args[2] = { service_id, restricted };

	return write_one(sq_of(s), SQL_ACL_RESTRICT, args, 2, "no such service");
}

int
sq_acl_entry(struct store *s, int64_t service_id, int kind, int64_t member_id, int add)
{
	int64_t args[2] = { service_id, member_id };

	if (kind == ACL_USER)
		return pair_set(sq_of(s), SQL_ACL_ADD_USER, SQL_ACL_DEL_USER, SQL_ACL_BOTH_USER,
		                args, add, "access list");
	return pair_set(sq_of(s), SQL_ACL_ADD_GROUP, SQL_ACL_DEL_GROUP, SQL_ACL_BOTH_GROUP,
	                args, add, "access list");
}

static int
acl_rows(struct sq *q, int64_t service_id, store_acl_fn fn, void *arg)
{
	sqlite3_stmt *st = sq_stmt(q, SQL_ACL_LIST);
	struct store_acl_entry e;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, service_id);
	while ((rc = sq_step(q, st, "access list", &row)) == STORE_OK && row) {
		memset(&e, 0, sizeof e);
		e.kind = sqlite3_column_int(st, 0);
		e.id = sqlite3_column_int64(st, 1);
		sq_col_text(st, 2, e.name, sizeof e.name);
		if (fn && fn(&e, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

int
sq_acl_list(struct store *s, int64_t service_id, int *restricted, store_acl_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	int64_t r = 0;
	int rc;

	if ((rc = sq_begin(q, 0)) != STORE_OK)
		return rc;
	rc = sq_int(q, SQL_ACL_RESTRICTED, &service_id, 1, &r);
	if (rc == STORE_NOTFOUND)
		rc = store_fail(s, STORE_NOTFOUND, "no such service");
	*restricted = (int)r;
	if (rc == STORE_OK)
		rc = acl_rows(q, service_id, fn, arg);
	return sq_finish(q, rc);
}

int
sq_acl_allows(struct store *s, int64_t service_id, int64_t user_id)
{
	int64_t args[2] = { service_id, user_id }, ok = 0;
	int rc = sq_int(sq_of(s), SQL_ACL_ALLOWS, args, 2, &ok);

	if (rc == STORE_NOTFOUND)
		return store_fail(s, STORE_NOTFOUND, "no such service");
	if (rc == STORE_OK && !ok)
		return store_fail(s, STORE_DENIED, "not on the service's access list");
	return rc;
}
