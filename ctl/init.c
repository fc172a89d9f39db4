#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ctl.h"
#include "passwd.h"
#include "token.h"

#define GENERATED_PW_BYTES 15   /* 20 base64url characters */

/* The root password: from the file, or generated (and printed once). */
static int
root_password(struct ctl *c, char *pw, size_t n, int *generated)
{
	const char *file = ctl_opt(c, "root-password-file");
	char err[512];

	*generated = file == NULL;
	if (file == NULL) {
		if (random_b64url(pw, n, GENERATED_PW_BYTES) == -1)
			return ctl_fail("init: cannot generate a password");
		return CTL_OK;
	}
	if (passwd_read_file(file, pw, n, err, sizeof err) == -1)
		return ctl_fail("init: %s", err);
	return CTL_OK;
}

static const char *
db_name(const struct ctl *c)
{
	return c->conf.db.url[0] != '\0' ? "the PostgreSQL database" : c->conf.db.path;
}

/* Creates the root account and the cookie keys in a freshly opened store. */
static int
init_content(struct ctl *c, const char *name, const char *hash)
{
	struct store_stats st;
	char err[512] = "";
	int64_t id;
	int rc, added = 0;

	if ((rc = store_stats(c->s, &st)) != STORE_OK)
		return ctl_store_fail(c, rc, "init", NULL);
	if (st.users > 0)
		return ctl_fail("init: %s is already initialised (%lld users); "
		                "use \"sekishoctl migrate\" to upgrade its schema",
		                db_name(c), (long long)st.users);
	if ((rc = store_user_add(c->s, name, ROLE_ROOT, hash, c->now, &id, err, sizeof err)) != STORE_OK)
		return ctl_store_fail(c, rc, "init", err);
	rc = keyring_ensure(c->s, c->now, (int64_t)c->conf.authd.key_rotate_h * 3600, &added);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "init: cookie keys", NULL);
	return ctl_audit(c, "init", NULL, name, "schema=%d keys=%d", store_version(c->s), added);
}

int
ctl_init(struct ctl *c)
{
	const char *name = ctl_opt(c, "root-name");
	char pw[PASSWD_MAX + 1], hash[HASH_MAX_LEN + 1], err[512];
	int generated, rc;

	if (name == NULL)
		name = "root";
	if (!name_valid(name))
		return ctl_usage("init: invalid user name \"%s\"", name);
	if ((rc = root_password(c, pw, sizeof pw, &generated)) != CTL_OK)
		return rc;
	rc = passwd_hash(pw, &passwd_default, hash, sizeof hash, err, sizeof err);
	if (rc == -1) {
		rc = ctl_fail("init: %s", err);
		goto done;
	}
	c->s = store_open(&c->conf.db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err);
	if (c->s == NULL) {
		rc = ctl_fail("init: %s", err);
		goto done;
	}
	if ((rc = init_content(c, name, hash)) != CTL_OK)
		goto done;
	printf("initialised %s (schema version %d); root user: %s\n", db_name(c),
	       store_version(c->s), name);
	if (generated)
		printf("password of %s: %s\n(shown only now; change it with \"sekishoctl user passwd %s "
		       "--password-file F\")\n", name, pw, name);
done:
	OPENSSL_cleanse(pw, sizeof pw);
	return rc;
}

int
ctl_migrate(struct ctl *c)
{
	char err[512];

	if ((c->s = store_open(&c->conf.db, 0, err, sizeof err)) != NULL) {
		printf("schema is up to date (version %d)\n", store_version(c->s));
		return CTL_OK;
	}
	c->s = store_open(&c->conf.db, STORE_OPEN_MIGRATE, err, sizeof err);
	if (c->s == NULL)
		return ctl_fail("migrate: %s", err);
	printf("migrated %s to schema version %d\n", db_name(c), store_version(c->s));
	return ctl_audit(c, "migrate", NULL, NULL, "schema=%d", store_version(c->s));
}
