#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "store_copy.h"

/*
 * sekishoctl store copy: moves an installation from its SQLite file to a
 * PostgreSQL database (docs/scaleout.md, "Moving from SQLite to
 * PostgreSQL"). The daemons are stopped meanwhile: the source is only read,
 * and the target takes everything in one transaction or nothing.
 */

/* The source: --from, else the config's db.path. */
static int
copy_source(struct ctl *c, struct conf_db *db)
{
	const char *from = ctl_opt(c, "from");

	*db = c->conf.db;
	db->url[0] = '\0';
	if (from == NULL)
		return CTL_OK;
	if (from[0] == '\0' || strlen(from) >= sizeof db->path)
		return ctl_usage("store copy: --from needs a file path of at most %zu bytes",
		                 sizeof db->path - 1);
	snprintf(db->path, sizeof db->path, "%s", from);
	return CTL_OK;
}

/* The target: --to, else the config's db.url. */
static int
copy_target(struct ctl *c, struct conf_db *db)
{
	const char *to = ctl_opt(c, "to");

	*db = c->conf.db;
	if (to == NULL && db->url[0] == '\0')
		return ctl_usage("store copy: --to URL is needed (or [db] url in the config)");
	if (to == NULL)
		return CTL_OK;
	if (to[0] == '\0' || strlen(to) >= sizeof db->url)
		return ctl_usage("store copy: --to needs a PostgreSQL connection string of at most "
		                 "%zu bytes", sizeof db->url - 1);
	snprintf(db->url, sizeof db->url, "%s", to);
	return CTL_OK;
}

static int
copy_report(const struct ctl *c, const char *from, const struct store_copy_report *r)
{
	struct out o;

	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_str(&o, "from", from);
		ctl_json_obj(&o, "rows");
		for (int i = 0; i < r->n; i++)
			ctl_json_int(&o, r->table[i], r->rows[i]);
		ctl_json_end(&o, '}');
		ctl_json_end(&o, '}');
		return ctl_out_flush(&o);
	}
	ctl_out_text(&o, "copied %s to PostgreSQL in one transaction:\n", from);
	for (int i = 0; i < r->n; i++)
		ctl_out_text(&o, "  %-14s %lld\n", r->table[i], (long long)r->rows[i]);
	ctl_out_text(&o, "next: set [db] url to the target in the configuration and start "
	             "ipfd, cid and authd\n");
	return ctl_out_flush(&o);
}

int
ctl_store_copy(struct ctl *c)
{
	struct conf_db src, dst;
	struct store_copy_report r;
	struct store *from, *to;
	char err[512];
	int rc;

	if ((rc = copy_source(c, &src)) != CTL_OK || (rc = copy_target(c, &dst)) != CTL_OK)
		return rc;
	if ((from = store_open(&src, STORE_OPEN_READONLY, err, sizeof err)) == NULL)
		return ctl_fail("store copy: source %s: %s", src.path, err);
	/* An empty database gets this build's schema; an older one is refused (migrate it). */
	if ((to = store_open(&dst, STORE_OPEN_CREATE, err, sizeof err)) == NULL) {
		store_close(from);
		return ctl_fail("store copy: target: %s", err);
	}
	rc = store_copy(from, src.path, to, ctl_flag(c, "replace"), c->by, c->now, &r, err,
	                sizeof err);
	store_close(to);
	store_close(from);
	if (rc == STORE_EXISTS)
		return ctl_fail("store copy: %s; nothing was copied (--replace empties it first)", err);
	if (rc != STORE_OK)
		return ctl_fail("store copy: %s; nothing was copied", err);
	return copy_report(c, src.path, &r);
}
