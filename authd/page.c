#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "buf.h"
#include "log.h"

#define PAGE_MAX (256 * 1024)

void
page_base_headers(struct req *q)
{
	http_add_header(q->r, "X-Content-Type-Options", "nosniff");
	http_add_header(q->r, "X-Frame-Options", "DENY");
	http_add_header(q->r, "Referrer-Policy", "no-referrer");
}

void
page_allow_form_target(struct req *q, const char *origin)
{
	size_t used = strlen(q->form_action), n = strlen(origin);
	const char *p = q->form_action;

	while ((p = strstr(p, origin)) != NULL) {
		if ((p == q->form_action || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return;
		p += n;
	}
	if (used + 1 + n + 1 > sizeof q->form_action || strpbrk(origin, " ;,'\"\r\n") != NULL) {
		log_warn("event=csp_form_target_dropped origin_len=%zu", n);
		return;
	}
	q->form_action[used] = ' ';
	memcpy(q->form_action + used + 1, origin, n + 1);
}

static void
page_headers(struct req *q)
{
	char csp[CSP_MAX];

	page_base_headers(q);
	snprintf(csp, sizeof csp,
	         "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'%s; "
	         "frame-ancestors 'none'; base-uri 'none'", q->form_action);
	http_add_header(q->r, "Content-Security-Policy", csp);
	http_add_header(q->r, "Cache-Control", "no-store");
}

struct tmpl_ctx *
page_ctx(struct req *q, const char *title)
{
	struct tmpl_ctx *c = tmpl_ctx_new();

	if (c == NULL)
		return NULL;
	tmpl_set(c, "title", title);
	if (q->logged_in)
		tmpl_set(c, "login_user", q->login.user_name);
	if (q->logged_in && q->login.role != ROLE_USER)
		tmpl_set(c, "login_admin", "1");
	return c;
}

static void
reply_plain(struct req *q, int status, const char *text)
{
	page_base_headers(q);
	http_reply(q->r, status, "text/plain; charset=utf-8", text, strlen(text));
}

void
page_render(struct req *q, int status, const char *tmpl, struct tmpl_ctx *c)
{
	struct buf b;

	if (c == NULL) {
		reply_plain(q, 500, "internal error: out of memory\n");
		return;
	}
	buf_init(&b, PAGE_MAX);
	if (tmpl_render(q->v->tmpl, tmpl, c, &b) == -1 || buf_failed(&b)) {
		log_err("event=render_failed template=%s", tmpl);
		reply_plain(q, 500, "internal error: the page could not be made\n");
	} else {
		page_headers(q);
		http_reply(q->r, status, "text/html; charset=utf-8", b.p, b.len);
	}
	buf_free(&b);
	tmpl_ctx_free(c);
}

void
page_message(struct req *q, int status, const char *title, const char *text,
             const char *link, const char *link_text)
{
	struct tmpl_ctx *c = page_ctx(q, title);

	if (c != NULL) {
		tmpl_set(c, "message", text);
		tmpl_set(c, "link", link);
		tmpl_set(c, "link_text", link_text != NULL ? link_text : link);
		tmpl_setf(c, "status", "%d", status);
		if (status >= 400)
			tmpl_set(c, "is_error", "1");
	}
	page_render(q, status, "message", c);
}

void
page_redirect(struct req *q, const char *location)
{
	struct buf b;

	buf_init(&b, PAGE_MAX);
	buf_puts(&b, "<!doctype html><title>See other</title><p><a href=\"");
	buf_html(&b, location);
	buf_puts(&b, "\">Continue</a></p>\n");
	page_headers(q);
	http_add_header(q->r, "Location", location);
	if (buf_failed(&b))
		reply_plain(q, 500, "internal error\n");
	else
		http_reply(q->r, 303, "text/html; charset=utf-8", b.p, b.len);
	buf_free(&b);
}

void
page_duration(int64_t s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lld min", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, n, "%lld h %02lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, n, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

void
page_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, n, "?");
}
