#include <stdlib.h>
#include <string.h>

#include "../../authd/admin.h"
#include "fuzz.h"
#include "passwd.h"

/*
 * The admin pages' form checks on fields a logged-in admin posts. Input: a
 * first byte 'u' for the user form (anything else: the service form), then
 * the fields in form order, one per line; an empty line is an absent field.
 * Every message fits its buffer; a form without errors holds only values
 * the store and ipfd accept, and its guards survive the text area and back.
 */

static void
check_messages(const struct admin_field *f, int n, int bad)
{
	int seen = 0;

	for (int i = 0; i < n; i++) {
		fuzz_assert(memchr(f[i].err, '\0', sizeof f[i].err) != NULL);
		seen += f[i].err[0] != '\0';
	}
	fuzz_assert(seen == bad);
}

static void
check_guards(const struct store_service *svc)
{
	char text[ADMIN_GUARDS_TEXT + 1], err[ADMIN_MSG_MAX];
	struct guard g[GUARDS_MAX];
	int n = -1;

	fuzz_assert(svc->n_guards >= 0 && svc->n_guards <= GUARDS_MAX);
	for (int i = 0; i < svc->n_guards; i++)
		for (int j = 0; j < i; j++)
			fuzz_assert(!addr_eq(&svc->guards[i].addr, &svc->guards[j].addr) ||
			            svc->guards[i].port != svc->guards[j].port);
	admin_guards_text(svc, text, sizeof text);
	fuzz_assert(admin_guards_parse(text, g, &n, err, sizeof err) == 0 && n == svc->n_guards);
	for (int i = 0; i < n; i++)
		fuzz_assert(addr_eq(&g[i].addr, &svc->guards[i].addr) && g[i].port == svc->guards[i].port);
}

static void
service_form(const char **in)
{
	struct admin_svc_form f;
	struct store_service svc;
	char err[URL_STR_MAX + 128];
	int bad;

	memset(&f, 0, sizeof f);
	memset(&svc, 0, sizeof svc);
	for (int i = 0; i < ASF_N; i++)
		f.f[i].in = in[i];
	bad = admin_service_check(&f, &svc);
	check_messages(f.f, ASF_N, bad);
	if (bad != 0)
		return;
	fuzz_assert(name_valid(svc.name) && strcmp(svc.name, in[ASF_NAME]) == 0);
	fuzz_assert(url_valid(svc.url, err, sizeof err) == 0 && strcmp(svc.url, in[ASF_URL]) == 0);
	fuzz_assert(svc.entry_url[0] == '\0' || url_valid(svc.entry_url, err, sizeof err) == 0);
	fuzz_assert(svc.max_usage_min >= 1 && svc.max_usage_min <= SERVICE_MINUTES_MAX);
	fuzz_assert(svc.max_interval_min >= 1 && svc.max_interval_min <= SERVICE_MINUTES_MAX);
	fuzz_assert(svc.cap >= 1 && svc.cap <= SERVICE_CAP_MAX);
	check_guards(&svc);
}

static void
user_form(const char **in)
{
	struct admin_user_form f;
	int role = -7, bad;

	memset(&f, 0, sizeof f);
	for (int i = 0; i < AUF_N; i++)
		f.f[i].in = in[i];
	bad = admin_user_check(&f, &role);
	check_messages(f.f, AUF_N, bad);
	if (bad != 0)
		return;
	if (in[AUF_NAME] != NULL)
		fuzz_assert(name_valid(in[AUF_NAME]));
	if (in[AUF_ROLE] != NULL)
		fuzz_assert(role >= ROLE_USER && role <= ROLE_ROOT);
	if (in[AUF_PASSWORD] != NULL) {
		size_t n = strlen(in[AUF_PASSWORD]);
		fuzz_assert(n >= ADMIN_PASSWD_MIN && n <= PASSWD_MAX);
		fuzz_assert(in[AUF_AGAIN] != NULL && strcmp(in[AUF_PASSWORD], in[AUF_AGAIN]) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in[ASF_N > AUF_N ? ASF_N : AUF_N];
	char *s;

	if (size == 0)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	if (data[0] == 'u') {
		fuzz_fields(s, '\n', in, AUF_N);
		user_form(in);
	} else {
		fuzz_fields(s, '\n', in, ASF_N);
		service_form(in);
	}
	free(s);
	return 0;
}
