#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "pgcluster.h"

void
fx_init(struct fx *f)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "%s/sekisho-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(f->dir), "mkdtemp %s", f->dir);
	fx_path(f, "sekisho.db", f->db.path, sizeof f->db.path);
	f->db.busy_timeout_ms = 10000;
	f->db.retention_days = 30;
	f->db.pool_size = CONF_POOL_DEFAULT;
}

void
fx_init_pg(struct fx *f)
{
	char err[256];

	fx_init(f);
	cr_assert_eq(pgc_createdb(getenv(PGC_ENV), f->db.url, sizeof f->db.url, err, sizeof err), 0,
	             "test database: %s", err);
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

void
fx_cleanup(struct fx *f)
{
	if (f->dir[0])
		nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	f->dir[0] = '\0';
}

const char *
fx_path(const struct fx *f, const char *name, char *buf, size_t n)
{
	cr_assert_lt((size_t)snprintf(buf, n, "%s/%s", f->dir, name), n, "path too long");
	return buf;
}

struct store *
fx_open(const struct fx *f)
{
	char err[256] = "";
	struct store *s = store_open(&f->db, STORE_OPEN_CREATE | STORE_OPEN_MIGRATE, err, sizeof err);

	cr_assert_not_null(s, "store_open: %s", err);
	return s;
}

int64_t
fx_user(struct store *s, const char *name, int role)
{
	char err[256] = "";
	int64_t id = 0;
	int rc = store_user_add(s, name, role, "$test$placeholder", 1, &id, err, sizeof err);

	cr_assert_eq(rc, STORE_OK, "user_add %s: %s", name, err);
	return id;
}

/*
 * Services made by fx_service in this test process: each guards its own port
 * (80, 81, ...), so no two overlap. A counter, not the store's largest id,
 * so it also works on a store at an old schema version (test_migrate), whose
 * rows the current service reads cannot load.
 */
static int64_t fx_services_made;

int64_t
fx_service(struct store *s, const char *name, int cap, int usage_min, int interval_min,
           int64_t admin_id)
{
	struct store_service v;
	char err[256] = "";
	int64_t id = 0;
	int rc;

	memset(&v, 0, sizeof v);
	snprintf(v.name, sizeof v.name, "%s", name);
	snprintf(v.url, sizeof v.url, "http://%s.example/", name);
	v.max_usage_min = usage_min;
	v.max_interval_min = interval_min;
	v.cap = cap;
	v.admin_id = admin_id;
	v.enabled = 1;
	v.n_guards = 1;
	v.guards[0].addr = fx_ip("192.0.2.10");
	v.guards[0].port = (uint16_t)(80 + fx_services_made++);
	rc = store_service_add(s, &v, ROLE_ROOT, 1, &id, err, sizeof err);
	cr_assert_eq(rc, STORE_OK, "service_add %s: %s", name, err);
	return id;
}

struct addr
fx_ip(const char *text)
{
	struct addr a;

	cr_assert_eq(addr_parse(text, &a), 0, "not an address: %s", text);
	return a;
}

int
fx_admit(struct store *s, int64_t user, int64_t service, const char *ip, int64_t now,
         struct store_admission *a)
{
	struct addr addr = fx_ip(ip);

	return store_admit(s, user, service, &addr, now, a);
}

static int
count_one(const struct store_right *r, void *arg)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

int
fx_live_rights(struct store *s, int64_t service)
{
	int n = 0;

	cr_assert_eq(store_right_list(s, service, 0, count_one, &n), STORE_OK, "%s", store_error(s));
	return n;
}

int
fx_active(struct store *s, int64_t service)
{
	struct store_service v;

	cr_assert_eq(store_service_get_id(s, service, &v), STORE_OK, "%s", store_error(s));
	return v.active;
}
