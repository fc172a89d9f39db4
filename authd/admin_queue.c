#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

/*
 * The waiting room for admins: each service's line (length, oldest wait,
 * recent admissions from the line), the places of one line in order with a
 * button to remove one (POST, CSRF, audited queue.remove), and the waiting
 * room fields of the service form. Root sees every service; an admin the
 * services they administer (admin_service_load).
 */

#define LINES_SHOWN     1024        /* services on the overview */
#define PLACES_SHOWN    500         /* places on one line's page */
#define RECENT_PAGE     1000        /* audit rows read at once (store_audit_list's most) */
#define RECENT_SCANNED  20000       /* audit rows read at most for recent admissions */
#define RECENT_SHOWN    20
#define RECENT_WINDOW_S 3600        /* "recent": the last hour */

static const char *const mode_names[] = { "default", "off", "on" };

void
admin_queue_form_from(struct admin_svc_form *f, const struct service_queue *sq,
                      struct admin_queue_text *t)
{
	t->max[0] = t->lapse[0] = t->rate[0] = '\0';
	if (sq->max > 0)
		snprintf(t->max, sizeof t->max, "%d", sq->max);
	if (sq->lapse_s > 0)
		snprintf(t->lapse, sizeof t->lapse, "%d", sq->lapse_s);
	if (sq->rate_per_min > 0)
		snprintf(t->rate, sizeof t->rate, "%d", sq->rate_per_min);
	f->f[ASF_QUEUE].in = sq->mode >= QUEUE_DEFAULT && sq->mode <= QUEUE_ON ?
	                     mode_names[sq->mode + 1] : "default";
	f->f[ASF_QUEUE_MAX].in = t->max;
	f->f[ASF_QUEUE_LAPSE].in = t->lapse;
	f->f[ASF_RATE].in = t->rate;
}

void
admin_queue_select(struct tmpl_ctx *c, const char *mode)
{
	static const char *const keys[] = { "qsel_default", "qsel_off", "qsel_on" };

	for (int i = 0; mode != NULL && i < 3; i++)
		if (strcmp(mode, mode_names[i]) == 0)
			tmpl_set(c, keys[i], "1");
}

int
admin_queue_save(struct req *q, struct store *st, const struct store_service *old,
                 const struct store_service *svc)
{
	static const struct service_queue defaults = { QUEUE_DEFAULT, 0, 0, 0 };
	const struct service_queue *was = old ? &old->queue : &defaults, *now = &svc->queue;
	char err[256] = "";
	int rc;

	if (memcmp(was, now, sizeof *now) == 0)
		return 0;
	if ((rc = store_service_set_queue(st, svc->id, now, err, sizeof err)) != STORE_OK) {
		if (rc == STORE_UNAVAILABLE)
			admin_store_down(q, st, rc);
		else
			page_message(q, 400, "Not changed", err, "/admin/", "Back to the services");
		return -1;
	}
	admin_audit(q, st, "service.queue", svc->name, NULL, "queue=%s queue_max=%d "
	            "queue_lapse_s=%d rate_per_min=%d", mode_names[now->mode + 1], now->max,
	            now->lapse_s, now->rate_per_min);
	return 0;
}

/* The waiting room in force for svc ([authd] keys where it has none), into c. */
static void
rules_show(struct req *q, struct tmpl_ctx *c, const struct store_service *svc)
{
	struct store_queue_rules r;
	char when[32];

	if (queue_rules(&q->v->conf.authd, svc, &r) != NULL) {
		tmpl_set(c, "queue_on", "1");
		tmpl_setf(c, "queue_max", "%d", r.max);
		page_duration(r.lapse_s, when, sizeof when);
		tmpl_set(c, "queue_lapse", when);
	}
	if (svc->queue.rate_per_min > 0)
		tmpl_setf(c, "rate", "%d", svc->queue.rate_per_min);
}

/* Length and oldest wait of one line into c; -1 after answering when the store fails. */
static int
length_show(struct req *q, struct store *st, struct tmpl_ctx *c, int64_t service_id)
{
	char when[32];
	int64_t oldest;
	int n, rc;

	if ((rc = store_queue_len(st, service_id, &n, &oldest)) != STORE_OK) {
		admin_store_down(q, st, rc);
		return -1;
	}
	tmpl_setf(c, "waiting", "%d", n);
	if (n > 0) {
		page_duration(q->now > oldest ? q->now - oldest : 0, when, sizeof when);
		tmpl_set(c, "oldest_wait", when);
	}
	return 0;
}

struct own { struct store_service *v; int n; };

static int
note_service(const struct store_service *svc, void *arg)
{
	struct own *o = arg;

	if (o->n == LINES_SHOWN)
		return 1;
	o->v[o->n++] = *svc;
	return 0;
}

void
admin_queues_list(struct req *q)
{
	struct own o = { NULL, 0 };
	struct tmpl_ctx *c, *row;
	struct store *st;
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if ((o.v = calloc(LINES_SHOWN, sizeof *o.v)) == NULL ||
	    (c = admin_ctx(q, "Waiting lines", "queues")) == NULL) {
		free(o.v);
		admin_busy(q);
		return;
	}
	/* Services first, then each line: a callback never calls into the store. */
	rc = store_service_list(st, admin_is_root(q) ? 0 : q->login.user_id, note_service, &o);
	for (int i = 0; rc == STORE_OK && i < o.n; i++) {
		if ((row = tmpl_row(c, "lines")) == NULL)
			break;
		tmpl_setf(row, "id", "%lld", (long long)o.v[i].id);
		tmpl_set(row, "name", o.v[i].name);
		tmpl_setf(row, "active", "%d", o.v[i].active);
		tmpl_setf(row, "cap", "%d", service_cap_now(&o.v[i]));
		rules_show(q, row, &o.v[i]);
		if (length_show(q, st, row, o.v[i].id) == -1) {
			free(o.v);
			tmpl_ctx_free(c);
			return;
		}
	}
	free(o.v);
	if (rc != STORE_OK) {
		tmpl_ctx_free(c);
		admin_store_down(q, st, rc);
		return;
	}
	if (o.n == 0)
		tmpl_set(c, "no_services", "1");
	page_render(q, 200, "admin_queues", c);
}

/*
 * The scan for recent admissions from the line: n shown; read (in all) and
 * page (in this page) rows; last_id, the oldest read; done once past the
 * hour or RECENT_SHOWN found.
 */
struct recent {
	struct req *q;
	struct tmpl_ctx *c;
	int n, read, page, done;
	int64_t last_id;
};

/* The seconds of " waited=N" in an admit row's detail; -1 when there is none. */
static long long
waited_of(const char *detail)
{
	const char *w = strstr(detail, " waited=");
	char num[24];
	size_t len;
	long long v;

	if (w == NULL)
		return -1;
	w += strlen(" waited=");
	len = strspn(w, "0123456789");
	if (len == 0 || len >= sizeof num)
		return -1;
	memcpy(num, w, len);
	num[len] = '\0';
	return parse_int(num, 0, INT64_MAX, &v) == 0 ? v : -1;
}

/* An admission from the line: an "admit" audit row with waited=, in the last hour. */
static int
add_recent(const struct store_audit *e, void *arg)
{
	struct recent *r = arg;
	struct tmpl_ctx *row;
	char when[32];
	long long waited;

	r->read++;
	r->page++;
	r->last_id = e->id;
	if (e->at < r->q->now - RECENT_WINDOW_S || r->n == RECENT_SHOWN) {
		r->done = 1;
		return 1;
	}
	if (strcmp(e->action, "admit") != 0 || (waited = waited_of(e->detail)) < 0 ||
	    (row = tmpl_row(r->c, "recent")) == NULL)
		return 0;
	r->n++;
	tmpl_set(row, "user", e->target);
	page_time(e->at, when, sizeof when);
	tmpl_set(row, "at", when);
	page_duration(waited, when, sizeof when);
	tmpl_set(row, "waited", when);
	return 0;
}

/*
 * Admissions from the line in the last hour, newest first, into r->c: the
 * service's audit rows are read page by page (a busy line writes many
 * queue.join and deny rows between two admissions), at most RECENT_SCANNED;
 * when that bound ends the scan, the page says so rather than "nobody".
 */
static int
recent_show(struct store *st, const char *service, struct recent *r)
{
	struct store_audit_filter f = { .service = service, .limit = RECENT_PAGE };
	int rc;

	do {
		r->page = 0;
		if ((rc = store_audit_list(st, &f, add_recent, r)) != STORE_OK)
			return rc;
		f.before_id = r->last_id;
	} while (!r->done && r->page == RECENT_PAGE && r->read < RECENT_SCANNED);
	if (!r->done && r->page == RECENT_PAGE)
		tmpl_setf(r->c, "recent_more", "Only the newest %d audit rows of this service were "
		          "read; earlier admissions from the line are in the audit log.", r->read);
	else if (r->n == 0)
		tmpl_set(r->c, "recent_none", "1");
	return STORE_OK;
}

/* The places of the line in order into c. */
static int
places_show(struct req *q, struct store *st, struct tmpl_ctx *c, int64_t service_id)
{
	struct store_qplace *p = calloc(PLACES_SHOWN, sizeof *p);
	struct tmpl_ctx *row;
	char when[32];
	int n = 0, rc;

	if (p == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = store_queue_places(st, service_id, p, PLACES_SHOWN, &n)) == STORE_OK)
		for (int i = 0; i < n && (row = tmpl_row(c, "places")) != NULL; i++) {
			tmpl_setf(row, "position", "%d", p[i].position);
			tmpl_set(row, "user", p[i].user_name);
			tmpl_setf(row, "user_id", "%lld", (long long)p[i].user_id);
			page_time(p[i].joined_at, when, sizeof when);
			tmpl_set(row, "since", when);
			page_duration(q->now > p[i].joined_at ? q->now - p[i].joined_at : 0, when,
			              sizeof when);
			tmpl_set(row, "waited", when);
			page_duration(q->now > p[i].last_poll ? q->now - p[i].last_poll : 0, when,
			              sizeof when);
			tmpl_set(row, "polled", when);
		}
	if (n == 0)
		tmpl_set(c, "no_places", "1");
	if (n == PLACES_SHOWN)
		tmpl_setf(c, "more", "Only the first %d places are shown.", PLACES_SHOWN);
	free(p);
	return rc;
}

void
admin_queue_show(struct req *q)
{
	struct store_service svc;
	struct recent r = { .q = q };
	struct store *st;
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 0), &svc) == -1)
		return;
	if ((r.c = admin_ctx(q, "Waiting line", "queues")) == NULL) {
		admin_busy(q);
		return;
	}
	tmpl_setf(r.c, "id", "%lld", (long long)svc.id);
	tmpl_set(r.c, "svc_name", svc.name);
	tmpl_setf(r.c, "active", "%d", svc.active);
	tmpl_setf(r.c, "cap", "%d", service_cap_now(&svc));
	rules_show(q, r.c, &svc);
	if (length_show(q, st, r.c, svc.id) == -1) {
		tmpl_ctx_free(r.c);
		return;
	}
	if ((rc = places_show(q, st, r.c, svc.id)) != STORE_OK ||
	    (rc = recent_show(st, svc.name, &r)) != STORE_OK) {
		tmpl_ctx_free(r.c);
		admin_store_down(q, st, rc);
		return;
	}
	if (r.n == 0)
		tmpl_set(r.c, "no_recent", "1");
	page_render(q, 200, "admin_queue", r.c);
}

void
admin_queue_remove(struct req *q)
{
	struct store_service svc;
	struct store_user u;
	struct store *st;
	char loc[96];
	int n = 0, rc;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 1), &svc) == -1)
		return;
	rc = store_user_get_id(st, admin_id_arg(q, "user", 1), &u);
	if (rc == STORE_OK)
		rc = store_queue_leave(st, u.id, svc.id, &n);
	if (rc == STORE_UNAVAILABLE) {
		admin_store_down(q, st, rc);
		return;
	}
	if (rc != STORE_OK || n == 0) {
		page_message(q, 404, "No such place", "That user has no place in this line (any "
		             "more): they may have been let in, left, or lapsed.", "/admin/queues",
		             "Back to the waiting lines");
		return;
	}
	admin_audit(q, st, "queue.remove", svc.name, u.name, "removed by an admin");
	snprintf(loc, sizeof loc, "/admin/queues/line?id=%lld&done=place_removed", (long long)svc.id);
	page_redirect(q, loc);
}
