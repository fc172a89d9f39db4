#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "../../authd/authd.h"

struct entry_case {
	char url[128];
	char entry_url[128];
	int ok;
	char want[192];
};

ParameterizedTestParameters(entry, url_goes_to_the_handoff_on_the_services_origin)
{
	static struct entry_case cases[] = {
		{ "http://lab.example/", "", 1, "http://lab.example/_sekisho/enter?code=C0DE" },
		{ "http://lab.example", "", 1, "http://lab.example/_sekisho/enter?code=C0DE" },
		{ "https://lab.example:8443/app/x?y=1#z", "", 1,
		  "https://lab.example:8443/_sekisho/enter?code=C0DE" },
		{ "http://10.0.2.10:8080?x", "", 1, "http://10.0.2.10:8080/_sekisho/enter?code=C0DE" },
		{ "http://[2001:db8::10]:81/", "", 1,
		  "http://[2001:db8::10]:81/_sekisho/enter?code=C0DE" },
		/* an explicit entry URL (e.g. cid's own base_url, the thesis set-up) */
		{ "http://lab.example/", "http://10.0.1.1:8081/_sekisho/enter", 1,
		  "http://10.0.1.1:8081/_sekisho/enter?code=C0DE" },
		{ "http://lab.example/", "https://gate.example/enter?svc=lab", 1,
		  "https://gate.example/enter?svc=lab&code=C0DE" },
		{ "http://lab.example/", "https://gate.example/enter#frag", 1,
		  "https://gate.example/enter?code=C0DE" },
		/* not http(s): no entry URL */
		{ "ftp://lab.example/", "", 0, "" },
		{ "javascript:alert(1)", "", 0, "" },
		{ "http://", "", 0, "" },
		{ "http://lab.example/", "javascript:alert(1)", 0, "" },
		{ "", "", 0, "" },
	};
	return cr_make_param_array(struct entry_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct entry_case *c, entry, url_goes_to_the_handoff_on_the_services_origin)
{
	char out[ENTRY_URL_MAX];

	if (!c->ok) {
		cr_assert_eq(admit_entry_url(c->url, c->entry_url, "C0DE", out, sizeof out), -1,
		             "accepted %s / %s", c->url, c->entry_url);
		return;
	}
	cr_assert_eq(admit_entry_url(c->url, c->entry_url, "C0DE", out, sizeof out), 0,
	             "refused %s / %s", c->url, c->entry_url);
	cr_assert_str_eq(out, c->want);
}

Test(entry, refuses_what_does_not_fit)
{
	char out[64];

	cr_assert_eq(admit_entry_url("http://lab.example/", "", "C0DE", out, 43), -1);
	cr_assert_eq(admit_entry_url("http://lab.example/", "", "C0DE", out, 44), 0);
}

Test(entry, origin_is_scheme_host_and_port)
{
	char out[64];

	cr_assert_eq(admit_origin("https://a.example:444/x?y", out, sizeof out), 0);
	cr_assert_str_eq(out, "https://a.example:444");
	cr_assert_eq(admit_origin("HTTP://a.example/", out, sizeof out), -1);
}
