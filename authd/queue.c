#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "log.h"

/*
 * The waiting room's pages (the rules are the store's: store.h, contract 6).
 * A user whose password checked out on a full service gets a place in line
 * and this page, which refreshes itself (<meta http-equiv="refresh">, no
 * JavaScript) to GET /queue?service=NAME. Each refresh keeps the place and,
 * when the user's turn has come, admits them (firewall, entry handoff) on the
 * strength of the portal login alone: no second password check.
 * The rules are the service's own where it sets them (svc->queue), the
 * [authd] keys otherwise (queue_rules). A new user past the service's
 * admission rate without a waiting room gets queue_rate's 503.
 * Places nobody polls any more go in queue_lapse, one audit row each: before
 * every admission through the line (its service) and at every sweep (every
 * service), so an idle line empties too.
 */

#define QUEUE_WINDOW_S 600   /* departures over this long give the estimate */
#define QUEUE_HEAD_REFRESH_S 1   /* the refresh near the head (meta refresh: whole seconds) */

const struct store_queue_rules *
queue_rules(const struct conf_authd *c, const struct store_service *svc,
            struct store_queue_rules *r)
{
	const struct service_queue *sq = &svc->queue;

	if (sq->mode == QUEUE_OFF || (sq->mode == QUEUE_DEFAULT && !c->queue))
		return NULL;
	r->lapse_s = sq->lapse_s > 0 ? sq->lapse_s : c->queue_lapse_s;
	r->max = sq->max > 0 ? sq->max : c->queue_max;
	r->window_s = QUEUE_WINDOW_S;
	return r;
}

struct lapse_ctx {
	struct store *st;
	const char *service, *actor;
	int64_t now;
	int lapse_s;
};

/* One place that lapsed (its browser stopped polling), audited by user. */
static int
audit_lapse(const struct store_qplace *p, void *arg)
{
	const struct lapse_ctx *c = arg;
	char detail[96], turn[32] = "";

	log_info("event=queue_lapse service=%s user=%s waited_s=%lld", c->service, p->user_name,
	         (long long)(p->last_poll - p->joined_at));
	if (p->turn_at > 0)                  /* its turn had come: a held slot lapsed with it */
		snprintf(turn, sizeof turn, " turn_at=%lld", (long long)p->turn_at);
	snprintf(detail, sizeof detail, "joined=%lld last_poll=%lld lapse_s=%d%s",
	         (long long)p->joined_at, (long long)p->last_poll, c->lapse_s, turn);
	if (store_audit(c->st, c->now, c->actor, "queue.lapse", c->service, p->user_name,
	                detail) != STORE_OK)
		log_warn("event=audit_failed action=queue.lapse error=\"%s\"", store_error(c->st));
	return 0;
}

int
queue_lapse(struct store *st, int64_t service_id, const char *service, int64_t now, int lapse_s,
            const char *actor)
{
	struct lapse_ctx c = { st, service, actor, now, lapse_s };
	int n = 0;

	if (store_queue_lapse(st, service_id, now, lapse_s, audit_lapse, &c, &n) != STORE_OK) {
		log_warn("event=queue_lapse_failed service=%s error=\"%s\"", service,
		         store_error(st));
		return -1;
	}
	if (n > 0)
		ametrics_queue_lapsed(n);
	return n;
}

/*
 * The wait for a place at position when departures users left in the last
 * QUEUE_WINDOW_S: position / rate, in seconds; -1 when nobody left.
 */
static int64_t
estimate_s(const struct store_place *pl)
{
	if (pl->departures <= 0)
		return -1;
	return (int64_t)pl->position * QUEUE_WINDOW_S / pl->departures;
}

/*
 * The page's refresh: QUEUE_HEAD_REFRESH_S for a place whose turn may come
 * before its next ordinary refresh, queue_refresh_s otherwise. A turn comes
 * when a right ends (or the rate's minute moves), and the slot then waits
 * for that place's next poll: so the head, and the places within the
 * departures expected in one refresh_s at the recent rate (departures per
 * QUEUE_WINDOW_S, rounded up), poll sooner. Only those few: the rest of the
 * line keeps the configured load.
 */
static int
refresh_s(const struct store_place *pl, int refresh)
{
	int64_t soon = 1 + ((int64_t)pl->departures * refresh + QUEUE_WINDOW_S - 1) / QUEUE_WINDOW_S;

	if (refresh > QUEUE_HEAD_REFRESH_S && pl->position <= soon)
		return QUEUE_HEAD_REFRESH_S;
	return refresh;
}

void
queue_page(struct req *q, const struct store_service *svc, const struct admit_out *out)
{
	const struct store_place *pl = &out->place;
	struct tmpl_ctx *c = page_ctx(q, "In line");
	struct store_queue_rules rules = { .lapse_s = q->v->conf.authd.queue_lapse_s };
	char when[32], pos[16];
	int64_t est = estimate_s(pl);
	int every = refresh_s(pl, q->v->conf.authd.queue_refresh_s);

	queue_rules(&q->v->conf.authd, svc, &rules);
	snprintf(pos, sizeof pos, "%d", pl->position);

	if (c != NULL) {
		tmpl_set(c, "service", svc->name);
		tmpl_setf(c, "cap", "%d", out->adm.cap);
		tmpl_set(c, "position", pos);
		tmpl_setf(c, "ahead", "%d", pl->position - 1);
		tmpl_setf(c, "waiting", "%d", pl->waiting);
		tmpl_setf(c, "departures", "%d", pl->departures);
		page_duration(QUEUE_WINDOW_S, when, sizeof when);
		tmpl_set(c, "window", when);
		if (est >= 0) {
			page_duration(est, when, sizeof when);
			tmpl_set(c, "estimate", when);
		}
		page_duration(rules.lapse_s, when, sizeof when);
		tmpl_set(c, "lapse", when);
		if (svc->queue.rate_per_min > 0)
			tmpl_setf(c, "rate", "%d", svc->queue.rate_per_min);
		tmpl_setf(c, "refresh_s", "%d", every);
		tmpl_setf(c, "refresh", "%d; url=/queue?service=%s", every, svc->name);
		tmpl_set(c, "csrf", q->login.csrf);
	}
	http_add_header(q->r, "X-Sekisho-Queue-Position", pos);
	page_render(q, 200, "queue", c);
}

/*
 * A full line of a service with places free is held by the admission rate:
 * it moves within the minute (the rate's window), not when a right ends.
 */
void
queue_full(struct req *q, const struct store_service *svc, const struct admit_out *out)
{
	int held = svc->queue.rate_per_min > 0 && out->adm.active < out->adm.cap;
	char text[320], ra[16];

	if (held)
		snprintf(text, sizeof text,
		         "%s lets in at most %d new users a minute and its waiting line is full "
		         "(%d waiting). Please try again in a minute.", svc->name,
		         svc->queue.rate_per_min, out->place.waiting);
	else
		snprintf(text, sizeof text,
		         "All %d places of %s are in use and its waiting line is full (%d waiting). "
		         "Please try again later.", out->adm.cap, svc->name, out->place.waiting);
	snprintf(ra, sizeof ra, "%d", held ? 60 : out->retry_after_s > 0 ? out->retry_after_s : 60);
	http_add_header(q->r, "Retry-After", ra);
	page_message(q, 503, "Line full", text, "/", "Back to the portal");
}

void
queue_rate(struct req *q, const struct store_service *svc, const struct admit_out *out)
{
	char text[320], ra[16];
	int64_t wait = out->adm.rate_next - q->now;

	if (wait < 1 || wait > 60)
		wait = wait < 1 ? 1 : 60;
	snprintf(text, sizeof text,
	         "%s lets in at most %d new users a minute, and that many have just been let in. "
	         "It is not full: please try again in %lld seconds.", svc->name,
	         svc->queue.rate_per_min, (long long)wait);
	snprintf(ra, sizeof ra, "%lld", (long long)wait);
	http_add_header(q->r, "Retry-After", ra);
	page_message(q, 503, "Admission rate reached", text, "/", "Back to the portal");
}

/* GET /queue?service=NAME: keeps the place, or admits when the turn has come. */
void
queue_poll(struct req *q)
{
	const char *name = http_query(q->r, "service");
	struct store_service svc;
	struct store_user u;
	struct store *st = req_store(q);
	int rc;

	if (st == NULL || name == NULL || !name_valid(name)) {
		page_message(q, st == NULL ? 503 : 400, "No service", "Which service? Please log in "
		             "again from the portal.", "/", "Back to the portal");
		return;
	}
	rc = store_service_get(st, name, &svc);
	if (rc == STORE_OK && svc.enabled)
		rc = store_user_get_id(st, q->login.user_id, &u);
	else if (rc == STORE_OK)
		rc = STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		page_message(q, 404, "No such service", "That service does not exist or is not open "
		             "for logins.", "/", "Back to the portal");
		return;
	}
	if (rc != STORE_OK) {
		q->st_broken = rc == STORE_UNAVAILABLE;
		page_message(q, 503, "Service unavailable", "The session database is not answering. "
		             "Please try again shortly.", "/", "Back to the portal");
		return;
	}
	if (queue_rules(&q->v->conf.authd, &svc, &(struct store_queue_rules){ 0 }) == NULL) {
		page_message(q, 404, "No waiting line", "This service has no waiting line.", "/",
		             "Back to the portal");
		return;
	}
	portal_admit(q, &u, &svc);
}
