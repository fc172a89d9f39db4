#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "gauge.h"

/*
 * A service's load settings (docs/adaptive.md): its health probe and its cap
 * mode, the form of `sekishoctl service load`. The service's admin and root
 * may change them (admin_service_load checks that). The store checks the
 * values (service_load_check) and writes nothing when one is bad; every
 * change writes an audit row ("service.load"), as sekishoctl does.
 */

enum { LF_PROBE, LF_INTERVAL, LF_TIMEOUT, LF_DOWN, LF_UP, LF_MODE, LF_CAP_MIN, LF_TARGET,
       LF_GAUGE_URL, LF_GAUGE_METRIC, LF_GAUGE_TARGET, LF_N };

static const char *const field_names[LF_N] = {
	"probe", "interval_ms", "timeout_ms", "down_after", "up_after", "cap_mode", "cap_min",
	"target_ms", "gauge_url", "gauge_metric", "gauge_target",
};

/* The fields that are whole numbers (field_int). */
static int
is_int_field(int i)
{
	return i >= LF_INTERVAL && i <= LF_TARGET && i != LF_MODE;
}

struct load_form {
	struct admin_field f[LF_N];
	char text[LF_N][ADMIN_NUM_TEXT + 1];    /* the numbers of a stored service, as text */
	char target[32];                        /* its gauge target, as text */
};

static const char *
field_name(int i)
{
	return field_names[i];
}

/* The int field of l that form field i edits (not LF_PROBE nor LF_MODE). */
static int *
field_int(struct service_load *l, int i)
{
	switch (i) {
	case LF_INTERVAL: return &l->interval_ms;
	case LF_TIMEOUT:  return &l->timeout_ms;
	case LF_DOWN:     return &l->down_after;
	case LF_UP:       return &l->up_after;
	case LF_CAP_MIN:  return &l->cap_min;
	default:          return &l->target_ms;
	}
}

/* The page, with f's values and messages, error (may be NULL) and the status. */
static void
load_page(struct req *q, int status, const struct load_form *f,
          const struct store_service *svc, const char *error)
{
	struct tmpl_ctx *c;
	const char *mode = f->f[LF_MODE].in;

	if ((c = admin_ctx(q, "Health probe and cap", "services")) == NULL) {
		admin_busy(q);
		return;
	}
	admin_form_errors(c, f->f, LF_N, field_name);
	tmpl_set(c, "error", error);
	tmpl_set(c, mode != NULL && strcmp(mode, "adaptive") == 0 ? "adaptive" : "fixed", "1");
	tmpl_setf(c, "id", "%lld", (long long)svc->id);
	tmpl_set(c, "svc_name", svc->name);
	tmpl_setf(c, "cap", "%d", svc->cap);
	tmpl_setf(c, "cap_now", "%d", service_cap_now(svc));
	if (svc->load.probe[0])
		tmpl_set(c, svc->health == HEALTH_DOWN ? "down" : "up", "1");
	page_render(q, status, "admin_service_load", c);
}

/* The form filled from the stored settings. */
static void
form_from(struct load_form *f, const struct store_service *svc)
{
	struct service_load l = svc->load;

	memset(f, 0, sizeof *f);
	f->f[LF_PROBE].in = svc->load.probe;
	f->f[LF_MODE].in = l.cap_mode == CAP_ADAPTIVE ? "adaptive" : "fixed";
	f->f[LF_GAUGE_URL].in = svc->load.gauge_url;
	f->f[LF_GAUGE_METRIC].in = svc->load.gauge_metric;
	if (l.gauge_target > 0)
		snprintf(f->target, sizeof f->target, "%g", l.gauge_target);
	f->f[LF_GAUGE_TARGET].in = f->target;
	for (int i = 0; i < LF_N; i++) {
		if (!is_int_field(i))
			continue;
		snprintf(f->text[i], sizeof f->text[i], "%d", *field_int(&l, i));
		f->f[i].in = f->text[i];
	}
}

/* Copies text field i into dst (n bytes, the bound); 1 and a message when longer. */
static int
text_field(struct load_form *f, int i, char *dst, size_t n)
{
	const char *v = f->f[i].in ? f->f[i].in : "";

	if (strlen(v) < n) {
		snprintf(dst, n, "%s", v);
		return 0;
	}
	snprintf(f->f[i].err, ADMIN_MSG_MAX, "At most %zu characters.", n - 1);
	return 1;
}

/* The gauge fields into l (the store checks that they go together); fields marked wrong. */
static int
gauge_parse(struct load_form *f, struct service_load *l)
{
	const char *v = f->f[LF_GAUGE_TARGET].in;
	int bad = text_field(f, LF_GAUGE_URL, l->gauge_url, sizeof l->gauge_url) +
	          text_field(f, LF_GAUGE_METRIC, l->gauge_metric, sizeof l->gauge_metric);

	if (v != NULL && v[0] != '\0' &&
	    parse_decimal(v, 0, GAUGE_TARGET_MAX, &l->gauge_target) == -1) {
		snprintf(f->f[LF_GAUGE_TARGET].err, ADMIN_MSG_MAX, "Give a number such as 2 or 0.75.");
		bad++;
	}
	return bad;
}

/* Reads and parses the form into l; the number of fields marked wrong. */
static int
form_parse(struct req *q, struct load_form *f, struct service_load *l)
{
	const char *v;
	long long n;
	int bad = 0;

	memset(f, 0, sizeof *f);
	memset(l, 0, sizeof *l);
	for (int i = 0; i < LF_N; i++)
		f->f[i].in = http_form(q->r, field_names[i]);
	bad += text_field(f, LF_PROBE, l->probe, sizeof l->probe);
	v = f->f[LF_MODE].in;
	if (v != NULL && (strcmp(v, "fixed") == 0 || strcmp(v, "adaptive") == 0)) {
		l->cap_mode = v[0] == 'a' ? CAP_ADAPTIVE : CAP_FIXED;
	} else {
		snprintf(f->f[LF_MODE].err, ADMIN_MSG_MAX, "Choose fixed or adaptive.");
		bad++;
	}
	bad += gauge_parse(f, l);
	for (int i = 0; i < LF_N; i++) {
		if (!is_int_field(i))
			continue;
		v = f->f[i].in;
		if (v == NULL || strnlen(v, ADMIN_NUM_TEXT + 1) > ADMIN_NUM_TEXT ||
		    parse_int(v, 1, INT_MAX, &n) == -1) {
			snprintf(f->f[i].err, ADMIN_MSG_MAX, "Give a whole number above 0.");
			bad++;
			continue;
		}
		*field_int(l, i) = (int)n;
	}
	return bad;
}

void
admin_load_show(struct req *q)
{
	struct store_service svc;
	struct load_form f;
	struct store *st;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 0), &svc) == -1)
		return;
	form_from(&f, &svc);
	load_page(q, 200, &f, &svc, NULL);
}

void
admin_load_set(struct req *q)
{
	struct store_service svc;
	struct service_load l;
	struct load_form f;
	struct store *st;
	char err[256] = "", loc[96];
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 1), &svc) == -1)
		return;
	if (form_parse(q, &f, &l) > 0) {
		load_page(q, 400, &f, &svc, "Please correct the marked fields.");
		return;
	}
	if ((rc = store_service_set_load(st, svc.id, &l, err, sizeof err)) == STORE_INVALID) {
		load_page(q, 400, &f, &svc, err);
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "service.load", svc.name, NULL, "probe=%.200s mode=%s cap_min=%d "
	            "target_ms=%d interval_ms=%d timeout_ms=%d down_after=%d up_after=%d "
	            "gauge=%.200s gauge_metric=%.200s gauge_target=%g",
	            l.probe[0] ? l.probe : "none", l.cap_mode ? "adaptive" : "fixed", l.cap_min,
	            l.target_ms, l.interval_ms, l.timeout_ms, l.down_after, l.up_after,
	            l.gauge_url[0] ? l.gauge_url : "none", l.gauge_metric, l.gauge_target);
	snprintf(loc, sizeof loc, "/admin/services/load?id=%lld&done=load_saved", (long long)svc.id);
	page_redirect(q, loc);
}
