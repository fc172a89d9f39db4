#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"
#include "store.h"

/* Cheap parameters (1 MiB) for tests that hash many times; one test uses the default. */
static const struct passwd_params fast = { 10, 8, 1 };

Test(passwd, default_parameters_round_trip_and_are_written_in_the_string)
{
	char h[HASH_MAX_LEN + 1], err[128];

	cr_assert_eq(passwd_hash("correct horse", &passwd_default, h, sizeof h, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22), 0, "%s", h);
	cr_assert_eq(strlen(h), 22 + 22 + 1 + 43, "%s", h);
	cr_assert_eq(passwd_verify("correct horse", h, err, sizeof err), 1, "%s", err);
	cr_assert_eq(passwd_verify("correct horsf", h, err, sizeof err), 0);
	cr_assert_eq(passwd_needs_rehash(h, &passwd_default), 0);
}

Test(passwd, a_wrong_password_does_not_match)
{
	char h[HASH_MAX_LEN + 1], err[128];

	cr_assert_eq(passwd_hash("secret", &fast, h, sizeof h, err, sizeof err), 0);
	cr_assert_eq(passwd_verify("secret", h, err, sizeof err), 1);
	cr_assert_eq(passwd_verify("Secret", h, err, sizeof err), 0);
	cr_assert_eq(passwd_verify("secret ", h, err, sizeof err), 0);
	cr_assert_eq(passwd_verify("", h, err, sizeof err), 0);
}

Test(passwd, each_hash_has_its_own_salt)
{
	char a[HASH_MAX_LEN + 1], b[HASH_MAX_LEN + 1], err[128];

	cr_assert_eq(passwd_hash("same", &fast, a, sizeof a, err, sizeof err), 0);
	cr_assert_eq(passwd_hash("same", &fast, b, sizeof b, err, sizeof err), 0);
	cr_assert_str_neq(a, b);
}

Test(passwd, every_tampered_character_is_refused)
{
	static const char alphabet[] = "Aa0+/";
	char h[HASH_MAX_LEN + 1], t[HASH_MAX_LEN + 1], err[128];
	size_t start;

	cr_assert_eq(passwd_hash("pw", &fast, h, sizeof h, err, sizeof err), 0);
	start = strlen("$scrypt$ln=10,r=8,p=1$");
	for (size_t i = start; h[i] != '\0'; i++) {
		for (const char *c = alphabet; *c != '\0'; c++) {
			if (*c == h[i] || h[i] == '$')
				continue;
			strcpy(t, h);
			t[i] = *c;
			cr_assert_neq(passwd_verify("pw", t, err, sizeof err), 1, "position %zu", i);
		}
	}
}

Test(passwd, raised_parameters_ask_for_a_rehash)
{
	char h[HASH_MAX_LEN + 1], err[128];
	struct passwd_params more = { 10, 8, 2 };

	cr_assert_eq(passwd_hash("pw", &fast, h, sizeof h, err, sizeof err), 0);
	cr_assert_eq(passwd_needs_rehash(h, &fast), 0);
	cr_assert_eq(passwd_needs_rehash(h, &passwd_default), 1);
	cr_assert_eq(passwd_needs_rehash(h, &more), 1);
	cr_assert_eq(passwd_needs_rehash("garbage", &fast), 1);
}

Test(passwd, refuses_parameters_below_the_memory_hard_floor_or_too_costly)
{
	char h[HASH_MAX_LEN + 1], err[128];
	struct passwd_params weak = { 9, 8, 1 }, huge = { 21, 8, 1 }, r0 = { 14, 0, 1 };

	cr_assert_eq(passwd_hash("pw", &weak, h, sizeof h, err, sizeof err), -1);
	cr_assert_eq(passwd_hash("pw", &huge, h, sizeof h, err, sizeof err), -1);
	cr_assert_eq(passwd_hash("pw", &r0, h, sizeof h, err, sizeof err), -1);
}

Test(passwd, refuses_passwords_longer_than_the_maximum)
{
	char pw[PASSWD_MAX + 2], h[HASH_MAX_LEN + 1], err[128];

	memset(pw, 'x', sizeof pw - 1);
	pw[sizeof pw - 1] = '\0';
	cr_assert_eq(passwd_hash(pw, &fast, h, sizeof h, err, sizeof err), -1);
	pw[PASSWD_MAX] = '\0';
	cr_assert_eq(passwd_hash(pw, &fast, h, sizeof h, err, sizeof err), 0, "%s", err);
	cr_assert_eq(passwd_verify(pw, h, err, sizeof err), 1);
}

Test(passwd, a_short_output_buffer_is_an_error)
{
	char h[40], err[128];

	cr_assert_eq(passwd_hash("pw", &fast, h, sizeof h, err, sizeof err), -1);
}

struct malformed {
	char s[200];
};

#define SALT "AAAAAAAAAAAAAAAAAAAAAA"
#define HASH "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

ParameterizedTestParameters(passwd, malformed_strings_are_errors_not_mismatches)
{
	static struct malformed cases[] = {
		{ "" },
		{ "$scrypt$" },
		{ "$2b$12$abcdefghijklmnopqrstuv" },
		{ "$scrypt$ln=15,r=8$" SALT "$" HASH },
		{ "$scrypt$ln=9,r=8,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=21,r=8,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=15,r=0,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=15,r=8,p=0$" SALT "$" HASH },
		{ "$scrypt$ln=015,r=8,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=+15,r=8,p=1$" SALT "$" HASH },
		{ "$scrypt$r=8,ln=15,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=15,r=8,p=1,x=1$" SALT "$" HASH },
		{ "$scrypt$ln=15,r=8,p=1$" SALT "$" HASH "A" },
		{ "$scrypt$ln=15,r=8,p=1$" SALT "A$" HASH },
		{ "$scrypt$ln=15,r=8,p=1$" SALT "$" HASH "$" },
		{ "$scrypt$ln=15,r=8,p=1$" "AAAAAAAAAAAAAAAAAAAAA*" "$" HASH },
		{ "$scrypt$ln=15,r=8,p=1$" SALT "$" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
		{ "$scrypt$ln=15,r=8,p=1$" "AAAAAAAAAAAAAAAAAAAAAB" "$" HASH },
		{ "$scrypt$ln=15,r=8,p=1$" SALT "$" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB" },
		{ "$scrypt$ln=15,r=8,p=1$" SALT HASH },
		{ "$SCRYPT$ln=15,r=8,p=1$" SALT "$" HASH },
		{ "$scrypt$ln=20,r=32,p=16$" SALT "$" HASH },
	};
	return cr_make_param_array(struct malformed, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct malformed *m, passwd, malformed_strings_are_errors_not_mismatches)
{
	char err[128] = "";

	cr_assert_eq(passwd_verify("pw", m->s, err, sizeof err), -1, "\"%s\"", m->s);
	cr_assert_str_eq(err, "malformed password hash");
}

Test(passwd, a_well_formed_foreign_hash_is_a_mismatch)
{
	char err[128];

	cr_assert_eq(passwd_verify("pw", "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH, err, sizeof err), 0);
}

struct pwfile {
	char content[300];
	int ok;
	char want[300];
};

ParameterizedTestParameters(passwd, password_files_give_their_first_line)
{
	static struct pwfile cases[] = {
		{ "secret\n", 1, "secret" },
		{ "secret\r\n", 1, "secret" },
		{ "secret", 1, "secret" },
		{ "first\nsecond\n", 1, "first" },
		{ " spaced out \n", 1, " spaced out " },
		{ "\n", 0, "empty first line" },
		{ "", 0, "empty first line" },
		{ "\r\nsecond\n", 0, "empty first line" },
	};
	return cr_make_param_array(struct pwfile, cases, sizeof cases / sizeof cases[0]);
}

static void
write_file(char *path, const char *content, size_t len)
{
	int fd;

	strcpy(path, "/tmp/sekisho-pw-XXXXXX");
	cr_assert_geq(fd = mkstemp(path), 0);
	cr_assert_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
}

ParameterizedTest(struct pwfile *c, passwd, password_files_give_their_first_line)
{
	char path[32], out[PASSWD_MAX + 1], err[256] = "";
	int rc;

	write_file(path, c->content, strlen(c->content));
	rc = passwd_read_file(path, out, sizeof out, err, sizeof err);
	unlink(path);
	if (c->ok) {
		cr_assert_eq(rc, 0, "%s", err);
		cr_assert_str_eq(out, c->want);
	} else {
		cr_assert_eq(rc, -1);
		cr_assert(strstr(err, c->want) != NULL, "%s", err);
		cr_assert(strstr(err, path) != NULL, "names the file: %s", err);
	}
}

Test(passwd, password_files_are_bounded)
{
	char content[PASSWD_MAX + 3], path[32], out[PASSWD_MAX + 1], err[256];

	memset(content, 'p', sizeof content);
	content[PASSWD_MAX] = '\n';
	write_file(path, content, PASSWD_MAX + 1);
	cr_assert_eq(passwd_read_file(path, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(out), PASSWD_MAX);
	unlink(path);

	content[PASSWD_MAX] = 'p';
	write_file(path, content, sizeof content);
	cr_assert_eq(passwd_read_file(path, out, sizeof out, err, sizeof err), -1);
	cr_assert(strstr(err, "longer than") != NULL, "%s", err);
	unlink(path);
}

Test(passwd, a_nul_byte_in_the_password_file_is_refused)
{
	char path[32], out[64], err[256];

	write_file(path, "ab\0cd\n", 6);
	cr_assert_eq(passwd_read_file(path, out, sizeof out, err, sizeof err), -1);
	unlink(path);
}

/* "-" and /dev/stdin read the standard input as it is (a pipe here), never reopening it. */
Test(passwd, standard_input_is_read_without_reopening_it)
{
	const char *names[] = { "-", "/dev/stdin" };
	char out[64], err[256] = "";
	int p[2], saved = dup(STDIN_FILENO);

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pipe(p), 0);
		cr_assert_eq(write(p[1], "from-stdin\nrest\n", 16), 16);
		close(p[1]);
		cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
		close(p[0]);
		cr_assert_eq(passwd_read_file(names[i], out, sizeof out, err, sizeof err), 0, "%s", err);
		cr_assert_str_eq(out, "from-stdin");
	}
	dup2(saved, STDIN_FILENO);
	close(saved);
}

Test(passwd, a_missing_password_file_names_the_path)
{
	char out[64], err[256];

	cr_assert_eq(passwd_read_file("/nonexistent/pw", out, sizeof out, err, sizeof err), -1);
	cr_assert(strstr(err, "/nonexistent/pw: No such file") != NULL, "%s", err);
}
