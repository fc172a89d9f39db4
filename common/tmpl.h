#ifndef SEKISHO_TMPL_H
#define SEKISHO_TMPL_H

/*
 * HTML templates (web/NAME.html), a small mustache-like language in which
 * every value is escaped; there is no way to write a raw value.
 *
 *   {{name}}                 the value of name, HTML-escaped
 *   {{#name}} ... {{/name}}  once per row of list name, or once when name is a
 *                            non-empty value; rows see their own names first,
 *                            then their parents'
 *   {{^name}} ... {{/name}}  once when name is absent, empty, or an empty list
 *   {{> other}}              the template web/other.html, in the same context
 *
 * Templates are read and checked once (tmpl_load); a syntax error names
 * FILE:LINE. Rendering never fails on data: an absent name renders as nothing.
 */

#include <stddef.h>

#include "buf.h"

struct tmpl_set;
struct tmpl_ctx;

/* Loads every *.html in dir. NULL with "FILE:LINE: why" in err. */
struct tmpl_set *tmpl_load(const char *dir, char *err, size_t errlen);
void tmpl_free(struct tmpl_set *ts);

#define TMPL_CSS_MAX (64 * 1024)
/*
 * Reads web_dir/static/sekisho.css, the stylesheet authd and cid serve, into
 * a new buffer of *len bytes. NULL with err: unreadable, over TMPL_CSS_MAX.
 */
char *tmpl_load_css(const char *web_dir, size_t *len, char *err, size_t errlen);
/* Renders template name (without .html) with ctx, appending to out. -1 if no such template. */
int tmpl_render(const struct tmpl_set *ts, const char *name, const struct tmpl_ctx *ctx,
                struct buf *out);

struct tmpl_ctx *tmpl_ctx_new(void);
void tmpl_ctx_free(struct tmpl_ctx *c);
/* Sets name to a copy of value (NULL = absent). Later sets of the same name win. */
void tmpl_set(struct tmpl_ctx *c, const char *name, const char *value);
void tmpl_setf(struct tmpl_ctx *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends a row to list name and returns it (owned by c) to fill. */
struct tmpl_ctx *tmpl_row(struct tmpl_ctx *c, const char *name);

#endif
