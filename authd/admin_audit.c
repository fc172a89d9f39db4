#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"

/*
 * The audit log (root): newest first, AUDIT_PAGE rows a page, filtered by
 * service and by user (as actor or target). Older pages are asked for with
 * ?before=ID, the id of the last row shown, so a page never shifts while rows
 * are being added.
 */

#define AUDIT_PAGE 50

struct audit_page {
	struct tmpl_ctx *c;
	int n;
	int64_t last_id;
	int more;
};

static void
audit_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, n, "?");
}

static int
add_row(const struct store_audit *a, void *arg)
{
	struct audit_page *p = arg;
	struct tmpl_ctx *row;
	char when[32];

	if (p->n == AUDIT_PAGE) {
		p->more = 1;
		return 1;
	}
	if ((row = tmpl_row(p->c, "entries")) == NULL)
		return 1;
	p->n++;
	p->last_id = a->id;
	audit_time(a->at, when, sizeof when);
	tmpl_set(row, "at", when);
	tmpl_set(row, "actor", a->actor);
	tmpl_set(row, "action", a->action);
	tmpl_set(row, "service", a->service);
	tmpl_set(row, "target", a->target);
	tmpl_set(row, "detail", a->detail);
	return 0;
}

/*
 * A filter value from the query: NULL when absent or empty, else it must be a
 * valid name (err_NAME is set on c when it is not, and *bad becomes 1).
 */
static const char *
filter_arg(struct req *q, struct tmpl_ctx *c, const char *name, int *bad)
{
	const char *v = http_query(q->r, name);
	char key[32];

	if (v == NULL || v[0] == '\0')
		return NULL;
	snprintf(key, sizeof key, "f_%s", name);
	tmpl_set(c, key, v);
	if (name_valid(v))
		return v;
	snprintf(key, sizeof key, "err_%s", name);
	tmpl_set(c, key, "Not a valid name: letters, digits, dot, dash and underscore.");
	*bad = 1;
	return NULL;
}

void
admin_audit_list(struct req *q)
{
	struct store_audit_filter f;
	struct audit_page p;
	struct store *st;
	int bad = 0, rc = STORE_OK;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	memset(&p, 0, sizeof p);
	if ((p.c = admin_ctx(q, "Audit log", "audit")) == NULL) {
		page_render(q, 500, "admin_audit", NULL);
		return;
	}
	memset(&f, 0, sizeof f);
	f.service = filter_arg(q, p.c, "service", &bad);
	f.user = filter_arg(q, p.c, "user", &bad);
	f.before_id = admin_id_arg(q, "before", 0);
	f.limit = AUDIT_PAGE + 1;
	if (!bad)
		rc = store_audit_list(st, &f, add_row, &p);
	if (rc != STORE_OK) {
		tmpl_ctx_free(p.c);
		admin_store_down(q, st, rc);
		return;
	}
	if (p.n == 0)
		tmpl_set(p.c, "no_entries", "1");
	if (p.more)
		tmpl_setf(p.c, "older", "%lld", (long long)p.last_id);
	if (f.before_id > 0)
		tmpl_set(p.c, "paged", "1");
	page_render(q, bad ? 400 : 200, "admin_audit", p.c);
}
