#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adaptive.h"
#include "authd.h"
#include "log.h"
#include "passwd.h"

/* The portal: the login form and the login itself. /me and its forms are in rights.c. */

#define REFLECT_MAX 64      /* bytes of a user-supplied value shown back in a notice */

static void portal_index(struct req *q);
static void portal_login(struct req *q);

const struct route portal_routes[] = {
	{ "GET",  "/",        ROUTE_INLINE_ANON, portal_index },
	{ "POST", "/login",   ROUTE_FORM_CSRF, portal_login },
	{ "GET",  "/login/wait", ROUTE_NO_STORE | ROUTE_INLINE, loginline_poll },
	{ "GET",  "/me",      ROUTE_LOGIN,     rights_me },
	{ "POST", "/release", ROUTE_LOGIN,     rights_release },
	{ "POST", "/logout",  ROUTE_LOGIN,     rights_logout },
	{ "GET",  "/queue",   ROUTE_LOGIN,     queue_poll },
	{ NULL, NULL, 0, NULL },
};

struct form_list {
	struct req *q;
	struct tmpl_ctx *c;
	const char *want;           /* the service to preselect */
	int n, found;
	struct store_service *v;    /* the enabled services, collected before the access check */
	size_t nv;
};

static int
add_service(struct form_list *fl, const struct store_service *svc)
{
	struct tmpl_ctx *row;
	char origin[URL_MAX_LEN + 1];
	int cap = service_cap_now(svc), free_places = cap - svc->active;

	if ((row = tmpl_row(fl->c, "services")) == NULL)
		return -1;
	tmpl_set(row, "name", svc->name);
	tmpl_setf(row, "free", "%d", free_places > 0 ? free_places : 0);
	tmpl_setf(row, "cap", "%d", cap);
	if (free_places <= 0)
		tmpl_set(row, "full", "1");
	if (svc->health == HEALTH_DOWN)
		tmpl_set(row, "down", "1");
	if (fl->want != NULL && strcmp(fl->want, svc->name) == 0) {
		tmpl_set(row, "selected", "1");
		fl->found = 1;
	}
	if (admit_origin(svc->entry_url[0] ? svc->entry_url : svc->url, origin, sizeof origin) == 0)
		page_allow_form_target(fl->q, origin);
	fl->n++;
	return 0;
}

/*
 * The enabled services into the form: to a logged-in user only those whose
 * access list lets them in (before login the portal does not know who asks,
 * and the login itself is refused with 403). A store_rc.
 */
static int
list_services(struct form_list *fl)
{
	struct store *st = NULL;
	int rc = STORE_OK;

	if (fl->q->logged_in || formcache_get(&fl->v, &fl->nv, !http_may_wait(fl->q->r)) == -1) {
		if ((st = req_store(fl->q)) == NULL)
			return STORE_UNAVAILABLE;
		if ((rc = formcache_read(st, &fl->v, &fl->nv)) == STORE_OK && !fl->q->logged_in)
			formcache_put(fl->v, fl->nv);
	}
	for (size_t i = 0; rc == STORE_OK && i < fl->nv; i++) {
		if (fl->q->logged_in &&
		    (rc = store_acl_allows(st, fl->v[i].id, fl->q->login.user_id)) != STORE_OK) {
			if (rc == STORE_DENIED || rc == STORE_NOTFOUND)
				rc = STORE_OK;
			continue;
		}
		if (add_service(fl, &fl->v[i]) == -1)
			break;
	}
	free(fl->v);
	fl->v = NULL;
	return rc;
}

void
portal_form(struct req *q, int status, const char *error, const char *user, const char *service)
{
	char csrf[RANDOM_STR_LEN + 1];
	struct form_list fl = { q, NULL, service, 0, 0, NULL, 0 };
	int rc;

	if (login_csrf_issue(q, csrf) == NULL) {
		page_message(q, 503, "Service unavailable",
		             "The portal cannot answer right now. Please try again shortly.", NULL, NULL);
		return;
	}
	if ((fl.c = page_ctx(q, "Log in")) == NULL) {
		page_render(q, 500, "login", NULL);
		return;
	}
	if ((rc = list_services(&fl)) != STORE_OK) {
		q->st_broken = rc == STORE_UNAVAILABLE && q->st != NULL;
		tmpl_ctx_free(fl.c);
		page_message(q, 503, "Service unavailable",
		             "The session database is not answering. Please try again shortly.",
		             NULL, NULL);
		return;
	}
	if (service != NULL && service[0] != '\0' && !fl.found)
		tmpl_setf(fl.c, "notice", "There is no service \"%.*s\" to log in to.",
		          REFLECT_MAX, service);
	if (fl.n == 0)
		tmpl_set(fl.c, "no_services", "1");
	tmpl_set(fl.c, "csrf", csrf);
	tmpl_set(fl.c, "error", error);
	tmpl_set(fl.c, "user", user != NULL ? user : (q->logged_in ? q->login.user_name : NULL));
	page_render(q, status, "login", fl.c);
}

static void
portal_index(struct req *q)
{
	portal_form(q, 200, NULL, NULL, http_query(q->r, "service"));
}

/* A login attempt's fields, checked for presence and size. */
struct login_form {
	const char *user, *password, *service;
	const char *account;        /* user when it is a valid name, else NULL */
};

static int
read_form(struct req *q, struct login_form *f)
{
	f->user = http_form(q->r, "user");
	f->password = http_form(q->r, "password");
	f->service = http_form(q->r, "service");
	if (f->user == NULL || f->password == NULL || f->service == NULL ||
	    f->user[0] == '\0' || f->service[0] == '\0') {
		page_message(q, 400, "Incomplete form",
		             "Please give your name, your password and a service.", "/", "Back");
		return -1;
	}
	if (strlen(f->user) > NAME_MAX_LEN || strlen(f->password) > PASSWD_MAX ||
	    strlen(f->service) > NAME_MAX_LEN) {
		page_message(q, 400, "Too long",
		             "A name, password or service in the form is longer than allowed.",
		             "/", "Back");
		return -1;
	}
	f->account = name_valid(f->user) ? f->user : NULL;
	return 0;
}

static void
unavailable(struct req *q, const char *what)
{
	page_message(q, 503, "Service unavailable", what, "/", "Back to the portal");
}

/* The enabled service named in the form. 0, or -1 after answering. */
static int
find_service(struct req *q, struct store *st, const char *name, struct store_service *svc)
{
	int rc = name_valid(name) ? store_service_get(st, name, svc) : STORE_NOTFOUND;

	if (rc == STORE_OK && svc->enabled)
		return 0;
	if (rc == STORE_UNAVAILABLE) {
		q->st_broken = 1;
		unavailable(q, "The session database is not answering. Please try again shortly.");
		return -1;
	}
	portal_form(q, 404, "That service does not exist or is not open for logins.", NULL, NULL);
	return -1;
}

static void
audit_bad_password(struct req *q, const char *service, const char *account)
{
	char detail[AUDIT_TEXT_MAX + 1];
	struct store *st = req_store(q);

	snprintf(detail, sizeof detail, "reason=password ip=%s", q->ipstr);
	if (st != NULL && store_audit(st, q->now, "-", "deny", service,
	                              account ? account : "", detail) != STORE_OK)
		log_warn("event=audit_failed action=deny error=\"%s\"", store_error(st));
}

/* The answer to a checked login (authn result), and the admission when it is AUTHN_OK. */
int
portal_login_answer(struct req *q, const char *user, const struct store_service *svc,
                    const struct authn_login *l, int result, int retry)
{
	char msg[160], ra[16];

	switch (result) {
	case AUTHN_OK:
		return portal_admit(q, &l->u, svc);
	case AUTHN_THROTTLED:
		snprintf(msg, sizeof msg, "Too many failed attempts. Please wait %d s and try again.",
		         retry);
		snprintf(ra, sizeof ra, "%d", retry);
		http_add_header(q->r, "Retry-After", ra);
		portal_form(q, 429, msg, user, svc->name);
		return LR_THROTTLED;
	case AUTHN_BAD:
		audit_bad_password(q, svc->name, l != NULL ? l->account : NULL);
		portal_form(q, 401, "Wrong name or password.", user, svc->name);
		return LR_BAD_CREDENTIALS;
	case AUTHN_EXT_DOWN:
		http_add_header(q->r, "Retry-After", "30");
		portal_form(q, 503, AUTHN_EXT_DOWN_TEXT, user, svc->name);
		return LR_UNAVAILABLE;
	case AUTHN_BUSY:
		snprintf(ra, sizeof ra, "%d", retry > 0 ? retry : 5);
		http_add_header(q->r, "Retry-After", ra);
		unavailable(q, "The portal is very busy. Please try again in a few seconds.");
		return LR_UNAVAILABLE;
	default:
		unavailable(q, "The session database is not answering. Please try again shortly.");
		return LR_UNAVAILABLE;
	}
}

static void
answer_denied(struct req *q, const struct store_service *svc, const struct admit_out *out)
{
	char text[256], when[32], ra[16];

	page_duration(out->retry_after_s, when, sizeof when);
	snprintf(text, sizeof text,
	         "All %d places of %s are in use (%d of %d). A place frees up in about %s at the "
	         "latest; please try again then.", out->adm.cap, svc->name, out->adm.active,
	         out->adm.cap, when);
	snprintf(ra, sizeof ra, "%d", out->retry_after_s);
	http_add_header(q->r, "Retry-After", ra);
	page_message(q, 503, "Limit reached", text, "/", "Back to the portal");
}

/* Sends the answer for an admission outcome; returns the login result. */
static int
answer_admission(struct req *q, const struct store_service *svc, const struct admit_out *out)
{
	switch (out->outcome) {
	case ADMIT_OK:
		page_redirect(q, out->location);
		return LR_ADMITTED;
	case ADMIT_DENIED:
		answer_denied(q, svc, out);
		return LR_CAP;
	case ADMIT_QUEUED:
		queue_page(q, svc, out);
		return LR_QUEUED;
	case ADMIT_QUEUE_FULL:
		queue_full(q, svc, out);
		return LR_CAP;
	case ADMIT_RATE:
		queue_rate(q, svc, out);
		return LR_RATE;
	case ADMIT_SERVICE_DOWN:
		http_add_header(q->r, "Retry-After", "10");
		page_message(q, 503, "Service unavailable", "This service is not answering at the "
		             "moment, so no one new is let in (it is not full). Please try again "
		             "later.", "/", "Back to the portal");
		return LR_SERVICE_DOWN;
	case ADMIT_NOSERVICE:
		portal_form(q, 404, "That service does not exist or is not open for logins.",
		            NULL, NULL);
		return LR_NO_SERVICE;
	case ADMIT_FORBIDDEN:
		page_message(q, 403, "Not open to you",
		             "This service is open only to the people and groups on its access list, "
		             "and you are not on it. Its administrator can add you.", "/",
		             "Back to the portal");
		return LR_FORBIDDEN;
	case ADMIT_FW_DOWN:
		http_add_header(q->r, "Retry-After", "10");
		unavailable(q, "The firewall did not confirm your access, so nothing was changed. "
		               "Please try again shortly.");
		return LR_UNAVAILABLE;
	case ADMIT_REPLACED:
		/* The account's newer login (another tab or device) holds the access. */
		page_message(q, 409, "Signed in again elsewhere",
		             "Another sign-in to this account for the same service finished at the same "
		             "time and replaced this one; that one holds the access now. Sign in here "
		             "again to use the service from this window instead.", "/",
		             "Back to the portal");
		return LR_ADMITTED;
	case ADMIT_BAD_URL:
		page_message(q, 500, "Service misconfigured",
		             "This service has no valid address to send you to. Please tell its "
		             "administrator.", "/", "Back to the portal");
		return LR_UNAVAILABLE;
	default:
		q->st_broken = 1;
		unavailable(q, "The session database is not answering. Please try again shortly.");
		return LR_UNAVAILABLE;
	}
}

static void
log_admission(struct req *q, const struct store_user *u, const struct store_service *svc,
              const struct admit_out *out)
{
	if (out->outcome == ADMIT_OK)
		log_info("event=admit user=%s service=%s ip=%s right=%lld active=%d cap=%d "
		         "replaced=%d reaped=%d ms_store=%.3f ms_fw=%.3f ms_code=%.3f", u->name,
		         svc->name, q->ipstr, (long long)out->adm.right.id, out->adm.active,
		         out->adm.cap, out->adm.replaced, out->adm.reaped, out->ms_store,
		         out->ms_fw, out->ms_code);
	else
		log_info("event=deny user=%s service=%s ip=%s reason=%s%s%s%s", u->name, svc->name,
		         q->ipstr, admit_outcome_str(out->outcome), out->why[0] ? " error=\"" : "",
		         out->why, out->why[0] ? "\"" : "");
}

/* The service is guarded only for the other address family: say which to use. */
static int
answer_wrong_family(struct req *q, const struct store_service *svc, int family)
{
	char text[320];
	const char *want = family == AF_INET6 ? "IPv6" : "IPv4";
	const char *have = q->ip.family == AF_INET6 ? "IPv6" : "IPv4";

	snprintf(text, sizeof text,
	         "%s is reachable over %s only, and you came to the portal over %s, so an "
	         "admission from this address would not let you in. Open the portal over %s "
	         "(its %s address) and log in again.", svc->name, want, have, want, want);
	http_log_kv(q->r, "service=%s admission=wrong_family", svc->name);
	page_message(q, 409, family == AF_INET6 ? "Use IPv6" : "Use IPv4", text, "/", "Back to the portal");
	return LR_WRONG_FAMILY;
}

int
portal_admit(struct req *q, const struct store_user *u, const struct store_service *svc)
{
	struct store_queue_rules rules;
	struct admit_in in = { u, svc, q->ip, time(NULL), q->v->conf.authd.code_ttl_s,
	                       queue_rules(&q->v->conf.authd, svc, &rules) };
	struct store *st = req_store(q);
	struct admit_out out;
	struct timespec t0;
	int family = admit_family_needed(svc, &q->ip);

	if (family != 0)
		return answer_wrong_family(q, svc, family);
	if (st == NULL) {
		unavailable(q, "The session database is not answering. Please try again shortly.");
		return LR_UNAVAILABLE;
	}
	q->now = in.now;
	if (!q->logged_in || q->login.user_id != u->id) {
		if (login_begin(q, u) == -1) {
			unavailable(q, "The session database is not answering. Please try again shortly.");
			return LR_UNAVAILABLE;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	admit_run(st, q->a->fw, &in, &out);
	ametrics_admission(out.outcome, clock_elapsed_ns(&t0) / 1e9);
	if (out.outcome == ADMIT_OK && in.queue != NULL && out.place.joined_at < in.now)
		ametrics_queue_wait((double)(in.now - out.place.joined_at));
	log_admission(q, u, svc, &out);
	http_log_kv(q->r, "user=%s service=%s admission=%s", u->name, svc->name,
	            admit_outcome_str(out.outcome));
	return answer_admission(q, svc, &out);
}

/*
 * The user named in the form already holds this browser's portal login:
 * 0 with u, and no second password hash (a flood of returning users costs
 * no hash workers). -1: check the password as usual. Accounts of PAM or a
 * directory are always asked again: their source is what says the account
 * still exists, and a source that is down must fail closed for its users.
 */
static int
same_login(struct req *q, struct store *st, const struct login_form *f, struct store_user *u)
{
	if (!q->logged_in || strcmp(q->login.user_name, f->user) != 0)
		return -1;
	if (store_user_get_id(st, q->login.user_id, u) != STORE_OK || u->disabled ||
	    u->source != SOURCE_LOCAL)
		return -1;
	http_log_kv(q->r, "password=skipped_login_cookie");
	return 0;
}

/*
 * The login with its ticket t, inside the login gate: the service, then the
 * browser's own portal login or the login line. An LR_, or -1 when the login
 * line counts the login. t is taken on or given back.
 */
static int
login_ticketed(struct req *q, const struct login_form *f, struct ticket *t)
{
	struct store_service svc;
	struct store_user u;
	struct store *st = req_store(q);
	int lr;

	if (st == NULL) {
		loginline_drop(q, t);
		unavailable(q, "The session database is not answering. Please try again shortly.");
		return LR_UNAVAILABLE;
	}
	if (find_service(q, st, f->service, &svc) == -1) {
		loginline_drop(q, t);
		return q->st_broken ? LR_UNAVAILABLE : LR_NO_SERVICE;
	}
	if (same_login(q, st, f, &u) == 0) {
		loginline_drop(q, t);
		lr = portal_admit(q, &u, &svc);
	} else if ((lr = loginline_login(q, t, &svc)) == -1) {
		return -1;
	}
	ametrics_service_login(svc.name, lr);
	return lr;
}

static void
portal_login(struct req *q)
{
	struct timespec t0;
	struct login_form f;
	struct ticket *t;
	int lr;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (read_form(q, &f) == -1) {
		lr = LR_BAD_REQUEST;
	} else if ((t = loginline_reserve(q, f.user, f.password)) == NULL) {
		http_add_header(q->r, "Retry-After", "5");
		unavailable(q, "The portal is very busy. Please try again in a few seconds.");
		lr = LR_UNAVAILABLE;
	} else {
		login_gate_enter(q);
		lr = login_ticketed(q, &f, t);
		login_gate_leave(q);
		if (lr == -1)
			return;          /* counted by the login line, with its answer */
	}
	ametrics_login(lr, clock_elapsed_ns(&t0) / 1e9);
}
