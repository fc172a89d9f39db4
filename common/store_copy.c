/*
 * The copy of an installation between backends: which tables, in which
 * order, and the bookkeeping around the source's export and the target's
 * import (store_sqlite_export.c, store_pg_import.c).
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_copy.h"
#include "store_int.h"

/*
 * Parents before children (the target checks references as rows arrive);
 * services before rights, so the target's triggers count each service's
 * live rights again (services.active is not copied) and log them.
 */
static const struct store_table tables[STORE_COPY_TABLES] = {
	{ "users", "id", NULL, 1 },
	{ "groups", "id", NULL, 1 },
	{ "group_members", "group_id, user_id", NULL, 0 },
	{ "services", "id", "active", 1 },
	{ "guards", "service_id, pos", NULL, 0 },
	{ "service_acl", "service_id, user_id, group_id", NULL, 0 },
	{ "rights", "id", NULL, 1 },
	{ "entry_codes", "code_hash", NULL, 0 },
	{ "logins", "id_hash", NULL, 0 },
	{ "keys", "kid", NULL, 0 },
	{ "tls_keys", "kid", NULL, 0 },
	{ "queue", "id", NULL, 1 },
	{ "admissions", "id", NULL, 1 },   /* the admission rate's last minute */
	{ "lockouts", "name, source", NULL, 0 },
	{ "known_sources", "user_id, source", NULL, 0 },
	{ "audit", "id", NULL, 1 },
};

/* Tables of the source that are not moved: see store_copy.h. */
static const char *const skipped[] = { "changes", "leases", NULL };

struct copy_run {
	struct store *to;
	int64_t rows[STORE_COPY_TABLES];
	int64_t seq[STORE_COPY_TABLES];     /* the source's last id handed out per table */
};

static int
copy_row(const struct store_table *t, const struct store_row *r, void *arg)
{
	struct copy_run *run = arg;

	run->rows[t - tables]++;
	return store_pg_import_row(run->to, t, r);
}

static int64_t
count_of(const struct copy_run *run, const char *table)
{
	for (int i = 0; i < STORE_COPY_TABLES; i++)
		if (strcmp(tables[i].name, table) == 0)
			return run->rows[i];
	return 0;
}

/* The move's own audit row: who, from where, and what it carried. */
static void
copy_audit(struct store_audit *a, const struct copy_run *run, const char *from_name,
           const char *by, int64_t now)
{
	memset(a, 0, sizeof *a);
	a->at = now;
	snprintf(a->actor, sizeof a->actor, "sekishoctl");
	snprintf(a->action, sizeof a->action, "store.copy");
	snprintf(a->detail, sizeof a->detail, "by=%s from=%.200s users=%" PRId64 " services=%"
	         PRId64 " rights=%" PRId64 " audit=%" PRId64, by, from_name,
	         count_of(run, "users"), count_of(run, "services"), count_of(run, "rights"),
	         count_of(run, "audit"));
}

int
store_copy(struct store *from, const char *from_name, struct store *to, int replace,
           const char *by, int64_t now, struct store_copy_report *r, char *err, size_t errlen)
{
	struct copy_run run = { .to = to };
	struct store_audit a;
	int rc;

	store_clear(from);
	store_clear(to);
	if ((rc = store_pg_import_begin(to, tables, STORE_COPY_TABLES, replace)) != STORE_OK)
		return store_report(to, rc, err, errlen);
	rc = store_sqlite_export(from, tables, STORE_COPY_TABLES, skipped, copy_row, &run, run.seq);
	if (rc != STORE_OK && from->err[0] != '\0') {
		store_pg_import_end(to, tables, STORE_COPY_TABLES, NULL, NULL, rc);
		return store_report(from, rc, err, errlen);
	}
	copy_audit(&a, &run, from_name, by, now);
	if ((rc = store_pg_import_end(to, tables, STORE_COPY_TABLES, run.seq, &a, rc)) != STORE_OK)
		return store_report(to, rc, err, errlen);
	if (r != NULL) {
		r->n = STORE_COPY_TABLES;
		for (int i = 0; i < STORE_COPY_TABLES; i++) {
			r->table[i] = tables[i].name;
			r->rows[i] = run.rows[i];
		}
	}
	return STORE_OK;
}
