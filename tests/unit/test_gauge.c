#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "gauge.h"

/* A selector and whether it parses. */
struct sel_case {
	char text[160];
	int ok;
	int labels;
};

ParameterizedTestParameters(gauge, selectors_are_a_name_and_optional_labels)
{
	static struct sel_case cases[] = {
		{ "capsvc_inflight", 1, 0 },
		{ "http_requests_in_flight{handler=\"/api\"}", 1, 1 },
		{ "x{a=\"1\",b=\"2\",}", 1, 2 },          /* a trailing comma is allowed */
		{ "x{a=\"q\\\"uote\"}", 1, 1 },           /* escaped quote */
		{ "ns:rule_metric", 1, 0 },
		{ "", 0, 0 },
		{ "9lives", 0, 0 },                       /* a name does not start with a digit */
		{ "x{a=1}", 0, 0 },                       /* values are quoted */
		{ "x{a=\"1\"", 0, 0 },                    /* unclosed */
		{ "x{a=\"1\"} 3", 0, 0 },                 /* no value in a selector */
		{ "x y", 0, 0 },
		{ "x{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\"}", 0, 0 },
	};
	return cr_make_param_array(struct sel_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct sel_case *c, gauge, selectors_are_a_name_and_optional_labels)
{
	struct gauge_sel g;
	char err[200] = "";
	int rc = gauge_sel_parse(c->text, &g, err, sizeof err);

	cr_assert_eq(rc == 0, c->ok, "%s: %s", c->text, err);
	if (c->ok)
		cr_assert_eq(g.n, c->labels, "%s", c->text);
	else
		cr_assert_neq(err[0], '\0', "%s: a refusal says why", c->text);
}

Test(gauge, a_selector_longer_than_the_bound_is_refused)
{
	char s[GAUGE_METRIC_MAX + 2];
	struct gauge_sel g;
	char err[200];

	memset(s, 'a', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	cr_assert_eq(gauge_sel_parse(s, &g, err, sizeof err), -1);
}

static const char PAGE[] =
	"# HELP capsvc_inflight Requests accepted or waiting.\n"
	"# TYPE capsvc_inflight gauge\n"
	"capsvc_inflight 7\n"
	"http_in_flight{handler=\"/a\",code=\"200\"} 3 1700000000000\n"
	"http_in_flight{handler=\"/b\"} 5.5\n"
	"http_in_flight{handler=\"/c\"} NaN\n"
	"http_in_flight{handler=\"/d\"} +Inf\n"
	"quoted{path=\"x\\\"y\"} 2\r\n"
	"  spaced   {  k = \"v\" }   4\n"
	"broken{k=\"v\" 9\n"
	"capsvc_inflight_total 100\n";

/* A selector over PAGE and what it reads: the value, or -1 for none. */
struct find_case {
	char sel[64];
	double want;
};

ParameterizedTestParameters(gauge, the_selected_series_is_found_in_a_page)
{
	static struct find_case cases[] = {
		{ "capsvc_inflight", 7 },                   /* not the _total with the same prefix */
		{ "http_in_flight{handler=\"/a\"}", 3 },    /* a subset of the labels; timestamp ignored */
		{ "http_in_flight{handler=\"/b\"}", 5.5 },
		{ "http_in_flight", 5.5 },                  /* several match: the largest finite */
		{ "http_in_flight{handler=\"/c\"}", -1 },   /* NaN is no reading */
		{ "http_in_flight{handler=\"/d\"}", -1 },   /* nor is an infinity */
		{ "http_in_flight{handler=\"/z\"}", -1 },
		{ "quoted{path=\"x\\\"y\"}", 2 },
		{ "spaced{k=\"v\"}", 4 },
		{ "broken", -1 },                           /* a malformed line is skipped */
		{ "absent", -1 },
	};
	return cr_make_param_array(struct find_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct find_case *c, gauge, the_selected_series_is_found_in_a_page)
{
	struct gauge_sel g;
	char err[200];
	double v = -42;
	int rc;

	cr_assert_eq(gauge_sel_parse(c->sel, &g, err, sizeof err), 0, "%s: %s", c->sel, err);
	rc = gauge_find(PAGE, sizeof PAGE - 1, &g, &v);
	if (c->want < 0) {
		cr_assert_eq(rc, -1, "%s: found %g", c->sel, v);
		return;
	}
	cr_assert_eq(rc, 0, "%s: not found", c->sel);
	cr_assert_float_eq(v, c->want, 1e-9, "%s: %g", c->sel, v);
}

Test(gauge, a_page_is_read_within_its_length_and_overlong_lines_are_skipped)
{
	static char page[GAUGE_LINE_MAX + 64];
	struct gauge_sel g;
	char err[200];
	double v = 0;
	size_t n;

	cr_assert_eq(gauge_sel_parse("m", &g, err, sizeof err), 0);
	/* "m 1" followed by what lies beyond the length given: not read. */
	memcpy(page, "m 1m 9", 6);
	cr_assert_eq(gauge_find(page, 3, &g, &v), 0);
	cr_assert_float_eq(v, 1, 1e-9);
	/* A line longer than the bound, even one that would match, is skipped. */
	memset(page, ' ', sizeof page);
	memcpy(page, "m", 1);
	n = GAUGE_LINE_MAX + 10;
	memcpy(page + n - 2, " 5", 2);
	cr_assert_eq(gauge_find(page, n, &g, &v), -1);
	cr_assert_eq(gauge_find("", 0, &g, &v), -1, "an empty page");
}
