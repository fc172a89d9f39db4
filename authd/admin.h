#ifndef SEKISHO_AUTHD_ADMIN_H
#define SEKISHO_AUTHD_ADMIN_H

/*
 * The admin web UI under /admin/ (one prefix, admin_):
 *
 *   admin.c           routes, the role gate, admin login, page helpers
 *   admin_form.c      form checks with a message per field (pure; unit-tested)
 *   admin_services.c  services: list, register, edit, enable/disable, delete
 *   admin_rights.c    live rights per service, revoke
 *   admin_users.c     users (root): create, role, password, disable, delete
 *   admin_audit.c     the audit log (root): filter, pages
 *   admin_lockouts.c  failed logins (root: all; others: their own), clear
 *   admin_access.c    a service's access list (its admin and root)
 *   admin_groups.c    groups and their members (root)
 *
 * Every handler calls admin_gate() first: the login's role is read from the
 * store on every request, and every object (a service, a right) is checked
 * against it again, so a hidden link is never the only barrier.
 */

#include "authd.h"
#include "service_rules.h"

#define ADMIN_GUARDS_TEXT  1024              /* the guarded-endpoints text area */
#define ADMIN_PASSWD_MIN   8
#define ADMIN_MSG_MAX      200               /* one field's message */
#define ADMIN_NUM_TEXT     16                /* a number field's text */

/* The fields of the service form, in the order they are shown. */
enum admin_svc_field {
	ASF_NAME, ASF_URL, ASF_ENTRY_URL, ASF_MAX_USAGE, ASF_MAX_INTERVAL, ASF_CAP,
	ASF_GUARDS, ASF_ADMIN, ASF_QUEUE, ASF_QUEUE_MAX, ASF_QUEUE_LAPSE, ASF_RATE, ASF_N
};

/* The fields of the user forms. */
enum admin_user_field { AUF_NAME, AUF_ROLE, AUF_PASSWORD, AUF_AGAIN, AUF_N };

/* One field of a form: the raw text (NULL = absent) and its message ("" = fine). */
struct admin_field {
	const char *in;
	char err[ADMIN_MSG_MAX];
};

struct admin_svc_form { struct admin_field f[ASF_N]; };
struct admin_user_form { struct admin_field f[AUF_N]; };

/* The template name of a field's value and of its message ("name", "err_name"). */
const char *admin_svc_field_name(int f);
const char *admin_user_field_name(int f);

/* ---- admin_form.c ---- */

/*
 * Checks every service field but the admin (which needs the store) and fills
 * the editable fields of svc from them. Returns the number of fields in error;
 * each has its message in its err.
 */
int admin_service_check(struct admin_svc_form *f, struct store_service *svc);
/* One of service_rules.h's number rules. */
typedef int (*service_rule_fn)(long long v, char *err, size_t errlen);
/* Whole minutes held to rule (service_usage_check or _interval_check). 0 or -1 with err. */
int admin_minutes_parse(const char *s, service_rule_fn rule, int *out, char *err, size_t errlen);
/* A cap held to service_cap_check. 0 or -1 with err. */
int admin_cap_parse(const char *s, int *out, char *err, size_t errlen);
/* An http(s) URL of at most URL_MAX_LEN bytes; "" allowed when optional. 0 or -1 with err. */
int admin_url_check(const char *s, int optional, char *err, size_t errlen);
/*
 * Guarded endpoints separated by commas, spaces or line breaks: each
 * ADDR, ADDR:PORT or [V6]:PORT, no repeats, at most GUARDS_MAX. 0 or -1 with err.
 */
int admin_guards_parse(const char *text, struct guard *g, int *n, char *err, size_t errlen);
/* The guards of svc, one per line, for the text area. */
void admin_guards_text(const struct store_service *svc, char *out, size_t n);
/* A new user's name: name_valid. 0 or -1 with err. */
int admin_name_check(const char *s, const char *what, char *err, size_t errlen);
/* A new password and its repetition: ADMIN_PASSWD_MIN..PASSWD_MAX bytes, equal. 0 or -1. */
int admin_password_check(const char *pw, const char *again, char *err, size_t errlen);
/* Checks the user form's fields that are present (name, role, password). Returns errors. */
int admin_user_check(struct admin_user_form *f, int *role);

/* ---- admin_queue.c ---- */

/* The text of a service's waiting room fields, for a form. */
struct admin_queue_text {
	char max[ADMIN_NUM_TEXT], lapse[ADMIN_NUM_TEXT], rate[ADMIN_NUM_TEXT];
};
/* Marks the waiting room choice mode (a field's text, NULL or anything) as selected in c. */
void admin_queue_select(struct tmpl_ctx *c, const char *mode);
/* Fills f's waiting room fields from sq, with their text in t. */
void admin_queue_form_from(struct admin_svc_form *f, const struct service_queue *sq,
                           struct admin_queue_text *t);
/*
 * Stores svc->queue when it differs from old's (old NULL: a new service,
 * against the defaults) and audits service.queue. 0, or -1 after answering.
 */
int admin_queue_save(struct req *q, struct store *st, const struct store_service *old,
                     const struct store_service *svc);
/* GET /admin/queues: every line the login may see; GET /admin/queues/line?id=N: one line. */
void admin_queues_list(struct req *q);
void admin_queue_show(struct req *q);
/* POST /admin/queues/remove (id, user): removes a user's place in the service's line. */
void admin_queue_remove(struct req *q);

/* ---- admin.c ---- */

enum admin_level { ADMIN_SELF = 0, ADMIN_ANY = 1, ADMIN_ROOT = 2 };

/*
 * Lets the request through when its login may see pages of level: any login
 * for ADMIN_SELF (pages about the login's own account), admin or root for
 * ADMIN_ANY, root for ADMIN_ROOT. Otherwise answers (a GET without a
 * login goes to /admin/login; a user or an admin on a root page gets 403) and
 * returns -1.
 */
int admin_gate(struct req *q, int level);
int admin_is_root(const struct req *q);
/* A page context with the admin navigation, the CSRF token and the ?done= notice. */
struct tmpl_ctx *admin_ctx(struct req *q, const char *title, const char *section);
/* 503 "the store is not answering"; marks st broken when rc is STORE_UNAVAILABLE. */
void admin_store_down(struct req *q, struct store *st, int rc);
/* 503 for what is not the store's fault (no hash worker, no memory). */
void admin_busy(struct req *q);
/* The request's store connection; NULL after answering 503. */
struct store *admin_store(struct req *q);
/* 403 for an object the login may not touch. */
void admin_forbidden(struct req *q, const char *text);
/* A positive id from form field or query argument name; 0 when absent or malformed. */
int64_t admin_id_arg(struct req *q, const char *name, int form);
/* Writes an audit row with the login as actor; logs when it cannot. */
void admin_audit(struct req *q, struct store *st, const char *action, const char *service,
                 const char *target, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Tells ipfd to rebuild service_id (0 = everything). 0, or -1 after logging why. */
int admin_fw_sync(struct req *q, int64_t service_id);
/* Hashes a new password on a hash worker. 0 or -1 (busy or failed). */
/* Copies the form's messages and values into c (names from admin_*_field_name). */
void admin_form_errors(struct tmpl_ctx *c, const struct admin_field *f, int n,
                       const char *(*field_name)(int));

/* ---- handlers (admin_services.c, admin_rights.c, admin_users.c, admin_audit.c) ---- */

void admin_services_list(struct req *q);
void admin_service_new_form(struct req *q);
void admin_service_new(struct req *q);
void admin_service_edit_form(struct req *q);
void admin_service_edit(struct req *q);
void admin_service_enable(struct req *q);
void admin_service_disable(struct req *q);
void admin_service_delete_form(struct req *q);
void admin_service_delete(struct req *q);
/*
 * The service id may be touched by this login: loads it into svc (0), or
 * answers 404/403/503 and returns -1. Root may touch every service, an admin
 * only the services they administer.
 */
int admin_service_load(struct req *q, struct store *st, int64_t id, struct store_service *svc);

/* ---- admin_load.c: a service's health probe and cap mode ---- */
void admin_load_show(struct req *q);
void admin_load_set(struct req *q);

/* ---- admin_access.c, admin_groups.c ---- */
void admin_access_show(struct req *q);
void admin_access_mode(struct req *q);
void admin_access_add(struct req *q);
void admin_access_del(struct req *q);
void admin_groups_list(struct req *q);
void admin_group_new(struct req *q);
void admin_group_show(struct req *q);
void admin_group_join(struct req *q);
void admin_group_leave(struct req *q);
void admin_group_delete(struct req *q);

void admin_rights_list(struct req *q);
void admin_right_revoke(struct req *q);

void admin_users_list(struct req *q);
void admin_user_new(struct req *q);
void admin_user_show(struct req *q);
void admin_user_role(struct req *q);
void admin_user_password(struct req *q);
void admin_user_enable(struct req *q);
void admin_user_disable(struct req *q);
void admin_user_delete_form(struct req *q);
void admin_user_delete(struct req *q);

void admin_audit_list(struct req *q);
/* ---- admin_lockouts.c ---- */
void admin_lockouts_list(struct req *q);
void admin_lockout_clear(struct req *q);

#endif
