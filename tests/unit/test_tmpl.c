#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpl.h"

static char dir[64];

static void
put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/sekisho-tmpl-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "%s", dir);
	for (const char *f = "a.html\0b.html\0layout.html\0bad.html\0"; *f; f += strlen(f) + 1) {
		char path[160];

		snprintf(path, sizeof path, "%s/%s", dir, f);
		unlink(path);
	}
	snprintf(cmd, sizeof cmd, "%s/static/sekisho.css", dir);
	unlink(cmd);
	snprintf(cmd, sizeof cmd, "%s/static", dir);
	rmdir(cmd);
	snprintf(cmd, sizeof cmd, "%s", dir);
	rmdir(cmd);
}

/* Renders template a.html holding text with ctx; returns a malloc'd string. */
static char *
render(const char *text, const struct tmpl_ctx *ctx)
{
	char err[256];
	struct tmpl_set *ts;
	struct buf b;
	char *s;

	put("a.html", text);
	ts = tmpl_load(dir, err, sizeof err);
	cr_assert_not_null(ts, "load: %s", err);
	buf_init(&b, 0);
	cr_assert_eq(tmpl_render(ts, "a", ctx, &b), 0);
	s = strdup(b.p ? b.p : "");
	buf_free(&b);
	tmpl_free(ts);
	return s;
}

TestSuite(tmpl, .init = setup, .fini = teardown);

Test(tmpl, escapes_every_value)
{
	struct tmpl_ctx *c = tmpl_ctx_new();
	char *out;

	tmpl_set(c, "name", "<b onclick=\"x\">&'");
	out = render("<p title=\"{{name}}\">{{ name }}</p>", c);
	cr_assert_str_eq(out, "<p title=\"&lt;b onclick=&quot;x&quot;&gt;&amp;&#39;\">"
	                      "&lt;b onclick=&quot;x&quot;&gt;&amp;&#39;</p>");
	free(out);
	tmpl_ctx_free(c);
}

Test(tmpl, absent_values_render_as_nothing)
{
	char *out = render("[{{missing}}]", NULL);

	cr_assert_str_eq(out, "[]");
	free(out);
}

Test(tmpl, lists_repeat_and_rows_see_their_parents)
{
	struct tmpl_ctx *c = tmpl_ctx_new(), *r;
	char *out;

	tmpl_set(c, "unit", "min");
	r = tmpl_row(c, "svc");
	tmpl_set(r, "name", "a");
	r = tmpl_row(c, "svc");
	tmpl_set(r, "name", "b<");
	out = render("{{#svc}}{{name}}:{{unit}};{{/svc}}{{^svc}}none{{/svc}}", c);
	cr_assert_str_eq(out, "a:min;b&lt;:min;");
	free(out);
	tmpl_ctx_free(c);
}

Test(tmpl, inverted_sections_show_for_absent_empty_and_empty_lists)
{
	struct tmpl_ctx *c = tmpl_ctx_new();
	char *out;

	tmpl_set(c, "empty", "");
	tmpl_set(c, "full", "1");
	out = render("{{^absent}}A{{/absent}}{{^empty}}E{{/empty}}{{^full}}F{{/full}}"
	             "{{#full}}f{{/full}}{{#empty}}e{{/empty}}", c);
	cr_assert_str_eq(out, "AEf");
	free(out);
	tmpl_ctx_free(c);
}

Test(tmpl, partials_render_in_the_same_context)
{
	struct tmpl_ctx *c = tmpl_ctx_new();
	char *out;

	put("layout.html", "<h1>{{title}}</h1>");
	tmpl_set(c, "title", "T&");
	out = render("{{> layout}}body", c);
	cr_assert_str_eq(out, "<h1>T&amp;</h1>body");
	free(out);
	tmpl_ctx_free(c);
}

struct bad { char text[48], why[64]; };

ParameterizedTestParameters(tmpl, syntax_errors_name_file_and_line)
{
	static struct bad cases[] = {
		{ "ok\n{{#a}}x", "bad.html:2: section not closed" },
		{ "{{#a}}\n\nx{{/b}}", "bad.html:3: closing tag does not match" },
		{ "\n{{{raw}}}", "bad.html:2: raw output" },
		{ "{{name", "bad.html:1: unclosed tag" },
		{ "{{na me}}", "bad.html:1: bad name" },
		{ "x\n{{> nosuch}}", "bad.html:2: no template nosuch" },
		{ "{{/a}}", "bad.html:1: closing tag" },
	};
	return cr_make_param_array(struct bad, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad *b, tmpl, syntax_errors_name_file_and_line)
{
	char err[256] = "";

	put("bad.html", b->text);
	cr_assert_null(tmpl_load(dir, err, sizeof err), "%s should not load", b->text);
	cr_assert_not_null(strstr(err, b->why), "error '%s' should contain '%s'", err, b->why);
}

Test(tmpl, self_including_partial_fails_the_render_not_the_process)
{
	char err[256];
	struct tmpl_set *ts;
	struct buf b;

	put("a.html", "x{{> a}}");
	ts = tmpl_load(dir, err, sizeof err);
	cr_assert_not_null(ts, "%s", err);
	buf_init(&b, 0);
	cr_assert_eq(tmpl_render(ts, "a", NULL, &b), -1);
	buf_free(&b);
	tmpl_free(ts);
}

/* Writes static/sekisho.css of n bytes of 'a'. */
static void
put_css(size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/static", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/static/sekisho.css", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	for (size_t i = 0; i < n; i++)
		fputc('a', f);
	fclose(f);
}

Test(tmpl, the_stylesheet_is_read_whole_up_to_its_maximum)
{
	char err[256], *css;
	size_t len = 0;

	put_css(TMPL_CSS_MAX);
	css = tmpl_load_css(dir, &len, err, sizeof err);
	cr_assert_not_null(css, "%s", err);
	cr_assert_eq(len, TMPL_CSS_MAX);
	free(css);
}

Test(tmpl, a_stylesheet_over_its_maximum_or_missing_is_an_error_naming_the_file)
{
	char err[256];
	size_t len = 0;

	cr_assert_null(tmpl_load_css(dir, &len, err, sizeof err));
	cr_assert(strstr(err, "static/sekisho.css") != NULL, "%s", err);
	put_css(TMPL_CSS_MAX + 1);
	cr_assert_null(tmpl_load_css(dir, &len, err, sizeof err));
	cr_assert(strstr(err, "too large") != NULL, "%s", err);
}
