/*
 * The gauge selector and the search of a Prometheus text exposition page
 * (gauge.h). A sample line is
 *   name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value [ timestamp ]
 * with \\, \" and \n escaped in label values; lines starting with # are
 * comments (HELP, TYPE). Every token is bounded; what does not parse is
 * skipped.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gauge.h"

static int
name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *
skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A name at p into out (max bytes): the end of it, or NULL. */
static const char *
read_name(const char *p, const char *end, char *out, size_t max)
{
	size_t n = 0;

	if (p >= end || !name_start(*p))
		return NULL;
	while (p < end && name_char(*p)) {
		if (n == max)
			return NULL;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return p;
}

/* A quoted label value at p (unescaped into out, max bytes): the end of it, or NULL. */
static const char *
read_value(const char *p, const char *end, char *out, size_t max)
{
	size_t n = 0;
	char c;

	if (p >= end || *p++ != '"')
		return NULL;
	while (p < end && *p != '"') {
		c = *p++;
		if (c == '\\') {
			if (p >= end)
				return NULL;
			c = *p++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return NULL;
		}
		if (n == max)
			return NULL;
		out[n++] = c;
	}
	if (p >= end)
		return NULL;
	out[n] = '\0';
	return p + 1;
}

/*
 * A label set at p ('{' ... '}'): calls on(name, value) for each label.
 * The end of the set, or NULL when it is malformed or on() says stop (-1).
 */
static const char *
read_labels(const char *p, const char *end, int (*on)(const char *, const char *, void *),
            void *arg)
{
	char name[GAUGE_LABEL_MAX + 1], value[GAUGE_LINE_MAX + 1];

	p = skip_blank(p + 1, end);
	while (p < end && *p != '}') {
		if ((p = read_name(p, end, name, GAUGE_LABEL_MAX)) == NULL)
			return NULL;
		p = skip_blank(p, end);
		if (p >= end || *p++ != '=')
			return NULL;
		p = skip_blank(p, end);
		if ((p = read_value(p, end, value, GAUGE_LINE_MAX)) == NULL || on(name, value, arg) == -1)
			return NULL;
		p = skip_blank(p, end);
		if (p < end && *p == ',')
			p = skip_blank(p + 1, end);
		else if (p < end && *p != '}')
			return NULL;
	}
	return p < end ? p + 1 : NULL;
}

static int
sel_add(const char *name, const char *value, void *arg)
{
	struct gauge_sel *g = arg;

	if (g->n == GAUGE_LABELS_MAX || strlen(value) > GAUGE_LABEL_MAX)
		return -1;
	snprintf(g->l[g->n].name, sizeof g->l[g->n].name, "%s", name);
	snprintf(g->l[g->n].value, sizeof g->l[g->n].value, "%s", value);
	g->n++;
	return 0;
}

int
gauge_sel_parse(const char *s, struct gauge_sel *g, char *err, size_t errlen)
{
	const char *end = s + strlen(s), *p;

	memset(g, 0, sizeof *g);
	if ((size_t)(end - s) > GAUGE_METRIC_MAX)
		return snprintf(err, errlen, "gauge metric longer than %d characters", GAUGE_METRIC_MAX),
		       -1;
	if ((p = read_name(s, end, g->name, GAUGE_METRIC_MAX)) == NULL)
		return snprintf(err, errlen, "gauge metric must start with a metric name "
		                "([a-zA-Z_:][a-zA-Z0-9_:]*)"), -1;
	if (p < end && *p == '{')
		p = read_labels(p, end, sel_add, g);
	if (p != end)
		return snprintf(err, errlen, "gauge metric must be name or name{label=\"value\",...} "
		                "(at most %d labels of %d characters)", GAUGE_LABELS_MAX,
		                GAUGE_LABEL_MAX), -1;
	return 0;
}

struct match {
	const struct gauge_sel *g;
	int found;                           /* selector labels seen with their value */
};

static int
match_label(const char *name, const char *value, void *arg)
{
	struct match *m = arg;

	for (int i = 0; i < m->g->n; i++)
		if (strcmp(m->g->l[i].name, name) == 0) {
			if (strcmp(m->g->l[i].value, value) != 0)
				return -1;   /* this series is not the one */
			m->found++;
		}
	return 0;
}

/* One line: 1 and *v when it is a sample of the selected series, else 0. */
static int
line_value(const char *p, const char *end, const struct gauge_sel *g, double *v)
{
	char name[GAUGE_METRIC_MAX + 1], num[64], *stop;
	struct match m = { g, 0 };
	size_t n;

	p = skip_blank(p, end);
	if ((p = read_name(p, end, name, GAUGE_METRIC_MAX)) == NULL || strcmp(name, g->name) != 0)
		return 0;
	p = skip_blank(p, end);
	if (p < end && *p == '{' && (p = read_labels(p, end, match_label, &m)) == NULL)
		return 0;
	if (m.found != g->n)
		return 0;
	p = skip_blank(p, end);
	for (n = 0; p + n < end && p[n] != ' ' && p[n] != '\t' && p[n] != '\r'; n++)
		if (n + 1 >= sizeof num)
			return 0;
	if (n == 0)
		return 0;
	memcpy(num, p, n);
	num[n] = '\0';
	*v = strtod(num, &stop);
	return *stop == '\0' && isfinite(*v);
}

int
gauge_find(const char *page, size_t len, const struct gauge_sel *g, double *out)
{
	const char *p = page, *end = page + len, *nl;
	double v, best = 0;
	int found = 0;

	for (; p < end; p = nl + 1) {
		const char *first;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		first = skip_blank(p, nl);
		if (nl - p > GAUGE_LINE_MAX || first == nl || *first == '#')
			continue;
		if (line_value(p, nl, g, &v) && (!found || v > best)) {
			best = v;
			found = 1;
		}
	}
	if (found)
		*out = best;
	return found ? 0 : -1;
}
