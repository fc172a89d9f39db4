/*
 * PostgreSQL backend: users and their portal/admin logins. A rule over
 * several rows (the last root, who still administers what) is checked in a
 * write transaction, which holds the writers' lock: such transactions run one at
 * a time, so two operators cannot each remove "the other" root.
 */

#include <stdio.h>
#include <string.h>

#include "store_pg_int.h"

static void
user_read(const PGresult *r, int row, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	u->id = pg_i64(r, row, 0);
	pg_text(r, row, 1, u->name, sizeof u->name);
	u->role = (int)pg_i64(r, row, 2);
	pg_text(r, row, 3, u->pwhash, sizeof u->pwhash);
	u->disabled = (int)pg_i64(r, row, 4);
	u->created_at = pg_i64(r, row, 5);
	u->source = source_parse(PQgetvalue(r, row, 6));
}

static int
user_insert(struct store *s, const char *name, int role, const char *pwhash, int64_t now,
            const char *source, int64_t *id)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_text(&q, name);
	pgq_int(&q, role);
	pgq_text(&q, pwhash);
	pgq_int(&q, now);
	pgq_text(&q, source);
	rc = pg_exec(p, "INSERT INTO users (name, role, pwhash, created_at, source) "
	             "VALUES ($1, $2, $3, $4, $5) RETURNING id", &q, &r, "user add");
	if (rc == STORE_EXISTS)
		return store_fail(s, STORE_EXISTS, "user %s exists", name);
	if (rc == STORE_OK && id)
		*id = pg_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

int
pg_user_add(struct store *s, const char *name, int role, const char *pwhash, int64_t now,
            int64_t *id)
{
	return user_insert(s, name, role, pwhash, now, "local", id);
}

int
pg_user_add_external(struct store *s, const char *name, const char *source, int64_t now,
                     int64_t *id)
{
	return user_insert(s, name, ROLE_USER, PWHASH_EXTERNAL, now, source, id);
}

#define USER_COLS "id, name, role, pwhash, disabled, created_at, source"

int
pg_user_get(struct store *s, const char *name, int64_t id, struct store_user *u)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	if (name)
		pgq_text(&q, name);
	else
		pgq_int(&q, id);
	rc = pg_exec(p, name ? "SELECT " USER_COLS " FROM users WHERE name = $1"
	                     : "SELECT " USER_COLS " FROM users WHERE id = $1", &q, &r, "user get");
	if (rc == STORE_OK && PQntuples(r) == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such user");
	else if (rc == STORE_OK)
		user_read(r, 0, u);
	PQclear(r);
	return rc;
}

int
pg_user_list(struct store *s, store_user_fn fn, void *arg)
{
	struct pgs *p = pg_of(s);
	struct store_user u;
	PGresult *r;
	int rc = pg_exec(p, "SELECT " USER_COLS " FROM users ORDER BY name", NULL, &r, "user list");

	for (int i = 0; rc == STORE_OK && i < PQntuples(r); i++) {
		user_read(r, i, &u);
		if (fn && fn(&u, arg))
			break;
	}
	PQclear(r);
	return rc;
}

/* Runs an UPDATE of one user by id ($1); STORE_NOTFOUND (with why) when none matched. */
static int
user_update(struct pgs *p, const char *sql, const struct pgq *q, const char *why)
{
	int rc, n = 0;

	if ((rc = pg_run(p, sql, q, &n, "user update")) == STORE_OK && n == 0)
		rc = store_fail(&p->base, STORE_NOTFOUND, "%s", why);
	return rc;
}

/* A new password ends every portal login of the user, in the same transaction. */
int
pg_user_set_password(struct store *s, int64_t id, const char *pwhash)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, id);
	pgq_text(&q, pwhash);
	if ((rc = pg_begin(p, 0)) != STORE_OK)
		return rc;
	rc = user_update(p, "UPDATE users SET pwhash = $2 WHERE id = $1", &q, "no such user");
	q.n = 1;
	if (rc == STORE_OK)
		rc = pg_run(p, "DELETE FROM logins WHERE user_id = $1", &q, NULL, "logins del");
	return pg_finish(p, rc);
}

int
pg_user_rehash(struct store *s, int64_t id, const char *old_hash, const char *new_hash)
{
	struct pgq q = { .n = 0 };

	pgq_int(&q, id);
	pgq_text(&q, old_hash);
	pgq_text(&q, new_hash);
	return user_update(pg_of(s), "UPDATE users SET pwhash = $3 WHERE id = $1 AND pwhash = $2",
	                   &q, "no such user, or the password changed meanwhile");
}

/*
 * Inside a write transaction: loads user id into u, and refuses (STORE_INVALID)
 * when the change about to be made would leave no enabled root.
 */
static int
keep_a_root(struct pgs *p, int64_t id, struct store_user *u, const char *what)
{
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc, last;

	if ((rc = pg_user_get(&p->base, NULL, id, u)) != STORE_OK)
		return rc;
	pgq_int(&q, id);
	rc = pg_exec(p, "SELECT coalesce((SELECT role = 2 AND disabled = 0 FROM users "
	             "WHERE id = $1), false), (SELECT count(*) FROM users WHERE role = 2 "
	             "AND disabled = 0)", &q, &r, "roots");
	if (rc != STORE_OK)
		return rc;
	last = PQgetvalue(r, 0, 0)[0] == 't' && pg_i64(r, 0, 1) <= 1;
	PQclear(r);
	if (last)
		return store_fail(&p->base, STORE_INVALID, "cannot %s %s: the last enabled root",
		                  what, u->name);
	return STORE_OK;
}

int
pg_user_set_role(struct store *s, int64_t id, int role)
{
	struct pgs *p = pg_of(s);
	struct store_user u;
	struct pgq q = { .n = 0 };
	int rc;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	rc = role == ROLE_ROOT ? pg_user_get(s, NULL, id, &u) : keep_a_root(p, id, &u, "demote");
	pgq_int(&q, id);
	pgq_int(&q, role);
	if (rc == STORE_OK)
		rc = pg_run(p, "UPDATE users SET role = $2 WHERE id = $1", &q, NULL, "set role");
	return pg_finish(p, rc);
}

/* Ends the user's live rights (END_USER_DISABLED) and drops their logins. */
static int
user_cut_off(struct pgs *p, int64_t id, int64_t now)
{
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, id);
	pgq_int(&q, now);
	pgq_int(&q, END_USER_DISABLED);
	rc = pg_run(p, "UPDATE rights SET ended_at = $2, end_reason = $3 "
	            "WHERE user_id = $1 AND ended_at IS NULL", &q, NULL, "end user rights");
	q.n = 1;
	if (rc == STORE_OK)
		rc = pg_run(p, "DELETE FROM logins WHERE user_id = $1", &q, NULL, "logins del");
	return rc;
}

int
pg_user_set_disabled(struct store *s, int64_t id, int disabled, int64_t now)
{
	struct pgs *p = pg_of(s);
	struct store_user u;
	struct pgq q = { .n = 0 };
	int rc;

	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	rc = disabled ? keep_a_root(p, id, &u, "disable") : pg_user_get(s, NULL, id, &u);
	pgq_int(&q, id);
	pgq_int(&q, disabled);
	if (rc == STORE_OK)
		rc = pg_run(p, "UPDATE users SET disabled = $2 WHERE id = $1", &q, NULL, "disable");
	if (rc == STORE_OK && disabled)
		rc = user_cut_off(p, id, now);
	return pg_finish(p, rc);
}

/* STORE_INVALID naming the services u still administers, if any. */
static int
no_services(struct pgs *p, const struct store_user *u)
{
	char list[STORE_ERR_MAX / 2] = "";
	struct pgq q = { .n = 0 };
	PGresult *r;
	size_t len = 0;
	int rc, n;

	pgq_int(&q, u->id);
	rc = pg_exec(p, "SELECT name FROM services WHERE admin_id = $1 ORDER BY name", &q, &r,
	             "administers");
	if (rc != STORE_OK)
		return rc;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		if (len + NAME_MAX_LEN + 8 < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
			                        PQgetvalue(r, i, 0));
		else if (len + 5 < sizeof list && list[len - 1] != '.')
			len += (size_t)snprintf(list + len, sizeof list - len, ", ...");
	}
	PQclear(r);
	if (n > 0)
		return store_fail(&p->base, STORE_INVALID, "%s still administers %d service%s: %s",
		                  u->name, n, n == 1 ? "" : "s", list);
	return STORE_OK;
}

/* Ends the user's rights like disabling does; the rights keep the name for audit. */
int
pg_user_del(struct store *s, int64_t id, int64_t now)
{
	struct pgs *p = pg_of(s);
	struct store_user u;
	struct pgq q = { .n = 0 };
	int rc;

	pgq_int(&q, id);
	if ((rc = pg_begin(p, 1)) != STORE_OK)
		return rc;
	if ((rc = keep_a_root(p, id, &u, "delete")) == STORE_OK &&
	    (rc = no_services(p, &u)) == STORE_OK &&
	    (rc = user_cut_off(p, id, now)) == STORE_OK)
		rc = pg_run(p, "DELETE FROM users WHERE id = $1", &q, NULL, "user del");
	return pg_finish(p, rc);
}

int
pg_login_put(struct store *s, const char *id_hash, int64_t user_id, const char *csrf,
             int64_t now, int64_t expires_at)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_text(&q, id_hash);
	pgq_int(&q, user_id);
	pgq_text(&q, csrf);
	pgq_int(&q, now);
	pgq_int(&q, expires_at);
	rc = pg_run(pg_of(s), "INSERT INTO logins (id_hash, user_id, csrf, created_at, expires_at, "
	            "last_seen) SELECT $1, id, $3, $4::bigint, $5::bigint, $4::bigint FROM users WHERE id = $2 "
	            "AND disabled = 0", &q, &n, "login put");
	if (rc == STORE_EXISTS)
		return store_fail(s, STORE_EXISTS, "login exists");
	if (rc == STORE_OK && n == 0)
		return store_fail(s, STORE_NOTFOUND, "no such enabled user");
	return rc;
}

int
pg_login_get(struct store *s, const char *id_hash, int64_t now, int idle_s,
             struct store_login *l)
{
	struct pgs *p = pg_of(s);
	struct pgq q = { .n = 0 };
	PGresult *r;
	int rc;

	pgq_text(&q, id_hash);
	pgq_int(&q, now);
	pgq_int(&q, idle_s);
	rc = pg_exec(p, "SELECT l.user_id, u.name, u.role, l.csrf, l.created_at, l.expires_at, "
	             "l.last_seen FROM logins l JOIN users u ON u.id = l.user_id "
	             "WHERE l.id_hash = $1 AND u.disabled = 0 AND l.expires_at > $2 "
	             "AND ($3 = 0 OR l.last_seen + $3 > $2)", &q, &r, "login get");
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return store_fail(s, STORE_NOTFOUND, "no such login, or expired, idle or user disabled");
	}
	memset(l, 0, sizeof *l);
	l->user_id = pg_i64(r, 0, 0);
	pg_text(r, 0, 1, l->user_name, sizeof l->user_name);
	l->role = (int)pg_i64(r, 0, 2);
	pg_text(r, 0, 3, l->csrf, sizeof l->csrf);
	l->created_at = pg_i64(r, 0, 4);
	l->expires_at = pg_i64(r, 0, 5);
	l->last_seen = pg_i64(r, 0, 6);
	PQclear(r);
	if (idle_s > 0 && l->last_seen < now) {
		q.n = 2;
		rc = pg_run(p, "UPDATE logins SET last_seen = $2 WHERE id_hash = $1 AND last_seen < $2",
		            &q, NULL, "login seen");
		if (rc == STORE_OK)
			l->last_seen = now;
	}
	return rc;
}

int
pg_login_del(struct store *s, const char *id_hash)
{
	struct pgq q = { .n = 0 };
	int rc, n = 0;

	pgq_text(&q, id_hash);
	rc = pg_run(pg_of(s), "DELETE FROM logins WHERE id_hash = $1", &q, &n, "login del");
	if (rc == STORE_OK && n == 0)
		rc = store_fail(s, STORE_NOTFOUND, "no such login");
	return rc;
}
