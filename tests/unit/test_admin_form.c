#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "../../authd/admin.h"
#include "passwd.h"

/* The admin pages' form rules: what is accepted, and that every refusal says why. */

struct text_case {
	char in[80];
	int ok;
	int want;
};

ParameterizedTestParameters(admin_form, minutes_are_whole_positive_and_bounded)
{
	static struct text_case cases[] = {
		{ "1", 1, 1 },
		{ "60", 1, 60 },
		{ "527040", 1, 527040 },
		{ "527041", 0, 0 },
		{ "0", 0, 0 },
		{ "-5", 0, 0 },
		{ "", 0, 0 },
		{ "1.5", 0, 0 },
		{ "60 ", 0, 0 },
		{ " 60", 0, 0 },
		{ "6O", 0, 0 },
		{ "0x10", 0, 0 },
		{ "99999999999999999999999", 0, 0 },
		{ "00000000000000060", 0, 0 },
	};
	return cr_make_param_array(struct text_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct text_case *c, admin_form, minutes_are_whole_positive_and_bounded)
{
	char err[ADMIN_MSG_MAX] = "";
	int v = -7;

	if (c->ok) {
		cr_assert_eq(admin_minutes_parse(c->in, service_usage_check, &v, err, sizeof err), 0,
		             "refused \"%s\"", c->in);
		cr_assert_eq(v, c->want);
		return;
	}
	cr_assert_eq(admin_minutes_parse(c->in, service_usage_check, &v, err, sizeof err), -1,
	             "accepted \"%s\"", c->in);
	cr_assert_eq(v, -7, "out changed on refusal");
	cr_assert_neq(err[0], '\0', "no message for \"%s\"", c->in);
}

ParameterizedTestParameters(admin_form, cap_is_a_positive_integer)
{
	static struct text_case cases[] = {
		{ "1", 1, 1 },
		{ "10", 1, 10 },
		{ "1000000", 1, 1000000 },
		{ "1000001", 0, 0 },
		{ "0", 0, 0 },
		{ "-1", 0, 0 },
		{ "ten", 0, 0 },
		{ "", 0, 0 },
		{ "+3", 0, 0 },
	};
	return cr_make_param_array(struct text_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct text_case *c, admin_form, cap_is_a_positive_integer)
{
	char err[ADMIN_MSG_MAX] = "";
	int v = -7;

	cr_assert_eq(admin_cap_parse(c->in, &v, err, sizeof err), c->ok ? 0 : -1, "\"%s\"", c->in);
	cr_assert_eq(v, c->ok ? c->want : -7);
	cr_assert_eq(err[0] != '\0', !c->ok);
}

Test(admin_form, cap_and_minutes_explain_an_empty_field)
{
	char err[ADMIN_MSG_MAX];
	int v;

	cr_assert_eq(admin_cap_parse(NULL, &v, err, sizeof err), -1);
	cr_assert(strstr(err, "at once") != NULL, "%s", err);
	cr_assert_eq(admin_minutes_parse(NULL, service_usage_check, &v, err, sizeof err), -1);
	cr_assert(strstr(err, "minutes") != NULL, "%s", err);
}

Test(admin_form, number_fields_show_the_service_rules_words)
{
	char err[ADMIN_MSG_MAX], rule[ADMIN_MSG_MAX];
	int v;

	cr_assert_eq(admin_cap_parse("0", &v, err, sizeof err), -1);
	cr_assert_eq(service_cap_check(0, rule, sizeof rule), STORE_INVALID);
	cr_assert_str_eq(err, rule);
	cr_assert_eq(admin_cap_parse("ten", &v, err, sizeof err), -1);
	cr_assert_str_eq(err, rule);
	cr_assert_eq(admin_minutes_parse("527041", service_interval_check, &v, err, sizeof err), -1);
	cr_assert_eq(service_interval_check(527041, rule, sizeof rule), STORE_INVALID);
	cr_assert_str_eq(err, rule);
	cr_assert(strstr(err, "max interval") != NULL, "%s", err);
}

ParameterizedTestParameters(admin_form, urls_must_be_http_or_https_with_a_host)
{
	static struct text_case cases[] = {
		{ "http://10.0.9.2/", 1, 0 },
		{ "https://app.example.org/path?q=1#top", 1, 0 },
		{ "http://[2001:db8::5]:8080/", 1, 0 },
		{ "http://host:81", 1, 0 },
		{ "ftp://host/", 0, 0 },
		{ "javascript:alert(1)", 0, 0 },
		{ "//host/", 0, 0 },
		{ "http://", 0, 0 },
		{ "http:///path", 0, 0 },
		{ "http://user@host/", 0, 0 },
		{ "http://host/a b", 0, 0 },
		{ "HTTP://host/", 0, 0 },
		{ "", 0, 0 },
	};
	return cr_make_param_array(struct text_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct text_case *c, admin_form, urls_must_be_http_or_https_with_a_host)
{
	char err[ADMIN_MSG_MAX] = "";

	cr_assert_eq(admin_url_check(c->in, 0, err, sizeof err), c->ok ? 0 : -1, "\"%s\"", c->in);
	cr_assert_eq(err[0] != '\0', !c->ok, "\"%s\": \"%s\"", c->in, err);
}

Test(admin_form, an_optional_url_may_be_empty_but_not_bad)
{
	char err[ADMIN_MSG_MAX] = "";

	cr_assert_eq(admin_url_check("", 1, err, sizeof err), 0);
	cr_assert_eq(admin_url_check(NULL, 1, err, sizeof err), 0);
	cr_assert_eq(admin_url_check("mailto:x@y", 1, err, sizeof err), -1);
}

Test(admin_form, a_url_longer_than_the_store_holds_is_refused)
{
	char url[URL_MAX_LEN + 2], err[ADMIN_MSG_MAX];

	memset(url, 'a', sizeof url);
	memcpy(url, "http://h/", 9);
	url[URL_MAX_LEN] = '\0';
	cr_assert_eq(admin_url_check(url, 0, err, sizeof err), 0, "%s", err);
	url[URL_MAX_LEN] = 'a';
	url[URL_MAX_LEN + 1] = '\0';
	cr_assert_eq(admin_url_check(url, 0, err, sizeof err), -1);
	cr_assert(strstr(err, "512") != NULL, "%s", err);
}

ParameterizedTestParameters(admin_form, names_are_of_safe_characters)
{
	static struct text_case cases[] = {
		{ "lab", 1, 0 },
		{ "Lab_2.test-x", 1, 0 },
		{ "a", 1, 0 },
		{ "abcdefghijklmnopqrstuvwxyz012345", 1, 0 },
		{ "abcdefghijklmnopqrstuvwxyz0123456", 0, 0 },
		{ "", 0, 0 },
		{ ".hidden", 0, 0 },
		{ "-x", 0, 0 },
		{ "a b", 0, 0 },
		{ "a/b", 0, 0 },
		{ "<script>", 0, 0 },
		{ "caf\xc3\xa9", 0, 0 },
	};
	return cr_make_param_array(struct text_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct text_case *c, admin_form, names_are_of_safe_characters)
{
	char err[ADMIN_MSG_MAX] = "";

	cr_assert_eq(admin_name_check(c->in, "service", err, sizeof err), c->ok ? 0 : -1,
	             "\"%s\"", c->in);
	cr_assert_eq(err[0] != '\0', !c->ok);
}

struct guards_case {
	char in[200];
	int ok;
	int n;
	char canon[200];
};

ParameterizedTestParameters(admin_form, guards_parse_one_per_line_or_comma)
{
	static struct guards_case cases[] = {
		{ "", 1, 0, "" },
		{ "  \n ", 1, 0, "" },
		{ "10.0.9.2:80", 1, 1, "10.0.9.2:80" },
		{ "10.0.9.2:80\r\n10.0.9.3", 1, 2, "10.0.9.2:80\n10.0.9.3" },
		{ "10.0.9.2:80, [2001:db8::5]:443", 1, 2, "10.0.9.2:80\n[2001:db8::5]:443" },
		{ "10.0.9.2:80 10.0.9.2:81", 1, 2, "10.0.9.2:80\n10.0.9.2:81" },
		{ "2001:db8::5", 1, 1, "2001:db8::5" },
		{ "10.0.9.2:80\n10.0.9.2:80", 0, 0, "" },
		{ "example.org:80", 0, 0, "" },
		{ "10.0.9.2:0", 0, 0, "" },
		{ "10.0.9.2:65536", 0, 0, "" },
		{ "[10.0.9.2]:80", 0, 0, "" },
		{ "10.0.9.256", 0, 0, "" },
		{ "10.0.9.2:http", 0, 0, "" },
	};
	return cr_make_param_array(struct guards_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct guards_case *c, admin_form, guards_parse_one_per_line_or_comma)
{
	struct store_service svc;
	char err[ADMIN_MSG_MAX] = "", text[ADMIN_GUARDS_TEXT + 1];

	memset(&svc, 0, sizeof svc);
	svc.n_guards = -1;
	if (!c->ok) {
		cr_assert_eq(admin_guards_parse(c->in, svc.guards, &svc.n_guards, err, sizeof err), -1,
		             "accepted \"%s\"", c->in);
		cr_assert_neq(err[0], '\0');
		cr_assert_eq(svc.n_guards, -1);
		return;
	}
	cr_assert_eq(admin_guards_parse(c->in, svc.guards, &svc.n_guards, err, sizeof err), 0,
	             "\"%s\": %s", c->in, err);
	cr_assert_eq(svc.n_guards, c->n);
	admin_guards_text(&svc, text, sizeof text);
	cr_assert_str_eq(text, c->canon);
}

Test(admin_form, at_most_guards_max_endpoints)
{
	struct guard g[GUARDS_MAX];
	char text[ADMIN_GUARDS_TEXT + 1] = "", err[ADMIN_MSG_MAX];
	size_t len = 0;
	int n;

	for (int i = 1; i <= GUARDS_MAX + 1; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "10.0.0.%d\n", i);
	cr_assert_eq(admin_guards_parse(text, g, &n, err, sizeof err), -1);
	cr_assert(strstr(err, "16") != NULL, "%s", err);
	text[strlen(text) - strlen("10.0.0.17\n")] = '\0';
	cr_assert_eq(admin_guards_parse(text, g, &n, err, sizeof err), 0, "%s", err);
	cr_assert_eq(n, GUARDS_MAX);
}

Test(admin_form, an_overlong_guard_text_or_token_is_refused)
{
	char text[ADMIN_GUARDS_TEXT + 2], err[ADMIN_MSG_MAX];
	struct guard g[GUARDS_MAX];
	int n;

	memset(text, ' ', sizeof text);
	text[sizeof text - 1] = '\0';
	cr_assert_eq(admin_guards_parse(text, g, &n, err, sizeof err), -1);
	memset(text, '1', 100);
	text[100] = '\0';
	cr_assert_eq(admin_guards_parse(text, g, &n, err, sizeof err), -1);
	cr_assert(strstr(err, "longer") != NULL, "%s", err);
}

static void
fill(struct admin_svc_form *f, const char *name, const char *url, const char *usage,
     const char *interval, const char *cap, const char *guards)
{
	memset(f, 0, sizeof *f);
	f->f[ASF_NAME].in = name;
	f->f[ASF_URL].in = url;
	f->f[ASF_MAX_USAGE].in = usage;
	f->f[ASF_MAX_INTERVAL].in = interval;
	f->f[ASF_CAP].in = cap;
	f->f[ASF_GUARDS].in = guards;
}

Test(admin_form, a_good_service_form_fills_every_field)
{
	struct admin_svc_form f;
	struct store_service svc;

	fill(&f, "lab", "https://lab.example.org/", "60", "15", "10", "10.0.9.2:80");
	f.f[ASF_ENTRY_URL].in = "https://lab.example.org/_sekisho/enter";
	memset(&svc, 0, sizeof svc);
	cr_assert_eq(admin_service_check(&f, &svc), 0);
	cr_assert_str_eq(svc.name, "lab");
	cr_assert_str_eq(svc.url, "https://lab.example.org/");
	cr_assert_str_eq(svc.entry_url, "https://lab.example.org/_sekisho/enter");
	cr_assert_eq(svc.max_usage_min, 60);
	cr_assert_eq(svc.max_interval_min, 15);
	cr_assert_eq(svc.cap, 10);
	cr_assert_eq(svc.n_guards, 1);
	for (int i = 0; i < ASF_N; i++)
		cr_assert_eq(f.f[i].err[0], '\0', "field %s", admin_svc_field_name(i));
}

Test(admin_form, every_bad_field_gets_its_own_message)
{
	struct admin_svc_form f;
	struct store_service svc;

	fill(&f, "no spaces", "ftp://x/", "0", "abc", "-1", "nope");
	f.f[ASF_ENTRY_URL].in = "x";
	f.f[ASF_QUEUE].in = "sometimes";
	f.f[ASF_QUEUE_MAX].in = "1000001";
	f.f[ASF_QUEUE_LAPSE].in = "9";
	f.f[ASF_RATE].in = "-3";
	memset(&svc, 0, sizeof svc);
	cr_assert_eq(admin_service_check(&f, &svc), 11);
	for (int i = 0; i < ASF_N; i++)
		if (i != ASF_ADMIN)
			cr_assert_neq(f.f[i].err[0], '\0', "field %s", admin_svc_field_name(i));
	cr_assert_eq(f.f[ASF_ADMIN].err[0], '\0');
	cr_assert_str_eq(f.f[ASF_NAME].in, "no spaces", "the typed text stays");
}

Test(admin_form, waiting_room_fields_are_bounded_and_empty_means_default)
{
	static const struct { const char *mode, *max, *lapse, *rate; int bad; } cases[] = {
		{ "on", "40", "90", "12", 0 }, { "default", "", "", "", 0 },
		{ "off", "1000000", "86400", "100000", 0 }, { "on", "", "10", "1", 0 },
		{ "ON", "", "", "", 1 }, { "on", "x", "", "", 1 }, { "on", "", "86401", "", 1 },
		{ "on", "", "", "100001", 1 }, { "on", "", "", "1.5", 1 },
		{ "on", "12345678901234567", "", "", 1 },
	};
	struct admin_svc_form f;
	struct store_service svc;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fill(&f, "lab", "https://lab.example.org/", "60", "15", "10", "");
		f.f[ASF_QUEUE].in = cases[i].mode;
		f.f[ASF_QUEUE_MAX].in = cases[i].max;
		f.f[ASF_QUEUE_LAPSE].in = cases[i].lapse;
		f.f[ASF_RATE].in = cases[i].rate;
		memset(&svc, 0, sizeof svc);
		svc.queue.rate_per_min = 7;
		cr_assert_eq(admin_service_check(&f, &svc), cases[i].bad, "case %zu", i);
	}
	fill(&f, "lab", "https://lab.example.org/", "60", "15", "10", "");
	f.f[ASF_QUEUE].in = "on";
	f.f[ASF_QUEUE_MAX].in = "40";
	f.f[ASF_QUEUE_LAPSE].in = "";
	f.f[ASF_RATE].in = "12";
	memset(&svc, 0, sizeof svc);
	svc.queue.lapse_s = 300;
	cr_assert_eq(admin_service_check(&f, &svc), 0);
	cr_assert_eq(svc.queue.mode, QUEUE_ON);
	cr_assert_eq(svc.queue.max, 40);
	cr_assert_eq(svc.queue.lapse_s, 0, "empty is the [authd] default");
	cr_assert_eq(svc.queue.rate_per_min, 12);
	fill(&f, "lab", "https://lab.example.org/", "60", "15", "10", "");
	svc.queue = (struct service_queue){ QUEUE_OFF, 5, 60, 3 };
	cr_assert_eq(admin_service_check(&f, &svc), 0);
	cr_assert_eq(svc.queue.mode, QUEUE_OFF, "fields not in the form change nothing");
	cr_assert_eq(svc.queue.rate_per_min, 3);
}

Test(admin_form, absent_fields_are_refused_not_crashed_on)
{
	struct admin_svc_form f;
	struct store_service svc;

	memset(&f, 0, sizeof f);
	memset(&svc, 0, sizeof svc);
	cr_assert_eq(admin_service_check(&f, &svc), 5, "name, url, two minutes, cap");
	cr_assert_eq(f.f[ASF_GUARDS].err[0], '\0', "no guards is allowed");
	cr_assert_eq(f.f[ASF_ENTRY_URL].err[0], '\0', "the entry URL is optional");
}

Test(admin_form, passwords_are_bounded_and_repeated)
{
	char err[ADMIN_MSG_MAX], big[PASSWD_MAX + 2];

	cr_assert_eq(admin_password_check("long enough", "long enough", err, sizeof err), 0);
	cr_assert_eq(admin_password_check("short", "short", err, sizeof err), -1);
	cr_assert(strstr(err, "8") != NULL, "%s", err);
	cr_assert_eq(admin_password_check("long enough", "long enuogh", err, sizeof err), -1);
	cr_assert(strstr(err, "differ") != NULL, "%s", err);
	cr_assert_eq(admin_password_check("long enough", NULL, err, sizeof err), -1);
	cr_assert_eq(admin_password_check(NULL, NULL, err, sizeof err), -1);
	memset(big, 'p', sizeof big);
	big[PASSWD_MAX + 1] = '\0';
	cr_assert_eq(admin_password_check(big, big, err, sizeof err), -1);
	big[PASSWD_MAX] = '\0';
	cr_assert_eq(admin_password_check(big, big, err, sizeof err), 0);
}

Test(admin_form, the_user_form_checks_name_role_and_password)
{
	struct admin_user_form f;
	int role = -1;

	memset(&f, 0, sizeof f);
	f.f[AUF_NAME].in = "dave";
	f.f[AUF_ROLE].in = "admin";
	f.f[AUF_PASSWORD].in = "a good password";
	f.f[AUF_AGAIN].in = "a good password";
	cr_assert_eq(admin_user_check(&f, &role), 0);
	cr_assert_eq(role, ROLE_ADMIN);
	f.f[AUF_NAME].in = "da ve";
	f.f[AUF_ROLE].in = "superuser";
	f.f[AUF_AGAIN].in = "another";
	cr_assert_eq(admin_user_check(&f, &role), 3);
	cr_assert_neq(f.f[AUF_NAME].err[0], '\0');
	cr_assert_neq(f.f[AUF_ROLE].err[0], '\0');
	cr_assert_neq(f.f[AUF_PASSWORD].err[0], '\0');
}

Test(admin_form, field_names_match_the_templates)
{
	cr_assert_str_eq(admin_svc_field_name(ASF_MAX_USAGE), "max_usage");
	cr_assert_str_eq(admin_svc_field_name(ASF_GUARDS), "guards");
	cr_assert_str_eq(admin_user_field_name(AUF_AGAIN), "again");
	cr_assert_str_eq(admin_svc_field_name(ASF_N), "");
	cr_assert_str_eq(admin_user_field_name(-1), "");
}
