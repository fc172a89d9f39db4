#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

static char conf_path[64];

/* Writes text to a fresh temporary file and returns its path. */
static const char *
write_conf(const char *text)
{
	int fd;

	strcpy(conf_path, "/tmp/sekisho-conf-XXXXXX");
	fd = mkstemp(conf_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return conf_path;
}

static void
cleanup(void)
{
	if (conf_path[0] != '\0')
		unlink(conf_path);
}

/* The example file: $SEKISHO_TOP, else found upward from the test binary. */
static void
example_path(char *out, size_t n)
{
	char dir[PATH_MAX];
	const char *top = getenv("SEKISHO_TOP");
	ssize_t len;

	if (top != NULL) {
		cr_assert_lt(snprintf(out, n, "%s/sekisho.conf.example", top), (int)n);
		return;
	}
	len = readlink("/proc/self/exe", dir, sizeof dir - 1);
	cr_assert_gt(len, 0);
	dir[len] = '\0';
	for (char *slash; (slash = strrchr(dir, '/')) != NULL;) {
		*slash = '\0';
		if (snprintf(out, n, "%s/sekisho.conf.example", dir) < (int)n && access(out, R_OK) == 0)
			return;
	}
	cr_assert_fail("sekisho.conf.example not found");
}

Test(conf, defaults_are_the_documented_values)
{
	struct conf c;

	conf_defaults(&c);
	cr_assert_eq(c.log_level, LOG_INFO);
	cr_assert_str_eq(c.db.path, "/var/lib/sekisho/sekisho.db");
	cr_assert_str_eq(c.db.url, "");
	cr_assert_eq(c.db.busy_timeout_ms, 5000);
	cr_assert_eq(c.db.retention_days, 30);
	cr_assert_str_eq(c.db.guard_forbid, "");
	cr_assert_str_eq(c.db.guard_self, "127.0.0.1:8080,127.0.0.1:9080,127.0.0.1:8081,127.0.0.1:9081",
	                 "the listen endpoints");
	cr_assert_str_eq(c.authd.listen, "127.0.0.1:8080");
	cr_assert_str_eq(c.authd.base_url, "http://127.0.0.1:8080");
	cr_assert_str_eq(c.authd.web_dir, "/usr/share/sekisho/web");
	cr_assert_eq(c.authd.max_connections, 16384);
	cr_assert_eq(c.authd.http_threads, 0, "2 per CPU");
	cr_assert_eq(c.authd.http_workers, 0, "4 per CPU plus 2 per login waiting near the front");
	cr_assert_eq(c.authd.hash_workers, 0, "one per CPU");
	cr_assert_eq(c.authd.hash_queue_max, 2048);
	cr_assert_eq(c.authd.queue, 0);
	cr_assert_eq(c.authd.sweep_interval_s, 60);
	cr_assert_eq(c.authd.ipfd_timeout_ms, 2000);
	cr_assert_eq(c.authd.code_ttl_s, 30);
	cr_assert_eq(c.authd.login_ttl_min, 480);
	cr_assert_eq(c.authd.login_idle_min, 30);
	cr_assert_eq(c.authd.throttle_ip_burst, 10);
	cr_assert_eq(c.authd.throttle_user_burst, 5);
	cr_assert_eq(c.authd.throttle_refill_s, 30);
	cr_assert_eq(c.authd.throttle_account_burst, 20);
	cr_assert_eq(c.authd.throttle_backoff_max_s, 3600);
	cr_assert_eq(c.authd.throttle_checks_per_s, 20);
	cr_assert_eq(c.authd.throttle_known_days, 90);
	cr_assert_eq(c.authd.max_body, 8192);
	cr_assert_eq(c.authd.key_rotate_h, 24);
	cr_assert_str_eq(c.ipfd.socket, "/run/sekisho/ipfd.sock");
	cr_assert_str_eq(c.ipfd.group, "sekisho-ctl");
	cr_assert_eq(c.ipfd.hook, CONF_HOOK_FORWARD);
	cr_assert_eq(c.ipfd.sync_interval_s, 30);
	cr_assert_eq(c.ipfd.batch_window_us, 0);
	cr_assert_eq(c.ipfd.enabled, 1);
	cr_assert_str_eq(c.cid.listen, "127.0.0.1:8081");
	cr_assert_str_eq(c.cid.cookie_name, "sekisho");
	cr_assert_eq(c.cid.threads, 2);
	cr_assert_eq(c.cid.bind_ip, 1);
	cr_assert_eq(c.cid.secure_cookie, -1);
	cr_assert_eq(c.cid.touch_interval_ms, 1000);
	cr_assert_eq(c.cid.refresh_ms, 250);
}

Test(conf, a_good_file_overrides_only_what_it_sets, .fini = cleanup)
{
	struct conf c, d;
	char err[512];
	const char *path = write_conf(
		"; comment\n# another\nlog_level = debug\n\n"
		"[db]\r\npath = /srv/s.db\r\n"
		"[authd]\n  listen = [::1]:9000 ; inline comment\n"
		"base_url = https://portal.example:8443/\n"
		"trusted_proxies = 10.0.0.1, 2001:db8::1\n"
		"[ipfd]\nhook = both\nenabled = off\n"
		"[cid]\nsecure_cookie = on\nbind_ip = no\nhost_map = app.example=app,b.example:8080=b\n");

	conf_defaults(&c);
	d = c;
	cr_assert_eq(conf_load(path, &c, err, sizeof err), 0, "%s", err);
	cr_assert_eq(c.log_level, LOG_DEBUG);
	cr_assert_str_eq(c.db.path, "/srv/s.db");
	cr_assert_str_eq(c.authd.listen, "[::1]:9000");
	cr_assert_str_eq(c.authd.base_url, "https://portal.example:8443/");
	cr_assert_str_eq(c.authd.trusted_proxies, "10.0.0.1, 2001:db8::1");
	cr_assert_eq(c.ipfd.hook, CONF_HOOK_BOTH);
	cr_assert_eq(c.ipfd.enabled, 0);
	cr_assert_eq(c.cid.secure_cookie, 1);
	cr_assert_eq(c.cid.bind_ip, 0);
	cr_assert_str_eq(c.file, path);
	cr_assert_eq(c.authd.max_connections, d.authd.max_connections, "untouched keys keep their defaults");
	cr_assert_eq(c.db.busy_timeout_ms, d.db.busy_timeout_ms);
}

Test(conf, a_missing_file_names_the_path)
{
	struct conf c;
	char err[512];

	conf_defaults(&c);
	cr_assert_eq(conf_load("/nonexistent/sekisho.conf", &c, err, sizeof err), -1);
	cr_assert(strstr(err, "/nonexistent/sekisho.conf: No such file") != NULL, "%s", err);
}

struct bad {
	char text[200];
	int line;
	char msg[80];
};

ParameterizedTestParameters(conf, bad_files_name_file_line_and_reason)
{
	static struct bad cases[] = {
		{ "[db]\npath = /x\nbogus = 1\n", 3, "unknown key \"bogus\" in [db]" },
		{ "bogus = 1\n", 1, "unknown key \"bogus\" before any section" },
		{ "[db]\n[nope]\n", 2, "unknown section [nope]" },
		{ "[nope]\nkey = 1\n", 1, "unknown section [nope]" },
		{ "[db]\nbusy_timeout_ms = 12x\n", 2, "\"12x\" is not an integer in 0..600000" },
		{ "[db]\nbusy_timeout_ms = -1\n", 2, "is not an integer in 0..600000" },
		{ "[db]\nbusy_timeout_ms =\n", 2, "\"\" is not an integer" },
		{ "[authd]\nmax_connections = 0\n", 2, "authd.max_connections: \"0\" is not an integer in 1..65536" },
		{ "[authd]\nthrottle_checks_per_s = 0\n", 2, "authd.throttle_checks_per_s: \"0\" is not an integer in 1..100000" },
		{ "[authd]\n\nthrottle_backoff_max_s = 1h\n", 3, "authd.throttle_backoff_max_s: \"1h\" is not an integer in 1..86400" },
		{ "[authd]\nthreads = 8\n", 2, "unknown key \"threads\" in [authd]" },
		{ "[authd]\nmax_connections = 99999999999999999999\n", 2, "is not an integer" },
		{ "[authd]\nmax_connections = +8\n", 2, "is not an integer" },
		{ "[authd]\nmax_connections = 0x10\n", 2, "is not an integer" },
		{ "[authd]\nmax_connections = 8 8\n", 2, "is not an integer" },
		{ "[db]\npath = /a\n\n[db]\npath = /b\n", 5, "duplicate key db.path (first set on line 2)" },
		{ "[authd]\nlisten = localhost:80\n", 2, "authd.listen: want ADDR:PORT" },
		{ "[authd]\nlisten = 127.0.0.1\n", 2, "authd.listen: want ADDR:PORT" },
		{ "[cid]\nlisten = 127.0.0.1:65536\n", 2, "cid.listen: want ADDR:PORT" },
		{ "[authd]\nbase_url = ftp://x\n", 2, "authd.base_url: URL must start with http" },
		{ "[cid]\nbase_url = http://x/\n", 2, "unknown key \"base_url\" in [cid]" },
		{ "[ipfd]\nhook = sideways\n", 2, "ipfd.hook: \"sideways\" is not one of: forward, input, both" },
		{ "log_level = loud\n", 1, "log_level: \"loud\" is not one of: err, warn, info, debug" },
		{ "[cid]\nsecure_cookie = maybe\n", 2, "is not one of: on, off, auto" },
		{ "[ipfd]\nenabled = 2\n", 2, "ipfd.enabled: \"2\" is not on or off" },
		{ "[db]\npath = relative.db\n", 2, "db.path: must be an absolute path" },
		{ "this is not ini\n", 1, "syntax error" },
		{ "[db]\npath = /x\n[db\n", 3, "syntax error" },
		{ "[authd]\ntrusted_proxies = 10.0.0.1, nothost\n", 2, "\"nothost\" is not an IP address" },
		{ "[authd]\ntrusted_proxies = 10.0.0.1,\n", 2, "empty list entry" },
		{ "[authd]\ntrusted_proxies = 1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
		  "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1\n", 2,
		  "more than 16 entries" },
		{ "[cid]\nhost_map = app.example\n", 2, "is not host=service" },
		{ "[cid]\nhost_map = a.example=.x\n", 2, "\"a.example=.x\" is not host=service" },
		{ "[authd]\ntls_cert = /c.pem\n", 2, "tls_cert and authd.tls_key must be set together" },
		{ "[cid]\ncookie_name = a;b\n", 2, "cid.cookie_name: want 1..63" },
		{ "[ipfd]\ngroup = -x\n", 2, "not a valid unix account name" },
		{ "[authd]\nlisten = 10.0.0.1:80\nmonitor_listen = 10.0.0.1:80\n", 3,
		  "authd.monitor_listen must differ from authd.listen" },
		{ "[cid]\nmonitor_listen = 127.0.0.1:8081\n", 2, "cid.monitor_listen must differ from cid.listen" },
		{ "[cid]\nlisten = 127.0.0.1:9081\n", 2, "cid.monitor_listen must differ from cid.listen" },
		{ "[authd]\nmax_connections_per_ip = 0\n", 2, "authd.max_connections_per_ip: \"0\" is not an integer in 1..65536" },
		{ "[authd]\nrequest_timeout_s = 601\n", 2, "authd.request_timeout_s: \"601\" is not an integer in 1..600" },
		{ "[authd]\nhsts_max_age = -1\n", 2, "authd.hsts_max_age: \"-1\" is not an integer in 0..63072000" },
		{ "[cid]\nmax_connections = 0\n", 2, "cid.max_connections: \"0\" is not an integer in 1..65536" },
		{ "[cid]\nrequest_timeout_s = 0\n", 2, "cid.request_timeout_s: \"0\" is not an integer in 1..600" },
		{ "[db]\nguard_forbid = 10.0.1.0/24, router\n", 2, "db.guard_forbid: bad address \"router\"" },
		{ "[db]\nguard_forbid = 10.0.1.5/24\n", 2, "has host bits set (the network is 10.0.1.0/24)" },
		{ "[db]\nguard_forbid = 10.0.1.0/33\n", 2, "bad prefix length" },
		{ "[db]\nguard_forbid = 10.0.1.1,\n", 2, "empty list entry" },
		{ "[identity]\npam_service = no/such\n", 2, "identity.pam_service: want a name" },
		{ "[identity]\npam_confdir = pam.d\n", 2, "identity.pam_confdir: must be an absolute path" },
		{ "[identity]\nldap_url = http://ldap.example\n", 2, "want ldaps://HOST[:PORT]" },
		{ "[identity]\nldap_url = ldaps://ldap.example\n", 2,
		  "identity.ldap_url needs identity.ldap_user_base" },
		{ "[identity]\nldap_user_base = dc=x\nldap_bind_dn = cn=s,dc=x\n", 3,
		  "identity.ldap_bind_dn needs identity.ldap_bind_password_file" },
	};
	return cr_make_param_array(struct bad, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad *b, conf, bad_files_name_file_line_and_reason, .fini = cleanup)
{
	struct conf c, d;
	char err[512], want[128];
	const char *path = write_conf(b->text);

	conf_defaults(&c);
	d = c;
	cr_assert_eq(conf_load(path, &c, err, sizeof err), -1, "accepted: %s", b->text);
	snprintf(want, sizeof want, "%s:%d: ", path, b->line);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "want \"%s...\", got \"%s\"", want, err);
	cr_assert(strstr(err, b->msg) != NULL, "want \"%s\" in \"%s\"", b->msg, err);
	cr_assert_eq(memcmp(&c, &d, sizeof c), 0, "nothing of a bad file is used");
}

Test(conf, a_line_longer_than_inih_accepts_is_an_error_not_a_split, .fini = cleanup)
{
	char text[600], err[512];
	struct conf c;

	snprintf(text, sizeof text, "[db]\npath = /%0400d\n", 0);
	conf_defaults(&c);
	cr_assert_eq(conf_load(write_conf(text), &c, err, sizeof err), -1);
	cr_assert(strstr(err, ":2: line longer than") != NULL, "%s", err);
}

Test(conf, keys_are_unique_and_the_list_ends)
{
	const char *def, *doc;
	int n;

	for (n = 0; conf_key(n) != NULL; n++) {
		cr_assert_eq(conf_key_info(n, &def, &doc), 0);
		cr_assert_neq(doc[0], '\0', "%s has a description", conf_key(n));
		for (int j = 0; j < n; j++)
			cr_assert_str_neq(conf_key(n), conf_key(j));
	}
	cr_assert_gt(n, 30);
	cr_assert_eq(conf_key_info(n, &def, &doc), -1);
	cr_assert_null(conf_key(-1));
}

Test(conf, the_example_file_parses_to_the_defaults)
{
	struct conf c, d;
	char path[PATH_MAX], err[512];

	example_path(path, sizeof path);
	conf_defaults(&c);
	conf_defaults(&d);
	cr_assert_eq(conf_load(path, &c, err, sizeof err), 0, "%s", err);
	cr_assert_eq(c.log_level, d.log_level);
	cr_assert_eq(memcmp(&c.db, &d.db, sizeof c.db), 0);
	cr_assert_eq(memcmp(&c.authd, &d.authd, sizeof c.authd), 0);
	cr_assert_eq(memcmp(&c.ipfd, &d.ipfd, sizeof c.ipfd), 0);
	cr_assert_eq(memcmp(&c.cid, &d.cid, sizeof c.cid), 0);
}

/* Whether the example has "; doc" then "key = def" inside [section] (or before any section). */
static int
example_documents(FILE *f, const char *full, const char *def, const char *doc)
{
	char line[512], section[32] = "", want[300], comment[300];
	const char *dot = strchr(full, '.'), *key = dot ? dot + 1 : full;
	char prev[512] = "";

	snprintf(want, sizeof want, def[0] ? "%s = %s\n" : "%s =%s\n", key, def);
	snprintf(comment, sizeof comment, "; %s\n", doc);
	rewind(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '[')
			snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
		if (strcmp(line, want) == 0 && strcmp(prev, comment) == 0 &&
		    (int)strlen(section) == (dot ? (int)(dot - full) : 0) &&
		    strncmp(section, full, strlen(section)) == 0)
			return 1;
		snprintf(prev, sizeof prev, "%s", line);
	}
	return 0;
}

Test(conf, the_example_file_lists_every_key_with_its_default_and_description)
{
	char path[PATH_MAX];
	const char *def, *doc;
	FILE *f;

	example_path(path, sizeof path);
	cr_assert_not_null(f = fopen(path, "r"));
	for (int i = 0; conf_key(i) != NULL; i++) {
		conf_key_info(i, &def, &doc);
		cr_expect(example_documents(f, conf_key(i), def, doc),
		          "sekisho.conf.example lacks \"; %s\" / \"%s = %s\"", doc, conf_key(i), def);
	}
	fclose(f);
}

/* Appends each entry and a '|' to the buffer in arg. */
static int
collect(void *arg, const char *entry, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	strcat(arg, entry);
	strcat(arg, "|");
	return 0;
}

struct list_case {            /* arrays, not pointers: each case runs in a new process */
	char in[32];
	int rc;
	char out[32];
};

ParameterizedTestParameters(conf, list_entries_are_trimmed_and_empty_ones_refused)
{
	static struct list_case cases[] = {
		{ "", 0, "" },
		{ "a", 0, "a|" },
		{ " a , b=c ,d ", 0, "a|b=c|d|" },
		{ "a,,b", -1, "a|" },
		{ "a,", -1, "a|" },
		{ ",a", -1, "" },
		{ "a, ", -1, "a|" },
	};

	return cr_make_param_array(struct list_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct list_case *lc, conf, list_entries_are_trimmed_and_empty_ones_refused)
{
	char out[256] = "", err[128];

	cr_assert_eq(conf_list_each(lc->in, collect, out, err, sizeof err), lc->rc, "\"%s\"", lc->in);
	cr_assert_str_eq(out, lc->out, "\"%s\"", lc->in);
}

Test(conf, a_list_longer_than_its_maximum_is_refused)
{
	char in[CONF_LIST_MAX * 2 + 3] = "", out[256] = "", err[128];

	for (int i = 0; i <= CONF_LIST_MAX; i++)
		strcat(in, i ? ",x" : "x");
	cr_assert_eq(conf_list_each(in, collect, out, err, sizeof err), -1);
	cr_assert(strstr(err, "entries") != NULL, "%s", err);
}

Test(conf, every_restart_key_is_a_known_key)
{
	struct conf c;

	conf_defaults(&c);
	cr_assert_not_null(conf_restart_key(0));
	for (int i = 0; conf_restart_key(i) != NULL; i++)
		cr_assert_eq(conf_differs(conf_restart_key(i), &c, &c), 0, "%s", conf_restart_key(i));
}

Test(conf, restart_keys_name_what_changed_for_that_program_only)
{
	struct conf a, b;
	char out[256];

	conf_defaults(&a);
	b = a;
	conf_restart_keys(CONF_AUTHD | CONF_IPFD | CONF_CID, &a, &b, out, sizeof out);
	cr_assert_str_eq(out, "");
	snprintf(b.cid.listen, sizeof b.cid.listen, "127.0.0.1:9");
	b.cid.threads = a.cid.threads + 1;
	b.ipfd.sync_interval_s = a.ipfd.sync_interval_s + 1;      /* applies live */
	snprintf(b.cid.host_map, sizeof b.cid.host_map, "x=y");    /* applies live */
	conf_restart_keys(CONF_CID, &a, &b, out, sizeof out);
	cr_assert_str_eq(out, "cid.listen,cid.threads");
	conf_restart_keys(CONF_AUTHD | CONF_IPFD, &a, &b, out, sizeof out);
	cr_assert_str_eq(out, "");
	b.db.busy_timeout_ms = a.db.busy_timeout_ms + 1;
	conf_restart_keys(CONF_IPFD, &a, &b, out, sizeof out);
	cr_assert_str_eq(out, "db.busy_timeout_ms");
	conf_restart_keys(CONF_CID, &a, &b, out, 12);
	cr_assert_str_eq(out, "db.busy_tim", "a short buffer is cut, not overrun");
}
