#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

struct value_case {
	char in[64];
	size_t n;
	char out[96];
};

ParameterizedTestParameters(log, values_are_escaped_quoted_and_bounded)
{
	static struct value_case cases[] = {
		{ "alice", 64, "alice" },
		{ "", 64, "\"\"" },
		{ "two words", 64, "\"two words\"" },
		{ "a=b", 64, "\"a=b\"" },
		{ "say \"hi\"", 64, "\"say \\\"hi\\\"\"" },
		{ "back\\slash", 64, "back\\\\slash" },
		{ "line\nbreak", 64, "line\\x0abreak" },
		{ "tab\there", 64, "tab\\x09here" },
		{ "caf\xc3\xa9", 64, "caf\\xc3\\xa9" },
		{ "del\x7f", 64, "del\\x7f" },
		{ "event=forged user=root", 64, "\"event=forged user=root\"" },
		{ "abcdefghij", 11, "abcdefghij" },
		{ "abcdefghijk", 11, "abcdefg..." },
		{ "a b c d e f g h", 12, "\"a b c ...\"" },
		{ "\n\n\n\n", 12, "\\x0a\\x0a..." },
	};
	return cr_make_param_array(struct value_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct value_case *c, log, values_are_escaped_quoted_and_bounded)
{
	char buf[96];

	memset(buf, 'Z', sizeof buf);
	cr_assert_eq(log_value(buf, c->n, c->in), buf);
	cr_assert_str_eq(buf, c->out, "log_value(\"%s\", %zu)", c->in, c->n);
	cr_assert_lt(strlen(buf), c->n, "fits its buffer");
}

Test(log, value_of_null_is_a_dash)
{
	char buf[8];

	cr_assert_str_eq(log_value(buf, sizeof buf, NULL), "-");
}

Test(log, value_never_writes_past_small_buffers)
{
	char buf[8];

	for (size_t n = 1; n <= sizeof buf; n++) {
		memset(buf, 'Z', sizeof buf);
		log_value(buf, n, "a long value with spaces");
		cr_assert_lt(strlen(buf), n);
		for (size_t i = n; i < sizeof buf; i++)
			cr_assert_eq(buf[i], 'Z');
	}
}

Test(log, levels_parse_by_name)
{
	cr_assert_eq(log_level_parse("err"), LOG_ERR);
	cr_assert_eq(log_level_parse("warn"), LOG_WARNING);
	cr_assert_eq(log_level_parse("info"), LOG_INFO);
	cr_assert_eq(log_level_parse("debug"), LOG_DEBUG);
	cr_assert_eq(log_level_parse("INFO"), -1);
	cr_assert_eq(log_level_parse(""), -1);
	cr_assert_eq(log_level_parse("warning"), -1);
}

Test(log, foreground_lines_carry_time_ident_and_level, .init = cr_redirect_stderr)
{
	char line[256];
	FILE *f;

	log_init("testd", 1, LOG_INFO);
	log_info("event=start port=%d", 80);
	log_debug("event=hidden");
	fflush(stderr);
	f = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(line, sizeof line, f));
	cr_assert(strstr(line, " testd[") != NULL, "%s", line);
	cr_assert(strstr(line, "] info event=start port=80\n") != NULL, "%s", line);
	cr_assert_eq(line[4], '-', "starts with a date: %s", line);
	cr_assert_null(fgets(line, sizeof line, f), "debug is below the level");
}

Test(log, changing_the_level_takes_effect, .init = cr_redirect_stderr)
{
	char line[256];
	FILE *f;

	log_init("testd", 1, LOG_ERR);
	log_warn("event=one");
	log_set_level(LOG_DEBUG);
	log_debug("event=two");
	fflush(stderr);
	f = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(line, sizeof line, f));
	cr_assert(strstr(line, "debug event=two") != NULL, "%s", line);
}

static void *
log_many(void *arg)
{
	for (int i = 0; i < 100; i++)
		log_info("event=thread id=%d i=%d pad=%s", *(int *)arg, i,
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	return NULL;
}

/* 400 lines of ~125 bytes stay under the 64 KiB the redirection pipe holds. */
Test(log, threads_never_interleave_within_a_line, .init = cr_redirect_stderr)
{
	pthread_t t[4];
	int ids[4] = { 0, 1, 2, 3 }, n = 0;
	char line[512];
	FILE *f;

	log_init("testd", 1, LOG_INFO);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, log_many, &ids[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	f = cr_get_redirected_stderr();
	while (fgets(line, sizeof line, f) != NULL) {
		cr_assert(strstr(line, "info event=thread id=") != NULL, "%s", line);
		cr_assert(strstr(line, " pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") != NULL,
		          "%s", line);
		n++;
	}
	cr_assert_eq(n, 400, "%d lines", n);
}

Test(log, overlong_messages_are_cut_and_marked, .init = cr_redirect_stderr)
{
	char big[3000], line[4096];
	FILE *f;

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_init("testd", 1, LOG_INFO);
	log_info("event=big v=%s", big);
	f = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(line, sizeof line, f));
	cr_assert(strstr(line, "aaa...\n") != NULL);
	cr_assert_lt(strlen(line), 1200);
}
