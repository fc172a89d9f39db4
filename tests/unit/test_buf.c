#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "buf.h"

Test(buf, appends_and_keeps_a_terminating_nul)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "ab");
	buf_printf(&b, "%d-%s", 42, "x");
	cr_assert_str_eq(b.p, "ab42-x");
	cr_assert_eq(b.len, 6);
	buf_free(&b);
}

Test(buf, refuses_to_pass_its_ceiling_and_stays_failed)
{
	struct buf b;

	buf_init(&b, 8);
	buf_puts(&b, "12345678");
	cr_assert_not(buf_failed(&b));
	buf_puts(&b, "9");
	cr_assert(buf_failed(&b));
	buf_puts(&b, "");
	cr_assert(buf_failed(&b));
	cr_assert_eq(b.len, 8, "nothing past the ceiling is kept");
	buf_free(&b);
}

struct esc { char in[32], html[64], json[64]; };

ParameterizedTestParameters(buf, escapes)
{
	static struct esc cases[] = {
		{ "plain", "plain", "\"plain\"" },
		{ "<script>", "&lt;script&gt;", "\"<script>\"" },
		{ "a&b", "a&amp;b", "\"a&b\"" },
		{ "\"q\" 'x'", "&quot;q&quot; &#39;x&#39;", "\"\\\"q\\\" 'x'\"" },
		{ "back\\slash", "back\\slash", "\"back\\\\slash\"" },
		{ "nl\nt\t\x01", "nl\nt\t\x01", "\"nl\\nt\\t\\u0001\"" },
		{ "", "", "\"\"" },
		{ "caf\xc3\xa9", "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
		{ "bad\xff\xc3(", "bad\xff\xc3(", "\"bad\\ufffd\\ufffd(\"" },
		{ "\xed\xa0\x80", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	};
	return cr_make_param_array(struct esc, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct esc *c, buf, escapes)
{
	struct buf h, j;

	buf_init(&h, 0);
	buf_init(&j, 0);
	buf_html(&h, c->in);
	buf_json(&j, c->in);
	cr_assert_str_eq(h.len ? h.p : "", c->html, "html of %s", c->in);
	cr_assert_str_eq(j.p, c->json, "json of %s", c->in);
	buf_free(&h);
	buf_free(&j);
}
