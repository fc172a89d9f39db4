#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ctl.h"
#include "passwd.h"

/* Reads --password-file and hashes it into hash. */
static int
password_from_file(struct ctl *c, const char *what, char *hash, size_t n)
{
	const char *file = ctl_opt(c, "password-file");
	char pw[PASSWD_MAX + 1], err[512];
	int rc = CTL_OK;

	if (file == NULL)
		return ctl_usage("%s: --password-file is required", what);
	if (passwd_read_file(file, pw, sizeof pw, err, sizeof err) == -1)
		return ctl_fail("%s: %s", what, err);
	if (passwd_hash(pw, &passwd_default, hash, n, err, sizeof err) == -1)
		rc = ctl_fail("%s: %s", what, err);
	OPENSSL_cleanse(pw, sizeof pw);
	return rc;
}

int
ctl_user_add(struct ctl *c)
{
	const char *name = c->pos[0], *role_s = ctl_opt(c, "role");
	char hash[HASH_MAX_LEN + 1], err[512] = "";
	int64_t id;
	int role, rc;

	if (!name_valid(name))
		return ctl_fail("invalid user name \"%s\" (1..%d of A-Z a-z 0-9 . _ -)", name, NAME_MAX_LEN);
	if (role_s == NULL)
		return ctl_usage("user add: --role is required (user, admin or root)");
	if ((role = role_parse(role_s)) == -1)
		return ctl_usage("--role: \"%s\" is not one of user, admin, root", role_s);
	if ((rc = password_from_file(c, "user add", hash, sizeof hash)) != CTL_OK)
		return rc;
	rc = store_user_add(c->s, name, role, hash, c->now, &id, err, sizeof err);
	if (rc == STORE_EXISTS)
		return ctl_fail("user %s already exists", name);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "user add", err);
	if ((rc = ctl_audit(c, "user.add", NULL, name, "role=%s", role_str(role))) != CTL_OK)
		return rc;
	printf("added user %s (%s)\n", name, role_str(role));
	return CTL_OK;
}

static int
list_one(const struct store_user *u, void *arg)
{
	struct out *o = arg;
	char t[32];

	if (!o->json) {
		ctl_out_text(o, "%-32s %-6s %-8s %s\n", u->name, role_str(u->role),
		         u->disabled ? "disabled" : "enabled", ctl_time(u->created_at, t, sizeof t));
		return 0;
	}
	ctl_json_obj(o, NULL);
	ctl_json_str(o, "name", u->name);
	ctl_json_str(o, "role", role_str(u->role));
	ctl_json_bool(o, "disabled", u->disabled);
	ctl_json_str(o, "source", source_str(u->source));
	ctl_json_int(o, "created_at", u->created_at);
	ctl_json_end(o, '}');
	return 0;
}

int
ctl_user_list(struct ctl *c)
{
	struct out o;
	int rc;

	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, "users");
	} else {
		ctl_out_text(&o, "%-32s %-6s %-8s %s\n", "NAME", "ROLE", "STATE", "CREATED");
	}
	if ((rc = store_user_list(c->s, list_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "user list", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

int
ctl_user_passwd(struct ctl *c)
{
	struct store_user u;
	char hash[HASH_MAX_LEN + 1];
	int rc;

	if ((rc = ctl_get_user(c, c->pos[0], &u)) != CTL_OK)
		return rc;
	if (u.source != SOURCE_LOCAL)
		return ctl_fail("user passwd: %s's password is kept by its source (%s), not here",
		                u.name, source_str(u.source));
	if ((rc = password_from_file(c, "user passwd", hash, sizeof hash)) != CTL_OK)
		return rc;
	if ((rc = store_user_set_password(c->s, u.id, hash)) != STORE_OK)
		return ctl_store_fail(c, rc, "user passwd", NULL);
	if ((rc = ctl_audit(c, "user.passwd", NULL, u.name, "%s", "")) != CTL_OK)
		return rc;
	printf("changed the password of %s\n", u.name);
	return CTL_OK;
}

/* The ids of a user's live rights, so ipfd can be told after the store ended them. */
struct id_list {
	int64_t *ids;
	size_t n, cap;
	int oom;
};

static int
collect_right(const struct store_right *r, void *arg)
{
	struct id_list *l = arg;
	int64_t *p;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		if ((p = realloc(l->ids, l->cap * sizeof *p)) == NULL) {
			l->oom = 1;
			return 1;
		}
		l->ids = p;
	}
	l->ids[l->n++] = r->id;
	return 0;
}

static int
user_rights(struct ctl *c, int64_t user_id, struct id_list *l)
{
	int rc;

	memset(l, 0, sizeof *l);
	rc = store_right_list(c->s, 0, user_id, collect_right, l);
	if (rc != STORE_OK || l->oom) {
		free(l->ids);
		return rc != STORE_OK ? ctl_store_fail(c, rc, "right list", NULL)
		                      : ctl_fail("out of memory");
	}
	return CTL_OK;
}

static void
revoke_all(struct ctl *c, struct id_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		ctl_fw_revoke(c, l->ids[i]);
	free(l->ids);
}

static int
user_set_disabled(struct ctl *c, int disabled)
{
	struct store_user u;
	struct id_list l;
	char err[512] = "";
	int rc;

	if ((rc = ctl_get_user(c, c->pos[0], &u)) != CTL_OK ||
	    (rc = user_rights(c, u.id, &l)) != CTL_OK)
		return rc;
	rc = store_user_set_disabled(c->s, u.id, disabled, c->now, err, sizeof err);
	if (rc != STORE_OK) {
		free(l.ids);
		return ctl_store_fail(c, rc, disabled ? "user disable" : "user enable", err);
	}
	if (disabled)
		revoke_all(c, &l);
	else
		free(l.ids);
	rc = ctl_audit(c, disabled ? "user.disable" : "user.enable", NULL, u.name, "ended=%zu",
	               disabled ? l.n : 0);
	if (rc != CTL_OK)
		return rc;
	if (disabled)
		printf("disabled user %s (%zu rights ended)\n", u.name, l.n);
	else
		printf("enabled user %s\n", u.name);
	return CTL_OK;
}

int
ctl_user_disable(struct ctl *c)
{
	return user_set_disabled(c, 1);
}

int
ctl_user_enable(struct ctl *c)
{
	return user_set_disabled(c, 0);
}

int
ctl_user_del(struct ctl *c)
{
	struct store_user u;
	struct id_list l;
	char err[512] = "";
	int rc;

	if ((rc = ctl_get_user(c, c->pos[0], &u)) != CTL_OK ||
	    (rc = user_rights(c, u.id, &l)) != CTL_OK)
		return rc;
	if ((rc = store_user_del(c->s, u.id, c->now, err, sizeof err)) != STORE_OK) {
		free(l.ids);
		return ctl_store_fail(c, rc, "user del", err);
	}
	revoke_all(c, &l);
	if ((rc = ctl_audit(c, "user.del", NULL, u.name, "ended=%zu", l.n)) != CTL_OK)
		return rc;
	printf("deleted user %s (%zu rights ended)\n", u.name, l.n);
	return CTL_OK;
}
