#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "../../authd/authd.h"

struct xff_case {
	char peer[48];
	char trusted[128];
	char xff[160];          /* "-" = no header */
	int count;              /* how many X-Forwarded-For headers were sent */
	int ok;
	char client[48];
};

ParameterizedTestParameters(clientip, takes_the_rightmost_untrusted_hop)
{
	static struct xff_case cases[] = {
		/* no proxy trusted: the peer, whatever the header says */
		{ "10.0.0.2", "", "-", 0, 1, "10.0.0.2" },
		{ "10.0.0.2", "", "198.51.100.7", 1, 1, "10.0.0.2" },
		{ "10.0.0.2", "", "garbage", 1, 1, "10.0.0.2" },
		{ "10.0.0.2", "10.0.0.1", "198.51.100.7", 1, 1, "10.0.0.2" },
		/* a trusted proxy */
		{ "10.0.0.1", "10.0.0.1", "-", 0, 1, "10.0.0.1" },
		{ "10.0.0.1", "10.0.0.1", "198.51.100.7", 1, 1, "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1", "203.0.113.9, 198.51.100.7", 1, 1, "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1,10.0.0.5", "203.0.113.9, 198.51.100.7, 10.0.0.5", 1, 1,
		  "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1,10.0.0.5", "10.0.0.5,10.0.0.1", 1, 1, "10.0.0.5" },
		{ "10.0.0.1", "10.0.0.1", "2001:db8::7", 1, 1, "2001:db8::7" },
		{ "10.0.0.1", "10.0.0.1", "::ffff:198.51.100.7", 1, 1, "198.51.100.7" },
		{ "::ffff:10.0.0.1", "10.0.0.1", "198.51.100.7", 1, 1, "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1", " 198.51.100.7\t", 1, 1, "198.51.100.7" },
		/* left of the client: the client's own claims, not read */
		{ "10.0.0.1", "10.0.0.1", "unknown, 198.51.100.7", 1, 1, "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1", "a,,b:1, 198.51.100.7", 1, 1, "198.51.100.7" },
		{ "10.0.0.1", "10.0.0.1,10.0.0.5", "unknown,198.51.100.7 , 10.0.0.5", 1, 1,
		  "198.51.100.7" },
		/* malformed where it is read, from a trusted proxy: refused */
		{ "10.0.0.1", "10.0.0.1", "", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1,10.0.0.5", "198.51.100.7, unknown, 10.0.0.5", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "unknown", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "198.51.100.7:4711", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "[2001:db8::7]", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "198.51.100.7,", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "198.51.100.7,,10.0.0.1", 1, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "198.51.100.7", 2, 0, "" },
		{ "10.0.0.1", "10.0.0.1", "<script>", 1, 0, "" },
	};
	return cr_make_param_array(struct xff_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct xff_case *c, clientip, takes_the_rightmost_untrusted_hop)
{
	struct addr trusted[CONF_LIST_MAX], peer, out;
	char buf[ADDR_STR_MAX];
	int n;

	cr_assert_eq(addr_parse(c->peer, &peer), 0);
	cr_assert_eq(addr_parse_list(c->trusted, trusted, CONF_LIST_MAX, &n), 0);
	if (!c->ok) {
		cr_assert_eq(clientip_resolve(&peer, c->xff, c->count, trusted, n, &out), -1,
		             "accepted \"%s\"", c->xff);
		return;
	}
	cr_assert_eq(clientip_resolve(&peer, strcmp(c->xff, "-") == 0 ? NULL : c->xff, c->count,
	                              trusted, n, &out), 0, "refused \"%s\"", c->xff);
	cr_assert_str_eq(addr_str(&out, buf, sizeof buf), c->client);
}

Test(clientip, refuses_an_overlong_header)
{
	struct addr trusted[1], peer, out;
	char xff[XFF_MAX_LEN + 64] = "";
	int n;

	cr_assert_eq(addr_parse_list("10.0.0.1", trusted, 1, &n), 0);
	addr_parse("10.0.0.1", &peer);
	while (strlen(xff) < XFF_MAX_LEN)
		strcat(xff, "198.51.100.7,");
	strcat(xff, "198.51.100.8");
	cr_assert_eq(clientip_resolve(&peer, xff, 1, trusted, n, &out), -1);
}
