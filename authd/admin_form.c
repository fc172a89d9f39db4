#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "passwd.h"

/*
 * Form checks for the admin pages. Each check says, in words for the person
 * at the form, what is wrong with one field; nothing here touches the store,
 * so the rules are tested on their own (tests/unit/test_admin_form.c).
 */

static const char *const svc_fields[ASF_N] = {
	[ASF_NAME] = "name", [ASF_URL] = "url", [ASF_ENTRY_URL] = "entry_url",
	[ASF_MAX_USAGE] = "max_usage", [ASF_MAX_INTERVAL] = "max_interval", [ASF_CAP] = "cap",
	[ASF_GUARDS] = "guards", [ASF_ADMIN] = "admin", [ASF_QUEUE] = "queue",
	[ASF_QUEUE_MAX] = "queue_max", [ASF_QUEUE_LAPSE] = "queue_lapse", [ASF_RATE] = "rate",
};

static const char *const user_fields[AUF_N] = {
	[AUF_NAME] = "name", [AUF_ROLE] = "role", [AUF_PASSWORD] = "password",
	[AUF_AGAIN] = "again",
};

const char *
admin_svc_field_name(int f)
{
	return f >= 0 && f < ASF_N ? svc_fields[f] : "";
}

const char *
admin_user_field_name(int f)
{
	return f >= 0 && f < AUF_N ? user_fields[f] : "";
}

int
admin_name_check(const char *s, const char *what, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0') {
		snprintf(err, errlen, "Give the %s a name.", what);
		return -1;
	}
	if (strnlen(s, NAME_MAX_LEN + 1) > NAME_MAX_LEN) {
		snprintf(err, errlen, "At most %d characters.", NAME_MAX_LEN);
		return -1;
	}
	if (!name_valid(s)) {
		snprintf(err, errlen, "Use only letters, digits, dot, dash and underscore, "
		         "not starting with a dot or dash.");
		return -1;
	}
	return 0;
}

/*
 * A whole number from a short text, held to rule (service_rules.h): the
 * rule's message, the one the store and sekishoctl give, when the text is not
 * a number or breaks the rule.
 */
static int
number_parse(const char *s, service_rule_fn rule, int *out, char *err, size_t errlen)
{
	long long v = 0;

	if (strnlen(s, ADMIN_NUM_TEXT + 1) > ADMIN_NUM_TEXT || parse_int(s, INT_MIN, INT_MAX, &v) == -1)
		v = 0;  /* breaks every rule, so the rule says what it wants */
	if (rule(v, err, errlen) != STORE_OK)
		return -1;
	*out = (int)v;
	return 0;
}

int
admin_minutes_parse(const char *s, service_rule_fn rule, int *out, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0') {
		snprintf(err, errlen, "Give a number of minutes.");
		return -1;
	}
	return number_parse(s, rule, out, err, errlen);
}

int
admin_cap_parse(const char *s, int *out, char *err, size_t errlen)
{
	if (s == NULL || s[0] == '\0') {
		snprintf(err, errlen, "Give how many users may use the service at once.");
		return -1;
	}
	return number_parse(s, service_cap_check, out, err, errlen);
}

int
admin_url_check(const char *s, int optional, char *err, size_t errlen)
{
	char why[URL_MAX_LEN + 128];

	if (s == NULL || s[0] == '\0') {
		if (optional)
			return 0;
		snprintf(err, errlen, "Give the address users are sent to.");
		return -1;
	}
	if (strnlen(s, URL_MAX_LEN + 1) > URL_MAX_LEN) {
		snprintf(err, errlen, "At most %d characters.", URL_MAX_LEN);
		return -1;
	}
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
		snprintf(err, errlen, "Must start with http:// or https://.");
		return -1;
	}
	if (url_valid(s, why, sizeof why) == -1) {
		snprintf(err, errlen, "Needs a host name after the scheme, no user@, "
		         "and no spaces or control characters.");
		return -1;
	}
	return 0;
}

static int
is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next token of text at *p (advanced past it) into tok; 0 at the end, -1 when too long. */
static int
next_token(const char **p, char *tok, size_t n)
{
	const char *s = *p;
	size_t len;

	while (*s != '\0' && is_sep(*s))
		s++;
	for (len = 0; s[len] != '\0' && !is_sep(s[len]); len++)
		;
	*p = s + len;
	if (len == 0)
		return 0;
	if (len >= n)
		return -1;
	memcpy(tok, s, len);
	tok[len] = '\0';
	return 1;
}

int
admin_guards_parse(const char *text, struct guard *g, int *n, char *err, size_t errlen)
{
	char tok[GUARD_STR_MAX], why[ADMIN_MSG_MAX];
	const char *p = text != NULL ? text : "";
	int count = 0, rc;

	if (strnlen(p, ADMIN_GUARDS_TEXT + 1) > ADMIN_GUARDS_TEXT) {
		snprintf(err, errlen, "At most %d characters.", ADMIN_GUARDS_TEXT);
		return -1;
	}
	while ((rc = next_token(&p, tok, sizeof tok)) != 0) {
		if (rc == -1) {
			snprintf(err, errlen, "An endpoint is longer than %d characters.", GUARD_STR_MAX - 1);
			return -1;
		}
		if (count == GUARDS_MAX) {
			snprintf(err, errlen, "At most %d endpoints.", GUARDS_MAX);
			return -1;
		}
		if (guard_parse(tok, &g[count], why, sizeof why) == -1) {
			why[0] = (char)toupper((unsigned char)why[0]);
			snprintf(err, errlen, "%s; write ADDR, ADDR:PORT or [IPv6]:PORT.", why);
			return -1;
		}
		for (int j = 0; j < count; j++)
			if (addr_eq(&g[j].addr, &g[count].addr) && g[j].port == g[count].port) {
				snprintf(err, errlen, "%s is listed twice.", tok);
				return -1;
			}
		count++;
	}
	*n = count;
	return 0;
}

void
admin_guards_text(const struct store_service *svc, char *out, size_t n)
{
	char g[GUARD_STR_MAX];
	size_t len = 0;
	int w;

	if (n == 0)
		return;
	out[0] = '\0';
	for (int i = 0; i < svc->n_guards; i++) {
		w = snprintf(out + len, n - len, "%s%s", i ? "\n" : "",
		             guard_str(&svc->guards[i], g, sizeof g));
		if (w < 0 || (size_t)w >= n - len) {
			out[len] = '\0';
			return;
		}
		len += (size_t)w;
	}
}

/* Copies s (checked to fit) into dst of size n. */
static void
copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s != NULL ? s : "");
}

/*
 * A waiting room number: empty is 0 (the [authd] default, or no rate), else
 * a whole number in 0..max that ok() accepts. 0 or -1 with err.
 */
static int
queue_number(const char *s, long long max, int (*ok)(long long), const char *want, int *out,
             char *err, size_t errlen)
{
	long long v;

	if (s == NULL)
		return 0;                    /* not in the form: unchanged */
	if (s[0] == '\0') {
		*out = 0;
		return 0;
	}
	if (strnlen(s, ADMIN_NUM_TEXT + 1) > ADMIN_NUM_TEXT || parse_int(s, 0, max, &v) == -1 ||
	    !ok(v)) {
		snprintf(err, errlen, "%s", want);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int any_number(long long v) { (void)v; return 1; }
static int lapse_ok(long long v) { return v == 0 || v >= QUEUE_LAPSE_MIN_S; }

/* The waiting room fields into svc->queue (a field not in the form leaves it as it is). */
static void
queue_check(struct admin_svc_form *f, struct service_queue *sq)
{
	static const char *const modes[] = { "default", "off", "on" };
	const char *m = f->f[ASF_QUEUE].in;
	int i;

	if (m != NULL) {
		for (i = 0; i < 3 && strcmp(m, modes[i]) != 0; i++)
			;
		if (i == 3)
			snprintf(f->f[ASF_QUEUE].err, ADMIN_MSG_MAX, "Choose default, on or off.");
		else
			sq->mode = i - 1;
	}
	queue_number(f->f[ASF_QUEUE_MAX].in, QUEUE_MAX_PLACES, any_number,
	             "Empty for the default, or a whole number from 1 to 1000000.", &sq->max,
	             f->f[ASF_QUEUE_MAX].err, ADMIN_MSG_MAX);
	queue_number(f->f[ASF_QUEUE_LAPSE].in, QUEUE_LAPSE_MAX_S, lapse_ok,
	             "Empty for the default, or whole seconds from 10 to 86400.", &sq->lapse_s,
	             f->f[ASF_QUEUE_LAPSE].err, ADMIN_MSG_MAX);
	queue_number(f->f[ASF_RATE].in, RATE_MAX_PER_MIN, any_number,
	             "Empty for no rate, or a whole number of new users a minute from 1 to 100000.",
	             &sq->rate_per_min, f->f[ASF_RATE].err, ADMIN_MSG_MAX);
}

int
admin_service_check(struct admin_svc_form *f, struct store_service *svc)
{
	int bad = 0;

	for (int i = 0; i < ASF_N; i++)
		f->f[i].err[0] = '\0';
	if (admin_name_check(f->f[ASF_NAME].in, "service", f->f[ASF_NAME].err, ADMIN_MSG_MAX) == 0)
		copy(svc->name, sizeof svc->name, f->f[ASF_NAME].in);
	if (admin_url_check(f->f[ASF_URL].in, 0, f->f[ASF_URL].err, ADMIN_MSG_MAX) == 0)
		copy(svc->url, sizeof svc->url, f->f[ASF_URL].in);
	if (admin_url_check(f->f[ASF_ENTRY_URL].in, 1, f->f[ASF_ENTRY_URL].err, ADMIN_MSG_MAX) == 0)
		copy(svc->entry_url, sizeof svc->entry_url, f->f[ASF_ENTRY_URL].in);
	admin_minutes_parse(f->f[ASF_MAX_USAGE].in, service_usage_check, &svc->max_usage_min,
	                    f->f[ASF_MAX_USAGE].err, ADMIN_MSG_MAX);
	admin_minutes_parse(f->f[ASF_MAX_INTERVAL].in, service_interval_check,
	                    &svc->max_interval_min, f->f[ASF_MAX_INTERVAL].err, ADMIN_MSG_MAX);
	admin_cap_parse(f->f[ASF_CAP].in, &svc->cap, f->f[ASF_CAP].err, ADMIN_MSG_MAX);
	admin_guards_parse(f->f[ASF_GUARDS].in, svc->guards, &svc->n_guards, f->f[ASF_GUARDS].err,
	                   ADMIN_MSG_MAX);
	queue_check(f, &svc->queue);
	for (int i = 0; i < ASF_N; i++)
		bad += f->f[i].err[0] != '\0';
	return bad;
}

int
admin_password_check(const char *pw, const char *again, char *err, size_t errlen)
{
	size_t n = pw != NULL ? strnlen(pw, PASSWD_MAX + 1) : 0;

	if (n < ADMIN_PASSWD_MIN) {
		snprintf(err, errlen, "At least %d characters.", ADMIN_PASSWD_MIN);
		return -1;
	}
	if (n > PASSWD_MAX) {
		snprintf(err, errlen, "At most %d characters.", PASSWD_MAX);
		return -1;
	}
	if (again == NULL || strcmp(pw, again) != 0) {
		snprintf(err, errlen, "The two passwords differ.");
		return -1;
	}
	return 0;
}

int
admin_user_check(struct admin_user_form *f, int *role)
{
	int bad = 0;

	for (int i = 0; i < AUF_N; i++)
		f->f[i].err[0] = '\0';
	if (f->f[AUF_NAME].in != NULL)
		admin_name_check(f->f[AUF_NAME].in, "user", f->f[AUF_NAME].err, ADMIN_MSG_MAX);
	if (f->f[AUF_ROLE].in != NULL && (*role = role_parse(f->f[AUF_ROLE].in)) == -1)
		snprintf(f->f[AUF_ROLE].err, ADMIN_MSG_MAX, "Choose user, admin or root.");
	if (f->f[AUF_PASSWORD].in != NULL)
		admin_password_check(f->f[AUF_PASSWORD].in, f->f[AUF_AGAIN].in, f->f[AUF_PASSWORD].err,
		                     ADMIN_MSG_MAX);
	for (int i = 0; i < AUF_N; i++)
		bad += f->f[i].err[0] != '\0';
	return bad;
}
