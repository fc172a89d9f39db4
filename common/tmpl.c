#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"

#define TMPL_FILE_MAX  (256 * 1024)  /* one template file */
#define TMPL_MAX       64            /* templates in a directory */
#define TMPL_NAME_MAX  48            /* a template's or a value's name */
#define TMPL_DEPTH_MAX 16            /* nested sections and partials */

enum node_kind { N_TEXT, N_VAR, N_SECTION, N_INVERTED, N_PARTIAL };

struct node {
	int kind;
	char name[TMPL_NAME_MAX + 1];
	int line;                       /* where it stands in its file */
	const char *text;               /* N_TEXT: into the template's source */
	size_t len;
	struct node *child;             /* sections: first node inside */
	struct node *next;
};

struct tmpl {
	char name[TMPL_NAME_MAX + 1];
	char *src;
	struct node *root;
};

struct tmpl_set {
	int n;
	struct tmpl t[TMPL_MAX];
};

struct tmpl_val {
	char name[TMPL_NAME_MAX + 1];
	char *value;                    /* NULL for a list */
	struct tmpl_ctx **rows;
	int n_rows;
};

struct tmpl_ctx {
	const struct tmpl_ctx *parent;
	struct tmpl_val *vals;
	int n, cap;
};

/* ---- parsing ---- */

struct parser {
	const char *file;
	const char *src, *p;
	char *err;
	size_t errlen;
};

static int
line_of(const struct parser *ps, const char *at)
{
	int line = 1;

	for (const char *q = ps->src; q < at; q++)
		line += *q == '\n';
	return line;
}

static int
fail_at(struct parser *ps, const char *at, const char *why)
{
	snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->file, line_of(ps, at), why);
	return -1;
}

static void
free_nodes(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;

		free_nodes(n->child);
		free(n);
		n = next;
	}
}

static struct node *
new_node(int kind)
{
	struct node *n = calloc(1, sizeof *n);

	if (n != NULL)
		n->kind = kind;
	return n;
}

static int
valid_name(const char *s, size_t len)
{
	if (len == 0 || len > TMPL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

/* Reads the tag starting at ps->p ("{{"), fills kind and name, moves past "}}". */
static int
read_tag(struct parser *ps, int *kind, char *name)
{
	const char *tag = ps->p, *s = ps->p + 2, *end;
	size_t len;

	if (*s == '{')
		return fail_at(ps, tag, "raw output {{{...}}} is not supported");
	if ((end = strstr(s, "}}")) == NULL)
		return fail_at(ps, tag, "unclosed tag");
	*kind = N_VAR;
	switch (*s) {
	case '#': *kind = N_SECTION; s++; break;
	case '^': *kind = N_INVERTED; s++; break;
	case '/': *kind = -1; s++; break;
	case '>': *kind = N_PARTIAL; s++; break;
	}
	while (s < end && isspace((unsigned char)*s))
		s++;
	len = (size_t)(end - s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (!valid_name(s, len))
		return fail_at(ps, tag, "bad name in tag");
	memcpy(name, s, len);
	name[len] = '\0';
	ps->p = end + 2;
	return 0;
}

/*
 * Parses nodes until the end of input (closing == NULL) or the {{/closing}} tag.
 * Appends to *out. 0 or -1.
 */
static int
parse_nodes(struct parser *ps, const char *closing, int depth, struct node **out)
{
	struct node **tail = out, *n;
	char name[TMPL_NAME_MAX + 1];
	const char *open;
	int kind;

	if (depth > TMPL_DEPTH_MAX)
		return fail_at(ps, ps->p, "sections nested too deep");
	for (;;) {
		open = strstr(ps->p, "{{");
		if (open == NULL)
			open = ps->p + strlen(ps->p);
		if (open > ps->p) {
			if ((n = new_node(N_TEXT)) == NULL)
				return fail_at(ps, ps->p, "out of memory");
			n->text = ps->p;
			n->len = (size_t)(open - ps->p);
			*tail = n;
			tail = &n->next;
			ps->p = open;
		}
		if (*ps->p == '\0')
			return closing == NULL ? 0 : fail_at(ps, ps->p, "section not closed");
		if (read_tag(ps, &kind, name) == -1)
			return -1;
		if (kind == -1) {
			if (closing == NULL || strcmp(name, closing) != 0)
				return fail_at(ps, open, "closing tag does not match an open section");
			return 0;
		}
		if ((n = new_node(kind)) == NULL)
			return fail_at(ps, open, "out of memory");
		snprintf(n->name, sizeof n->name, "%s", name);
		n->line = line_of(ps, open);
		*tail = n;
		tail = &n->next;
		if ((kind == N_SECTION || kind == N_INVERTED) &&
		    parse_nodes(ps, n->name, depth + 1, &n->child) == -1)
			return -1;
	}
}

/* Reads a text file of at most max bytes into a new NUL-terminated buffer. NULL with err. */
static char *
read_file(const char *path, size_t max, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		snprintf(err, errlen, "%s: %s", path, n > max ? "too large" : "read error");
		goto fail;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		goto fail;
	}
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

char *
tmpl_load_css(const char *web_dir, size_t *len, char *err, size_t errlen)
{
	char path[4096];
	char *css;

	if ((size_t)snprintf(path, sizeof path, "%s/static/sekisho.css", web_dir) >= sizeof path) {
		snprintf(err, errlen, "web_dir too long");
		return NULL;
	}
	if ((css = read_file(path, TMPL_CSS_MAX, err, errlen)) != NULL)
		*len = strlen(css);
	return css;
}

static int
load_one(struct tmpl *t, const char *dir, const char *file, char *err, size_t errlen)
{
	char path[1024];
	struct parser ps;
	size_t len = strlen(file) - 5;   /* without ".html" */

	if (len > TMPL_NAME_MAX) {
		snprintf(err, errlen, "%s/%s: template name too long", dir, file);
		return -1;
	}
	memcpy(t->name, file, len);
	t->name[len] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((t->src = read_file(path, TMPL_FILE_MAX, err, errlen)) == NULL)
		return -1;
	ps = (struct parser){ path, t->src, t->src, err, errlen };
	return parse_nodes(&ps, NULL, 0, &t->root);
}

static int
is_html(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".html") == 0 && name[0] != '.';
}

static const struct tmpl *find_tmpl(const struct tmpl_set *ts, const char *name);

/* Every {{> name}} must name a loaded template. 0 or -1 with "FILE:LINE: why". */
static int
check_partials(const struct tmpl_set *ts, const struct tmpl *t, const struct node *n,
               const char *dir, char *err, size_t errlen)
{
	for (; n != NULL; n = n->next) {
		if (n->kind == N_PARTIAL && find_tmpl(ts, n->name) == NULL) {
			snprintf(err, errlen, "%s/%s.html:%d: no template %s", dir, t->name,
			         n->line, n->name);
			return -1;
		}
		if (check_partials(ts, t, n->child, dir, err, errlen) == -1)
			return -1;
	}
	return 0;
}

struct tmpl_set *
tmpl_load(const char *dir, char *err, size_t errlen)
{
	struct tmpl_set *ts;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((ts = calloc(1, sizeof *ts)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_html(de->d_name))
			continue;
		if (ts->n == TMPL_MAX) {
			snprintf(err, errlen, "%s: more than %d templates", dir, TMPL_MAX);
			goto fail;
		}
		if (load_one(&ts->t[ts->n++], dir, de->d_name, err, errlen) == -1)
			goto fail;
	}
	for (int i = 0; i < ts->n; i++)
		if (check_partials(ts, &ts->t[i], ts->t[i].root, dir, err, errlen) == -1)
			goto fail;
	closedir(d);
	return ts;
fail:
	closedir(d);
	tmpl_free(ts);
	return NULL;
}

void
tmpl_free(struct tmpl_set *ts)
{
	if (ts == NULL)
		return;
	for (int i = 0; i < ts->n; i++) {
		free_nodes(ts->t[i].root);
		free(ts->t[i].src);
	}
	free(ts);
}

/* ---- contexts ---- */

struct tmpl_ctx *
tmpl_ctx_new(void)
{
	return calloc(1, sizeof(struct tmpl_ctx));
}

void
tmpl_ctx_free(struct tmpl_ctx *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->n; i++) {
		free(c->vals[i].value);
		for (int r = 0; r < c->vals[i].n_rows; r++)
			tmpl_ctx_free(c->vals[i].rows[r]);
		free(c->vals[i].rows);
	}
	free(c->vals);
	free(c);
}

static struct tmpl_val *
find_own(const struct tmpl_ctx *c, const char *name)
{
	for (int i = c->n - 1; i >= 0; i--)
		if (strcmp(c->vals[i].name, name) == 0)
			return &c->vals[i];
	return NULL;
}

static struct tmpl_val *
add_val(struct tmpl_ctx *c, const char *name)
{
	struct tmpl_val *v;

	if (c == NULL || strlen(name) > TMPL_NAME_MAX)
		return NULL;
	if ((v = find_own(c, name)) != NULL)
		return v;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 8;
		struct tmpl_val *nv = realloc(c->vals, (size_t)cap * sizeof *nv);

		if (nv == NULL)
			return NULL;
		c->vals = nv;
		c->cap = cap;
	}
	v = &c->vals[c->n++];
	memset(v, 0, sizeof *v);
	snprintf(v->name, sizeof v->name, "%s", name);
	return v;
}

void
tmpl_set(struct tmpl_ctx *c, const char *name, const char *value)
{
	struct tmpl_val *v = add_val(c, name);

	if (v == NULL || v->rows != NULL)
		return;
	free(v->value);
	v->value = value != NULL ? strdup(value) : NULL;
}

void
tmpl_setf(struct tmpl_ctx *c, const char *name, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	tmpl_set(c, name, buf);
}

struct tmpl_ctx *
tmpl_row(struct tmpl_ctx *c, const char *name)
{
	struct tmpl_val *v = add_val(c, name);
	struct tmpl_ctx **rows, *row;

	if (v == NULL || v->value != NULL)
		return NULL;
	if ((row = tmpl_ctx_new()) == NULL)
		return NULL;
	if ((rows = realloc(v->rows, (size_t)(v->n_rows + 1) * sizeof *rows)) == NULL) {
		free(row);
		return NULL;
	}
	row->parent = c;
	rows[v->n_rows++] = row;
	v->rows = rows;
	return row;
}

/* ---- rendering ---- */

static const struct tmpl_val *
lookup(const struct tmpl_ctx *c, const char *name)
{
	for (; c != NULL; c = c->parent) {
		const struct tmpl_val *v = find_own(c, name);

		if (v != NULL)
			return v;
	}
	return NULL;
}

static const struct tmpl *
find_tmpl(const struct tmpl_set *ts, const char *name)
{
	for (int i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return &ts->t[i];
	return NULL;
}

static int
truthy(const struct tmpl_val *v)
{
	return v != NULL && (v->n_rows > 0 || (v->value != NULL && v->value[0] != '\0'));
}

static void render_nodes(const struct tmpl_set *, const struct node *, const struct tmpl_ctx *,
                         struct buf *, int);

static void
render_section(const struct tmpl_set *ts, const struct node *n, const struct tmpl_ctx *c,
               struct buf *out, int depth)
{
	const struct tmpl_val *v = lookup(c, n->name);

	if (n->kind == N_INVERTED) {
		if (!truthy(v))
			render_nodes(ts, n->child, c, out, depth + 1);
	} else if (v != NULL && v->rows != NULL) {
		for (int r = 0; r < v->n_rows; r++)
			render_nodes(ts, n->child, v->rows[r], out, depth + 1);
	} else if (truthy(v)) {
		render_nodes(ts, n->child, c, out, depth + 1);
	}
}

static void
render_nodes(const struct tmpl_set *ts, const struct node *n, const struct tmpl_ctx *c,
             struct buf *out, int depth)
{
	const struct tmpl_val *v;
	const struct tmpl *t;

	if (depth > TMPL_DEPTH_MAX) {
		out->failed = 1;
		return;
	}
	for (; n != NULL; n = n->next) {
		switch (n->kind) {
		case N_TEXT:
			buf_add(out, n->text, n->len);
			break;
		case N_VAR:
			if ((v = lookup(c, n->name)) != NULL && v->value != NULL)
				buf_html(out, v->value);
			break;
		case N_SECTION:
		case N_INVERTED:
			render_section(ts, n, c, out, depth);
			break;
		case N_PARTIAL:
			if ((t = find_tmpl(ts, n->name)) != NULL)
				render_nodes(ts, t->root, c, out, depth + 1);
			break;
		}
	}
}

int
tmpl_render(const struct tmpl_set *ts, const char *name, const struct tmpl_ctx *ctx, struct buf *out)
{
	const struct tmpl *t = find_tmpl(ts, name);

	if (t == NULL)
		return -1;
	render_nodes(ts, t->root, ctx, out, 0);
	return buf_failed(out) ? -1 : 0;
}
