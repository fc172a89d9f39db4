/*
 * SQLite backend: users and their portal/admin logins. Every rule that needs
 * more than one statement (the last root, who still administers what) runs in
 * one write transaction, so two operators cannot each remove "the other" root.
 */

#include <stdio.h>
#include <string.h>

#include "store_sqlite_int.h"

static void
user_read(sqlite3_stmt *st, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, u->name, sizeof u->name);
	u->role = sqlite3_column_int(st, 2);
	sq_col_text(st, 3, u->pwhash, sizeof u->pwhash);
	u->disabled = sqlite3_column_int(st, 4);
	u->created_at = sqlite3_column_int64(st, 5);
	u->source = source_parse((const char *)sqlite3_column_text(st, 6));
}

static const char SQL_USER_ADD[] =
	"INSERT INTO users (name, role, pwhash, created_at, source) "
	"VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";

static int
user_insert(struct store *s, const char *name, int role, const char *pwhash, int64_t now,
            const char *source, int64_t *id)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, SQL_USER_ADD, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, name);
	sqlite3_bind_int(st, 2, role);
	sq_bind_text(st, 3, pwhash);
	sqlite3_bind_int64(st, 4, now);
	sq_bind_text(st, 5, source);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && id)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		rc = store_fail(s, STORE_EXISTS, "user %s exists", name);
	else if (rc != SQLITE_ROW)
		rc = sq_fail(q, rc, "user add");
	else
		rc = STORE_OK;
	return sq_finish(q, rc);
}

int
sq_user_add(struct store *s, const char *name, int role, const char *pwhash, int64_t now,
            int64_t *id)
{
	return user_insert(s, name, role, pwhash, now, "local", id);
}

int
sq_user_add_external(struct store *s, const char *name, const char *source, int64_t now,
                     int64_t *id)
{
	return user_insert(s, name, ROLE_USER, PWHASH_EXTERNAL, now, source, id);
}

#define USER_COLS "id, name, role, pwhash, disabled, created_at, source"
static const char SQL_USER_BY_NAME[] = "SELECT " USER_COLS " FROM users WHERE name = ?1";
static const char SQL_USER_BY_ID[] = "SELECT " USER_COLS " FROM users WHERE id = ?1";
static const char SQL_USER_LIST[] = "SELECT " USER_COLS " FROM users ORDER BY name";

int
sq_user_get(struct store *s, const char *name, int64_t id, struct store_user *u)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, name ? SQL_USER_BY_NAME : SQL_USER_BY_ID);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	if (name)
		sq_bind_text(st, 1, name);
	else
		sqlite3_bind_int64(st, 1, id);
	if ((rc = sq_step(q, st, "user get", &row)) == STORE_OK && row)
		user_read(st, u);
	sqlite3_reset(st);
	if (rc == STORE_OK && !row)
		rc = store_fail(s, STORE_NOTFOUND, "no such user");
	return rc;
}

int
sq_user_list(struct store *s, store_user_fn fn, void *arg)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_USER_LIST);
	struct store_user u;
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	while ((rc = sq_step(q, st, "user list", &row)) == STORE_OK && row) {
		user_read(st, &u);
		if (fn && fn(&u, arg))
			break;
	}
	sqlite3_reset(st);
	return rc;
}

static const char SQL_SET_PASSWORD[] = "UPDATE users SET pwhash = ?2 WHERE id = ?1";
static const char SQL_LOGINS_DEL_USER[] = "DELETE FROM logins WHERE user_id = ?1";

/* A new password ends every portal login of the user, in the same transaction. */
int
sq_user_set_password(struct store *s, int64_t id, const char *pwhash)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_begin_stmt(q, SQL_SET_PASSWORD, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, pwhash);
	rc = sq_step(q, st, "set password", &row);
	sqlite3_reset(st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such user");
	if (rc == STORE_OK)
		rc = sq_run(q, SQL_LOGINS_DEL_USER, &id, 1, NULL);
	return sq_finish(q, rc);
}

static const char SQL_REHASH[] = "UPDATE users SET pwhash = ?3 WHERE id = ?1 AND pwhash = ?2";

int
sq_user_rehash(struct store *s, int64_t id, const char *old_hash, const char *new_hash)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_begin_stmt(q, SQL_REHASH, &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, old_hash);
	sq_bind_text(st, 3, new_hash);
	rc = sq_step(q, st, "rehash", &row);
	sqlite3_reset(st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such user, or the password changed meanwhile");
	return sq_finish(q, rc);
}

static const char SQL_ROOTS[] =
	"SELECT (SELECT role = 2 AND disabled = 0 FROM users WHERE id = ?1), "
	"(SELECT count(*) FROM users WHERE role = 2 AND disabled = 0)";

/*
 * Inside a write transaction: loads user id into u, and refuses (STORE_INVALID)
 * when the change about to be made would leave no enabled root.
 */
static int
keep_a_root(struct sq *q, int64_t id, struct store_user *u, const char *what)
{
	sqlite3_stmt *st;
	int rc, row, last = 0;

	if ((rc = sq_user_get(&q->base, NULL, id, u)) != STORE_OK)
		return rc;
	if (!(st = sq_stmt(q, SQL_ROOTS)))
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sq_step(q, st, "roots", &row)) == STORE_OK && row)
		last = sqlite3_column_int(st, 0) == 1 && sqlite3_column_int(st, 1) <= 1;
	sqlite3_reset(st);
	if (rc == STORE_OK && last)
		rc = store_fail(&q->base, STORE_INVALID, "cannot %s %s: the last enabled root",
		                what, u->name);
	return rc;
}

static const char SQL_SET_ROLE[] = "UPDATE users SET role = ?2 WHERE id = ?1";

int
sq_user_set_role(struct store *s, int64_t id, int role)
{
	struct sq *q = sq_of(s);
	struct store_user u;
	int64_t args[] = { id, role };
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if (role == ROLE_ROOT)
		rc = sq_user_get(s, NULL, id, &u);
	else
		rc = keep_a_root(q, id, &u, "demote");
	if (rc != STORE_OK || (rc = sq_run(q, SQL_SET_ROLE, args, 2, NULL)) != STORE_OK ||
	    (rc = sq_commit(q)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_END_USER_ALL[] =
	"UPDATE rights SET ended_at = ?2, end_reason = ?3 "
	"WHERE user_id = ?1 AND ended_at IS NULL";

/* Ends the user's live rights (END_USER_DISABLED) and drops their logins. */
static int
user_cut_off(struct sq *q, int64_t id, int64_t now)
{
	int64_t end[] = { id, now, END_USER_DISABLED };
	int rc;

	if ((rc = sq_run(q, SQL_END_USER_ALL, end, 3, NULL)) != STORE_OK)
		return rc;
	return sq_run(q, SQL_LOGINS_DEL_USER, &id, 1, NULL);
}

static const char SQL_SET_DISABLED[] = "UPDATE users SET disabled = ?2 WHERE id = ?1";

int
sq_user_set_disabled(struct store *s, int64_t id, int disabled, int64_t now)
{
	struct sq *q = sq_of(s);
	struct store_user u;
	int64_t args[] = { id, disabled };
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if (disabled)
		rc = keep_a_root(q, id, &u, "disable");
	else
		rc = sq_user_get(s, NULL, id, &u);
	if (rc != STORE_OK || (rc = sq_run(q, SQL_SET_DISABLED, args, 2, NULL)) != STORE_OK)
		goto fail;
	if (disabled && (rc = user_cut_off(q, id, now)) != STORE_OK)
		goto fail;
	if ((rc = sq_commit(q)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_ADMINISTERS[] =
	"SELECT name FROM services WHERE admin_id = ?1 ORDER BY name";

/* STORE_INVALID naming the services u still administers, if any. */
static int
no_services(struct sq *q, const struct store_user *u)
{
	char list[STORE_ERR_MAX / 2] = "";
	size_t len = 0;
	sqlite3_stmt *st = sq_stmt(q, SQL_ADMINISTERS);
	int rc, row, n = 0;

	if (!st)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(st, 1, u->id);
	while ((rc = sq_step(q, st, "administers", &row)) == STORE_OK && row) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (len + NAME_MAX_LEN + 8 < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", n ? ", " : "", name);
		else if (len + 5 < sizeof list && list[len - 1] != '.')
			len += (size_t)snprintf(list + len, sizeof list - len, ", ...");
		n++;
	}
	sqlite3_reset(st);
	if (rc == STORE_OK && n > 0)
		rc = store_fail(&q->base, STORE_INVALID, "%s still administers %d service%s: %s",
		                u->name, n, n == 1 ? "" : "s", list);
	return rc;
}

static const char SQL_USER_DEL[] = "DELETE FROM users WHERE id = ?1";

/* Ends the user's rights like disabling does; the rights keep the name for audit. */
int
sq_user_del(struct store *s, int64_t id, int64_t now)
{
	struct sq *q = sq_of(s);
	struct store_user u;
	int rc;

	if ((rc = sq_begin(q, 1)) != STORE_OK)
		return rc;
	if ((rc = keep_a_root(q, id, &u, "delete")) != STORE_OK ||
	    (rc = no_services(q, &u)) != STORE_OK ||
	    (rc = user_cut_off(q, id, now)) != STORE_OK ||
	    (rc = sq_run(q, SQL_USER_DEL, &id, 1, NULL)) != STORE_OK ||
	    (rc = sq_commit(q)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	sq_rollback(q);
	return rc;
}

static const char SQL_LOGIN_PUT[] =
	"INSERT INTO logins (id_hash, user_id, csrf, created_at, expires_at, last_seen) "
	"SELECT ?1, id, ?3, ?4, ?5, ?4 FROM users WHERE id = ?2 AND disabled = 0";

int
sq_login_put(struct store *s, const char *id_hash, int64_t user_id, const char *csrf,
             int64_t now, int64_t expires_at)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_stmt(q, SQL_LOGIN_PUT, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, id_hash);
	sqlite3_bind_int64(st, 2, user_id);
	sq_bind_text(st, 3, csrf);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, expires_at);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = store_fail(s, STORE_EXISTS, "login exists");
	else if (rc != SQLITE_DONE)
		rc = sq_fail(q, rc, "login put");
	else if (sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such enabled user");
	else
		rc = STORE_OK;
	return sq_finish(q, rc);
}

static const char SQL_LOGIN_GET[] =
	"SELECT l.user_id, u.name, u.role, l.csrf, l.created_at, l.expires_at, l.last_seen "
	"FROM logins l JOIN users u ON u.id = l.user_id "
	"WHERE l.id_hash = ?1 AND u.disabled = 0 AND l.expires_at > ?2 "
	"AND (?3 = 0 OR l.last_seen + ?3 > ?2)";
static const char SQL_LOGIN_SEEN[] =
	"UPDATE logins SET last_seen = ?2 WHERE id_hash = ?1 AND last_seen < ?2";

int
sq_login_get(struct store *s, const char *id_hash, int64_t now, int idle_s,
             struct store_login *l)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st = sq_stmt(q, SQL_LOGIN_GET);
	int rc, row;

	if (!st)
		return STORE_UNAVAILABLE;
	sq_bind_text(st, 1, id_hash);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, idle_s);
	if ((rc = sq_step(q, st, "login get", &row)) == STORE_OK && row) {
		memset(l, 0, sizeof *l);
		l->user_id = sqlite3_column_int64(st, 0);
		sq_col_text(st, 1, l->user_name, sizeof l->user_name);
		l->role = sqlite3_column_int(st, 2);
		sq_col_text(st, 3, l->csrf, sizeof l->csrf);
		l->created_at = sqlite3_column_int64(st, 4);
		l->expires_at = sqlite3_column_int64(st, 5);
		l->last_seen = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	if (rc != STORE_OK)
		return rc;
	if (!row)
		return store_fail(s, STORE_NOTFOUND, "no such login, or expired, idle or user disabled");
	if (idle_s > 0 && l->last_seen < now) {
		if ((rc = sq_begin_stmt(q, SQL_LOGIN_SEEN, &st)) != STORE_OK)
			return rc;
		sq_bind_text(st, 1, id_hash);
		sqlite3_bind_int64(st, 2, now);
		rc = sq_step(q, st, "login seen", &row);
		sqlite3_reset(st);
		if ((rc = sq_finish(q, rc)) == STORE_OK)
			l->last_seen = now;
	}
	return rc;
}

static const char SQL_LOGIN_DEL[] = "DELETE FROM logins WHERE id_hash = ?1";

int
sq_login_del(struct store *s, const char *id_hash)
{
	struct sq *q = sq_of(s);
	sqlite3_stmt *st;
	int rc, row;

	if ((rc = sq_begin_stmt(q, SQL_LOGIN_DEL, &st)) != STORE_OK)
		return rc;
	sq_bind_text(st, 1, id_hash);
	rc = sq_step(q, st, "login del", &row);
	sqlite3_reset(st);
	if (rc == STORE_OK && sqlite3_changes(q->db) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such login");
	return sq_finish(q, rc);
}
