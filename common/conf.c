#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "addr.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "store.h"

#define CONF_READ_MAX 1024  /* longest raw line read; inih's own limit is usually lower */
#define CONF_ERR_MAX  256

enum conf_type { T_STR, T_INT, T_BOOL, T_TRI, T_HOOK, T_LEVEL };

/* What a string value must look like. */
enum conf_check {
	K_TEXT,      /* printable, any */
	K_PATH,      /* absolute path, or "" when the default is "" */
	K_SOCKET,    /* absolute path that fits sockaddr_un */
	K_LISTEN,    /* ADDR:PORT */
	K_LISTEN_OPT,/* ADDR:PORT, or "" = off */
	K_LISTENS,   /* "ADDR:PORT,..." up to CONF_LISTEN_MAX; "" only when the default is "" */
	K_URL,       /* http(s) URL */
	K_ACCOUNT,   /* unix user or group name, or "" */
	K_ADDRLIST,  /* "ADDR,ADDR,..." or "" */
	K_NETLIST,   /* "NET or ENDPOINT, ..." or "" */
	K_HOSTMAP,   /* "host=service,..." or "" */
	K_COOKIE,    /* cookie name */
	K_PAMSVC,    /* a PAM service name, or "" */
	K_LDAPURL,   /* ldaps:// or ldap:// URL, or "" */
	K_NAMES,     /* "name,name,..." of services, or "" */
	K_CAPTIVE,   /* [cid] captive_listen: conf_check_captive_listen */
};

struct conf_item {
	const char *section;
	const char *key;
	const char *full;       /* "section.key" */
	enum conf_type type;
	enum conf_check check;
	size_t off, size;
	long long min, max;
	const char *def;
	const char *doc;
};

#define FIELD(sec, f) offsetof(struct conf, sec.f), sizeof(((struct conf *)0)->sec.f)
#define STR(sec, key, chk, def, doc) \
	{ #sec, #key, #sec "." #key, T_STR, chk, FIELD(sec, key), 0, 0, def, doc }
#define INT(sec, key, min, max, def, doc) \
	{ #sec, #key, #sec "." #key, T_INT, K_TEXT, FIELD(sec, key), min, max, def, doc }
#define TYPED(sec, key, type, def, doc) \
	{ #sec, #key, #sec "." #key, type, K_TEXT, FIELD(sec, key), 0, 1, def, doc }

static const struct conf_item conf_items[] = {
	{ "", "log_level", "log_level", T_LEVEL, K_TEXT, offsetof(struct conf, log_level),
	  sizeof(int), 0, 0, "info",
	  "log level of every program: err, warn, info or debug (before any section)" },

	STR(db, path, K_PATH, "/var/lib/sekisho/sekisho.db", "the SQLite database file"),
	STR(db, url, K_TEXT, "", "PostgreSQL conninfo (host=... dbname=...); non-empty: use PostgreSQL, not path"),
	INT(db, busy_timeout_ms, 0, 600000, "5000", "how long a writer waits for the database lock"),
	INT(db, retention_days, 1, 3650, "30", "ended rights and audit rows are kept this many days"),
	INT(db, pool_size, 1, 64, "16", "store connections authd opens at most for its request threads"),
	STR(db, guard_forbid, K_NETLIST, "", "networks (ADDR/LEN) and endpoints no service may guard"),

	STR(authd, listen, K_LISTENS, "127.0.0.1:8080", "portal addresses, ADDR:PORT or [V6]:PORT, comma-separated (IPv4 and IPv6 at once)"),
	STR(authd, admin_listen, K_LISTENS, "", "admin pages only on these addresses, not on listen (empty: on listen)"),
	STR(authd, base_url, K_URL, "http://127.0.0.1:8080", "the portal's public URL"),
	STR(authd, user, K_ACCOUNT, "", "drop to this unix user after binding (empty: stay)"),
	STR(authd, trusted_proxies, K_ADDRLIST, "", "comma-separated proxy addresses trusted for X-Forwarded-For"),
	STR(authd, tls_cert, K_PATH, "", "PEM certificate; with tls_key, serve HTTPS"),
	STR(authd, tls_key, K_PATH, "", "PEM private key of tls_cert"),
	STR(authd, web_dir, K_PATH, "/usr/share/sekisho/web", "templates and static files"),
	INT(authd, max_connections, 1, 65536, "16384", "connections open at once (served by http_threads event threads); more are refused"),
	INT(authd, max_connections_per_ip, 1, 65536, "16", "connections one client address may hold at once (trusted proxies: only max_connections)"),
	INT(authd, request_timeout_s, 1, 600, "10", "a request must arrive whole within this many seconds, however slowly it trickles"),
	STR(authd, tls_priorities, K_TEXT, HTTP_TLS_PRIORITIES, "GnuTLS priority string of authd's HTTPS (default: TLS 1.2/1.3, forward-secret AEAD suites)"),
	INT(authd, hsts_max_age, 0, 63072000, "31536000", "Strict-Transport-Security max-age sent under HTTPS (0: no header)"),
	STR(authd, monitor_listen, K_LISTEN, "127.0.0.1:9080", "/metrics and /healthz, on their own listener (not the portal)"),
	INT(authd, http_threads, 0, 1024, "0", "HTTP event threads, each serving many connections; they never wait (0: 2 per CPU)"),
	INT(authd, http_workers, 0, 4096, "0", "threads that answer requests which may wait (store, a login's answer); half may wait for a login's answer (0: 4 per CPU plus 2 per login waiting near the front)"),
	INT(authd, hash_workers, 0, 64, "0", "password hashes computed at once (0: one per CPU)"),
	INT(authd, hash_queue_max, 1, 100000, "2048", "tickets in the login line (logins checked in arrival order); past it, 503 at once"),
	TYPED(authd, queue, T_BOOL, "off", "a full service gives logged-in users a place in line (off: 503)"),
	INT(authd, queue_max, 1, 1000000, "10000", "places in line per service; past it, 503 with Retry-After"),
	INT(authd, queue_lapse_s, 10, 86400, "60", "a place lapses when its page has not refreshed for this long"),
	INT(authd, queue_refresh_s, 1, 600, "5", "the waiting page refreshes itself this often (keep below queue_lapse_s)"),
	INT(authd, sweep_interval_s, 1, 3600, "60", "seconds between sweeps of expired and idle rights and stale waiting-room places"),
	INT(authd, ipfd_timeout_ms, 100, 60000, "2000", "how long to wait for ipfd to confirm an admission"),
	INT(authd, code_ttl_s, 5, 600, "30", "lifetime of an entry handoff code"),
	INT(authd, login_ttl_min, 1, 10080, "480", "lifetime of a portal/admin login"),
	INT(authd, login_idle_min, 1, 1440, "30", "a portal/admin login ends after this idle time"),
	INT(authd, throttle_ip_burst, 1, 100000, "10", "failed logins allowed per client IP before 429"),
	INT(authd, throttle_user_burst, 1, 100000, "5", "failed logins per account from one address or device before it backs off"),
	INT(authd, throttle_account_burst, 1, 100000, "20", "failed logins per account before addresses it never logged in from back off"),
	INT(authd, throttle_refill_s, 1, 3600, "30", "one failed-login allowance comes back every this many seconds; the first backoff"),
	INT(authd, throttle_backoff_max_s, 1, 86400, "3600", "the longest backoff after failed logins"),
	INT(authd, throttle_checks_per_s, 1, 100000, "20", "failed password checks per second, all clients together"),
	INT(authd, throttle_known_days, 1, 3650, "90", "a device cookie or address that logged in is trusted this many days"),
	INT(authd, max_body, 1024, 1048576, "8192", "largest request body accepted, bytes"),
	INT(authd, key_rotate_h, 1, 8760, "24", "a new cookie key signs every this many hours"),
	INT(authd, tls_ticket_rotate_min, 1, 525600, "720", "a new TLS session-ticket key encrypts every this many minutes (sekishoctl tls-keys)"),
	INT(authd, tls_ticket_previous, 1, 5, "1", "previous TLS ticket keys still decrypting (HAProxy holds 1)"),

	STR(identity, pam_service, K_PAMSVC, "", "PAM service whose stack checks passwords of unknown and pam users (empty: no PAM)"),
	STR(identity, pam_confdir, K_PATH, "", "directory of the PAM stack (empty: /etc/pam.d; needs Linux-PAM 1.4 or later)"),
	STR(identity, ldap_url, K_LDAPURL, "", "directory for unknown and ldap users: ldaps://HOST[:PORT], or ldap:// with StartTLS (empty: none)"),
	STR(identity, ldap_ca_file, K_PATH, "", "PEM CA certificates the directory's certificate is checked against (empty: the system's)"),
	STR(identity, ldap_bind_dn, K_TEXT, "", "DN the user search binds as (empty: anonymous search)"),
	STR(identity, ldap_bind_password_file, K_PATH, "", "file whose first line is ldap_bind_dn's password"),
	STR(identity, ldap_user_base, K_TEXT, "", "DN under which users are searched"),
	STR(identity, ldap_user_attr, K_PAMSVC, "uid", "attribute that holds the login name"),
	STR(identity, ldap_group_base, K_TEXT, "", "DN under which groupOfNames entries stand for sekisho groups of the same cn (empty: none)"),

	STR(ipfd, socket, K_SOCKET, "/run/sekisho/ipfd.sock", "ipfd's control socket"),
	STR(ipfd, group, K_ACCOUNT, "sekisho-ctl", "members of this group (and root) may talk to ipfd"),
	TYPED(ipfd, hook, T_HOOK, "forward", "where rules attach: forward, input or both"),
	INT(ipfd, sync_interval_s, 1, 86400, "30", "seconds between full reconciles with the database"),
	INT(ipfd, batch_window_us, 0, 100000, "0", "extra wait for more requests before a batch (0: take what has arrived)"),
	TYPED(ipfd, enabled, T_BOOL, "on", "authd and sekishoctl require ipfd (off: database only)"),
	STR(ipfd, captive, K_NAMES, "", "services whose unadmitted HTTP connections are redirected to the portal (needs cid.captive_listen)"),
	INT(ipfd, captive_port, 1, 65535, "80", "the guarded endpoints' HTTP port that captive services redirect"),

	STR(cid, listen, K_LISTENS, "127.0.0.1:8081", "cookie checker addresses, ADDR:PORT or [V6]:PORT, comma-separated"),
	STR(cid, user, K_ACCOUNT, "", "drop to this unix user after binding (empty: stay)"),
	STR(cid, trusted_proxies, K_ADDRLIST, "", "comma-separated proxy addresses trusted for X-Forwarded-For"),
	STR(cid, host_map, K_HOSTMAP, "", "host=service,... used when a request has no X-Sekisho-Service"),
	STR(cid, cookie_name, K_COOKIE, "sekisho", "name of the access cookie"),
	INT(cid, threads, 1, 256, "2", "HTTP worker threads"),
	INT(cid, max_connections, 1, 65536, "4096", "connections served at once; more are refused"),
	INT(cid, max_connections_per_ip, 1, 65536, "16", "connections one address may hold at once (trusted proxies: only max_connections)"),
	INT(cid, request_timeout_s, 1, 600, "10", "a request must arrive whole within this many seconds, however slowly it trickles"),
	STR(cid, monitor_listen, K_LISTEN, "127.0.0.1:9081", "/metrics and /healthz, on their own listener (not the service side)"),
	STR(cid, spoe_listen, K_LISTEN_OPT, "", "HAProxy's SPOE agent, ADDR:PORT or [V6]:PORT (empty: off)"),
	TYPED(cid, bind_ip, T_BOOL, "on", "a cookie is valid only from the client IP it was issued to"),
	TYPED(cid, secure_cookie, T_TRI, "auto", "Secure cookie attribute: on, off, or auto (when the request is HTTPS)"),
	INT(cid, touch_interval_ms, 10, 60000, "1000", "last-seen times are written this often"),
	INT(cid, refresh_ms, 10, 60000, "250", "the rights cache follows the database this often"),
	STR(cid, captive_listen, K_CAPTIVE, "", "captive redirect responder, one ADDR:PORT per family on this gateway (empty: none)"),
};

#define N_ITEMS ((int)(sizeof conf_items / sizeof conf_items[0]))

static const char *const conf_sections[] = { "db", "authd", "identity", "ipfd", "cid" };

struct conf_parse {
	const char *path;
	FILE *f;
	int line;                /* lines read so far: the line the handler is called for */
	int seen[N_ITEMS];       /* line where each key was set, 0 = not yet */
	struct conf tmp;
	int err_line;
	char err[CONF_ERR_MAX];
};

const char *
conf_key(int i)
{
	return i >= 0 && i < N_ITEMS ? conf_items[i].full : NULL;
}

int
conf_key_info(int i, const char **def, const char **doc)
{
	if (i < 0 || i >= N_ITEMS)
		return -1;
	*def = conf_items[i].def;
	*doc = conf_items[i].doc;
	return 0;
}

int
conf_differs(const char *full, const struct conf *a, const struct conf *b)
{
	const struct conf_item *it = NULL;

	for (int i = 0; i < N_ITEMS && it == NULL; i++)
		if (strcmp(conf_items[i].full, full) == 0)
			it = &conf_items[i];
	if (it == NULL)
		return -1;
	if (it->type == T_STR)
		return strcmp((const char *)a + it->off, (const char *)b + it->off) != 0;
	return memcmp((const char *)a + it->off, (const char *)b + it->off, it->size) != 0;
}

static int
conf_section_known(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof conf_sections / sizeof conf_sections[0]; i++)
		if (strlen(conf_sections[i]) == len && strncmp(conf_sections[i], s, len) == 0)
			return 1;
	return 0;
}

static int
conf_find(const char *section, const char *key)
{
	for (int i = 0; i < N_ITEMS; i++)
		if (strcmp(conf_items[i].section, section) == 0 && strcmp(conf_items[i].key, key) == 0)
			return i;
	return -1;
}

static int
conf_printable(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v == 0x7f)
			return 0;
	return 1;
}

static int
conf_charset(const char *v, const char *extra)
{
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || strchr(extra, *v) != NULL))
			return 0;
	return 1;
}

int
conf_list_each(const char *v, int (*fn)(void *, const char *, char *, size_t), void *arg,
               char *err, size_t errlen)
{
	char entry[CONF_STR_MAX];
	const char *end;
	size_t len;
	int n = 0;

	while (*v != '\0') {
		while (*v == ' ')
			v++;
		end = strchr(v, ',');
		len = end ? (size_t)(end - v) : strlen(v);
		while (len > 0 && v[len - 1] == ' ')
			len--;
		if (len == 0 || len >= sizeof entry) {
			snprintf(err, errlen, "empty or oversized list entry");
			return -1;
		}
		if (++n > CONF_LIST_MAX) {
			snprintf(err, errlen, "more than %d entries", CONF_LIST_MAX);
			return -1;
		}
		memcpy(entry, v, len);
		entry[len] = '\0';
		if (fn(arg, entry, err, errlen) == -1)
			return -1;
		v = end ? end + 1 : v + strlen(v);
		if (end != NULL && *v == '\0') {
			snprintf(err, errlen, "empty list entry");
			return -1;
		}
	}
	return 0;
}

static int
conf_check_addr(void *unused, const char *e, char *err, size_t errlen)
{
	(void)unused;
	struct addr a;

	if (addr_parse(e, &a) == -1) {
		snprintf(err, errlen, "\"%s\" is not an IP address", e);
		return -1;
	}
	return 0;
}

static int
conf_check_hostmap(void *unused, const char *e, char *err, size_t errlen)
{
	char host[CONF_STR_MAX];
	const char *eq = strchr(e, '=');

	(void)unused;
	if (eq == NULL || eq == e || eq[1] == '\0' || (size_t)(eq - e) >= sizeof host) {
		snprintf(err, errlen, "\"%s\" is not host=service", e);
		return -1;
	}
	memcpy(host, e, (size_t)(eq - e));
	host[eq - e] = '\0';
	if (!conf_charset(host, ".-:[]") || !name_valid(eq + 1)) {
		snprintf(err, errlen, "\"%s\" is not host=service", e);
		return -1;
	}
	return 0;
}

static int
conf_check_path(const struct conf_item *it, const char *v, char *err, size_t errlen)
{
	if (v[0] == '\0' && it->def[0] == '\0')
		return 0;
	if (v[0] != '/') {
		snprintf(err, errlen, "must be an absolute path");
		return -1;
	}
	if (it->check == K_SOCKET && strlen(v) >= 108) {
		snprintf(err, errlen, "socket path longer than 107 bytes");
		return -1;
	}
	return 0;
}

static int
conf_check_nets(const char *v, char *err, size_t errlen)
{
	struct net list[CONF_LIST_MAX];
	int n;

	return net_parse_list(v, list, CONF_LIST_MAX, &n, err, errlen);
}

/* The daemons' own endpoints, which the store keeps guards off (conf_db.guard_self). */
static void
conf_derive(struct conf *c)
{
	const char *lists[] = { c->authd.listen, c->authd.admin_listen, c->authd.monitor_listen,
	                        c->cid.listen, c->cid.monitor_listen, c->cid.captive_listen };
	size_t len = 0;

	c->db.guard_self[0] = '\0';
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		int w;

		if (lists[i][0] == '\0')
			continue;
		w = snprintf(c->db.guard_self + len, sizeof c->db.guard_self - len, "%s%s",
		             len ? "," : "", lists[i]);
		if (w < 0 || (size_t)w >= sizeof c->db.guard_self - len)
			break;
		len += (size_t)w;
	}
}

static int
conf_check_listen(void *arg, const char *v, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	(void)arg;
	if (addr_parse_listen(v, &ss, &sl) == 0)
		return 0;
	snprintf(err, errlen, "want ADDR:PORT or [V6]:PORT with a literal address");
	return -1;
}

/* Checks a string value against its item's rule. 0 or -1 with err. */
static int
conf_check_str(const struct conf_item *it, const char *v, char *err, size_t errlen)
{
	switch (it->check) {
	case K_TEXT:
		return 0;
	case K_PATH:
	case K_SOCKET:
		return conf_check_path(it, v, err, errlen);
	case K_LISTEN_OPT:
		if (v[0] == '\0')
			return 0;
		/* FALLTHROUGH */
	case K_LISTEN:
		return conf_check_listen(NULL, v, err, errlen);
	case K_LISTENS:
		if (v[0] == '\0' && it->def[0] == '\0')
			return 0;
		if (v[0] == '\0') {
			snprintf(err, errlen, "want at least one ADDR:PORT");
			return -1;
		}
		return conf_listen_each(v, conf_check_listen, NULL, err, errlen);
	case K_URL:
		return url_valid(v, err, errlen);
	case K_ACCOUNT:
		if (strlen(v) <= 32 && conf_charset(v, "._-") && v[0] != '-')
			return 0;
		snprintf(err, errlen, "not a valid unix account name");
		return -1;
	case K_ADDRLIST:
		return conf_list_each(v, conf_check_addr, NULL, err, errlen);
	case K_HOSTMAP:
		return conf_list_each(v, conf_check_hostmap, NULL, err, errlen);
	case K_NETLIST:
		return conf_check_nets(v, err, errlen);
	case K_PAMSVC:
		if (strlen(v) <= 32 && conf_charset(v, "._-") && v[0] != '.' && v[0] != '-')
			return 0;
		snprintf(err, errlen, "want a name: 1..32 of [A-Za-z0-9._-]");
		return -1;
	case K_LDAPURL:
		if (v[0] == '\0' || strncmp(v, "ldaps://", 8) == 0 || strncmp(v, "ldap://", 7) == 0)
			return 0;
		snprintf(err, errlen, "want ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS)");
		return -1;
	case K_NAMES:
		return conf_check_names(v, err, errlen);
	case K_CAPTIVE:
		return conf_check_captive_listen(v, err, errlen);
	case K_COOKIE:
		if (v[0] != '\0' && strlen(v) < 64 && conf_charset(v, "_-"))
			return 0;
		snprintf(err, errlen, "want 1..63 of [A-Za-z0-9_-]");
		return -1;
	}
	return 0;
}

static const struct {
	const char *word;
	int value;
} conf_words[] = {
	{ "on", 1 }, { "off", 0 }, { "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "1", 1 }, { "0", 0 },
};

static int
conf_word(const char *v, int *out)
{
	for (size_t i = 0; i < sizeof conf_words / sizeof conf_words[0]; i++)
		if (strcmp(v, conf_words[i].word) == 0) {
			*out = conf_words[i].value;
			return 0;
		}
	return -1;
}

static int
conf_hook_parse(const char *v)
{
	if (strcmp(v, "forward") == 0)
		return CONF_HOOK_FORWARD;
	if (strcmp(v, "input") == 0)
		return CONF_HOOK_INPUT;
	if (strcmp(v, "both") == 0)
		return CONF_HOOK_BOTH;
	return -1;
}

/* The int a non-string value stands for. 0 or -1 with err. */
static int
conf_parse_typed(const struct conf_item *it, const char *v, int *out, char *err, size_t errlen)
{
	long long n;

	switch (it->type) {
	case T_INT:
		if (parse_int(v, it->min, it->max, &n) == 0) {
			*out = (int)n;
			return 0;
		}
		snprintf(err, errlen, "\"%s\" is not an integer in %lld..%lld", v, it->min, it->max);
		return -1;
	case T_BOOL:
		if (conf_word(v, out) == 0)
			return 0;
		snprintf(err, errlen, "\"%s\" is not on or off", v);
		return -1;
	case T_TRI:
		if (strcmp(v, "auto") == 0)
			*out = -1;
		else if (conf_word(v, out) == -1)
			break;
		return 0;
	case T_HOOK:
		if ((*out = conf_hook_parse(v)) != -1)
			return 0;
		break;
	case T_LEVEL:
		if ((*out = log_level_parse(v)) != -1)
			return 0;
		break;
	case T_STR:
		break;
	}
	snprintf(err, errlen, "\"%s\" is not one of: %s", v,
	         it->type == T_TRI ? "on, off, auto" :
	         it->type == T_HOOK ? "forward, input, both" : "err, warn, info, debug");
	return -1;
}

/* Stores value v of item it into c. 0 or -1 with err. */
static int
conf_set(const struct conf_item *it, const char *v, struct conf *c, char *err, size_t errlen)
{
	char *base = (char *)c + it->off;
	int n;

	if (!conf_printable(v)) {
		snprintf(err, errlen, "control characters in value");
		return -1;
	}
	if (it->type != T_STR) {
		if (conf_parse_typed(it, v, &n, err, errlen) == -1)
			return -1;
		memcpy(base, &n, sizeof n);
		return 0;
	}
	if (strlen(v) >= it->size) {
		snprintf(err, errlen, "longer than %zu bytes", it->size - 1);
		return -1;
	}
	if (conf_check_str(it, v, err, errlen) == -1)
		return -1;
	memcpy(base, v, strlen(v) + 1);
	return 0;
}

void
conf_defaults(struct conf *c)
{
	char err[CONF_ERR_MAX];

	memset(c, 0, sizeof *c);
	for (int i = 0; i < N_ITEMS; i++)
		if (conf_set(&conf_items[i], conf_items[i].def, c, err, sizeof err) == -1)
			fatal("default of %s is invalid: %s", conf_items[i].full, err);
	conf_derive(c);
}

static void __attribute__((format(printf, 3, 4)))
conf_fail(struct conf_parse *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line != 0)
		return;
	p->err_line = line;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
}

/*
 * inih's handler: one key=value of the line just read. Records only the first
 * error and then ignores the rest; returns 0 on error so ini_parse_stream
 * reports the line too.
 */
static int
conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	char why[CONF_ERR_MAX];
	int i;

	if (p->err_line != 0)
		return 1;
	if (section[0] != '\0' && !conf_section_known(section, strlen(section))) {
		conf_fail(p, p->line, "unknown section [%s]", section);
		return 0;
	}
	if ((i = conf_find(section, name)) == -1) {
		if (section[0] == '\0')
			conf_fail(p, p->line, "unknown key \"%s\" before any section", name);
		else
			conf_fail(p, p->line, "unknown key \"%s\" in [%s]", name, section);
		return 0;
	}
	if (p->seen[i] != 0) {
		conf_fail(p, p->line, "duplicate key %s (first set on line %d)",
		          conf_items[i].full, p->seen[i]);
		return 0;
	}
	p->seen[i] = p->line;
	if (conf_set(&conf_items[i], value, &p->tmp, why, sizeof why) == -1) {
		conf_fail(p, p->line, "%s: %s", conf_items[i].full, why);
		return 0;
	}
	return 1;
}

/* Skips the rest of an over-long line. */
static void
conf_skip_line(FILE *f)
{
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n')
		;
}

/* Checks a "[name]" header line (start has no leading blanks) as soon as it is read. */
static void
conf_check_header(struct conf_parse *p, const char *start)
{
	const char *close = strchr(start, ']');

	if (start[0] != '[' || close == NULL)
		return;
	if (!conf_section_known(start + 1, (size_t)(close - start - 1)))
		conf_fail(p, p->line, "unknown section [%.*s]", (int)(close - start - 1), start + 1);
}

/*
 * inih's reader: one whole line per call, so p->line is the line the handler
 * sees. Leading blanks are removed (so indented keys are plain keys, never
 * continuations of the previous value); a line that does not fit inih's
 * buffer is an error, never silently split. An error line is passed on empty.
 */
static char *
conf_read_line(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	char raw[CONF_READ_MAX];
	char *start = raw;
	size_t len;

	if (fgets(raw, sizeof raw, p->f) == NULL)
		return NULL;
	p->line++;
	len = strlen(raw);
	if (len == sizeof raw - 1 && raw[len - 1] != '\n') {
		conf_skip_line(p->f);
		conf_fail(p, p->line, "line longer than %d bytes", num - 3);
		start = "\n";
	}
	if (p->line == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	start += strspn(start, " \t");
	if (strlen(start) > (size_t)num - 2) {
		conf_fail(p, p->line, "line longer than %d bytes", num - 3);
		start = "\n";
	}
	conf_check_header(p, start);
	memcpy(str, start, strlen(start) + 1);
	return str;
}

/* The monitor (and admin) listeners must not share the public one's addresses (port 0 aside). */
static void
conf_check_monitor(struct conf_parse *p, const char *section, const char *listen,
                   const char *monitor)
{
	int l = conf_find(section, "listen"), m = conf_find(section, "monitor_listen");

	if (conf_listens_overlap(monitor, listen))
		conf_fail(p, p->seen[m] ? p->seen[m] : p->seen[l],
		          "%s.monitor_listen must differ from %s.listen: metrics and health are "
		          "not for the public listener", section, section);
}

/* A directory needs where to search, and a search account its password. */
static void
conf_check_ldap(struct conf_parse *p, const struct conf_identity *id)
{
	int url = conf_find("identity", "ldap_url"), dn = conf_find("identity", "ldap_bind_dn");

	if (id->ldap_url[0] != '\0' && id->ldap_user_base[0] == '\0')
		conf_fail(p, p->seen[url], "identity.ldap_url needs identity.ldap_user_base");
	if (id->ldap_bind_dn[0] != '\0' && id->ldap_bind_password_file[0] == '\0')
		conf_fail(p, p->seen[dn], "identity.ldap_bind_dn needs identity.ldap_bind_password_file");
}

/* Captive services need the responder ipfd redirects them to. */
static void
conf_check_captive(struct conf_parse *p)
{
	int k = conf_find("ipfd", "captive");

	if (p->tmp.ipfd.captive[0] != '\0' && p->tmp.cid.captive_listen[0] == '\0')
		conf_fail(p, p->seen[k], "ipfd.captive needs cid.captive_listen: the address the "
		          "redirect responder listens on");
}

static void
conf_check_admin(struct conf_parse *p)
{
	const struct conf_authd *a = &p->tmp.authd;
	int k = conf_find("authd", "admin_listen");

	if (conf_listens_overlap(a->admin_listen, a->listen) ||
	    conf_listens_overlap(a->admin_listen, a->monitor_listen))
		conf_fail(p, p->seen[k], "authd.admin_listen must differ from authd.listen and "
		          "authd.monitor_listen: admin pages there would stay on the public side");
}

/* Rules between keys, checked after the whole file is read. */
static void
conf_check_all(struct conf_parse *p)
{
	int cert = conf_find("authd", "tls_cert"), key = conf_find("authd", "tls_key");

	if ((p->tmp.authd.tls_cert[0] == '\0') != (p->tmp.authd.tls_key[0] == '\0'))
		conf_fail(p, p->seen[cert] ? p->seen[cert] : p->seen[key],
		          "authd.tls_cert and authd.tls_key must be set together");
	conf_check_monitor(p, "authd", p->tmp.authd.listen, p->tmp.authd.monitor_listen);
	conf_check_ldap(p, &p->tmp.identity);
	conf_check_monitor(p, "cid", p->tmp.cid.listen, p->tmp.cid.monitor_listen);
	if (p->err_line == 0)
		conf_check_admin(p);
	if (p->err_line == 0)
		conf_check_captive(p);
}

int
conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	struct conf_parse *p;
	int rc;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	p->path = path;
	p->tmp = *c;
	if ((p->f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(p);
		return -1;
	}
	rc = ini_parse_stream(conf_read_line, p, conf_handler, p);
	if (ferror(p->f))
		conf_fail(p, p->line, "read error");
	fclose(p->f);
	if (rc > 0 && (p->err_line == 0 || rc < p->err_line)) {
		p->err_line = 0;
		conf_fail(p, rc, "syntax error (want [section] or key = value)");
	}
	if (rc < 0 && p->err_line == 0)
		conf_fail(p, p->line, "cannot parse (inih error %d)", rc);
	if (p->err_line == 0)
		conf_check_all(p);
	if (p->err_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, p->err_line, p->err);
		free(p);
		return -1;
	}
	*c = p->tmp;
	conf_derive(c);
	snprintf(c->file, sizeof c->file, "%s", path);
	free(p);
	return 0;
}
