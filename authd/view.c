#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"

static void
view_free(struct authd_view *v)
{
	if (v == NULL)
		return;
	tmpl_free(v->tmpl);
	free(v->css);
	free(v);
}

struct authd_view *
view_load(const struct conf *c, char *err, size_t errlen)
{
	struct authd_view *v = calloc(1, sizeof *v);

	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->refs = 1;
	v->conf = *c;
	v->https = strncmp(c->authd.base_url, "https://", 8) == 0 ||
	           (c->authd.tls_cert[0] != '\0' && c->authd.tls_key[0] != '\0');
	if (addr_parse_list(c->authd.trusted_proxies, v->trusted, CONF_LIST_MAX,
	                    &v->n_trusted) == -1) {
		snprintf(err, errlen, "authd.trusted_proxies: not a list of addresses");
		goto fail;
	}
	if ((v->tmpl = tmpl_load(c->authd.web_dir, err, errlen)) == NULL)
		goto fail;
	if ((v->css = tmpl_load_css(c->authd.web_dir, &v->css_len, err, errlen)) == NULL)
		goto fail;
	return v;
fail:
	view_free(v);
	return NULL;
}

int
view_check(const struct conf *c, char *err, size_t errlen)
{
	static const char *const needed[] = { "line", "login", "me", "message", "queue" };
	struct authd_view *v = view_load(c, err, errlen);
	struct tmpl_ctx *ctx;
	struct buf b;
	int rc = 0;

	if (v == NULL)
		return -1;
	ctx = tmpl_ctx_new();
	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof needed / sizeof needed[0] && rc == 0; i++)
		if (ctx == NULL || tmpl_render(v->tmpl, needed[i], ctx, &b) == -1) {
			snprintf(err, errlen, "%s: no template %s.html", c->authd.web_dir, needed[i]);
			rc = -1;
		}
	buf_free(&b);
	tmpl_ctx_free(ctx);
	view_free(v);
	return rc;
}

struct authd_view *
view_hold(struct authd *a)
{
	struct authd_view *v;

	pthread_mutex_lock(&a->view_lock);
	v = a->view;
	v->refs++;
	pthread_mutex_unlock(&a->view_lock);
	return v;
}

struct authd_view *
view_ref(struct authd *a, struct authd_view *v)
{
	pthread_mutex_lock(&a->view_lock);
	v->refs++;
	pthread_mutex_unlock(&a->view_lock);
	return v;
}

void
view_release(struct authd *a, struct authd_view *v)
{
	int last;

	if (v == NULL)
		return;
	pthread_mutex_lock(&a->view_lock);
	last = --v->refs == 0;
	pthread_mutex_unlock(&a->view_lock);
	if (last)
		view_free(v);
}

void
view_swap(struct authd *a, struct authd_view *v)
{
	struct authd_view *old;

	pthread_mutex_lock(&a->view_lock);
	old = a->view;
	a->view = v;
	pthread_mutex_unlock(&a->view_lock);
	view_release(a, old);
}
