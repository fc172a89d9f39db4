#ifndef SEKISHO_CONF_H
#define SEKISHO_CONF_H

/*
 * The one INI file: sections [db] [authd] [ipfd] [cid], and log_level before
 * the first section (it applies to every program). conf_load() fills a
 * struct conf from defaults and the file; an unknown section or key, a bad value
 * or a duplicate key is an error "FILE:LINE: message" and nothing is used.
 * sekisho.conf.example lists every key with its default.
 */

#include <stddef.h>

#define CONF_STR_MAX  256   /* every string value, including the NUL */
#define CONF_PATH_MAX 256
#define CONF_LIST_MAX 16    /* entries of a list value (trusted_proxies, host_map) */
#define CONF_LISTEN_MAX 4   /* addresses of a listen or admin_listen list */

#define CONF_DEFAULT_PATH "/etc/sekisho/sekisho.conf"
#define CONF_POOL_DEFAULT 16  /* db.pool_size of a conf_db filled without conf_defaults */

enum conf_hook { CONF_HOOK_FORWARD = 1, CONF_HOOK_INPUT = 2, CONF_HOOK_BOTH = 3 };

struct conf_db {
	char path[CONF_PATH_MAX];      /* SQLite file */
	char url[CONF_STR_MAX];        /* PostgreSQL conninfo; non-empty selects libpq */
	int  busy_timeout_ms;          /* how long a writer waits for the lock */
	int  retention_days;           /* ended rights and audit rows kept this long */
	int  pool_size;                /* store connections kept for request threads (0: default) */
	char guard_forbid[CONF_STR_MAX]; /* "NET, ENDPOINT, ...": no service may guard these */
	/*
	 * Not a key: the listen (all of each list), admin_listen, monitor_listen
	 * and captive_listen endpoints of authd and cid,
	 * filled by conf_defaults and conf_load, so the store also keeps guards
	 * off sekisho's own endpoints.
	 */
	char guard_self[6 * CONF_STR_MAX];
};

struct conf_authd {
	char listen[CONF_STR_MAX];     /* ADDR:PORT,... (IPv4 and IPv6 at once) */
	char admin_listen[CONF_STR_MAX]; /* "" = admin pages on listen; else only here */
	char base_url[CONF_STR_MAX];   /* the portal's public URL */
	char user[CONF_STR_MAX];       /* drop to this user after binding, "" = stay */
	char trusted_proxies[CONF_STR_MAX]; /* comma-separated addresses allowed X-Forwarded-For */
	char tls_cert[CONF_PATH_MAX];  /* both set: serve HTTPS */
	char tls_key[CONF_PATH_MAX];
	char web_dir[CONF_PATH_MAX];   /* templates and static files */
	int  max_connections;          /* concurrent HTTP connections */
	int  http_threads;             /* HTTP event threads (0: from the CPUs, authd_init) */
	int  http_workers;             /* threads for requests that may wait (0: authd_init) */
	int  max_connections_per_ip;   /* of those, from one client address */
	int  request_timeout_s;        /* a whole request must arrive within this */
	char tls_priorities[CONF_STR_MAX]; /* GnuTLS priority string of the HTTPS listener */
	int  hsts_max_age;             /* Strict-Transport-Security max-age under HTTPS, 0 = none */
	char monitor_listen[CONF_STR_MAX]; /* /metrics and /healthz, ADDR:PORT */
	int  hash_workers;             /* concurrent password hashes (0 after parsing: one per CPU) */
	int  hash_queue_max;           /* logins waiting for a hash worker */
	int  queue;                    /* the waiting room is on */
	int  queue_max;                /* places per service */
	int  queue_lapse_s;            /* a place unpolled this long lapses */
	int  queue_refresh_s;          /* the waiting page's refresh period */
	int  sweep_interval_s;         /* sweeper period */
	int  ipfd_timeout_ms;          /* wait for ipfd's acknowledgement this long */
	int  code_ttl_s;               /* entry handoff code lifetime */
	int  login_ttl_min;            /* portal/admin login lifetime */
	int  login_idle_min;           /* portal/admin login idle timeout */
	int  throttle_ip_burst;        /* failed logins allowed per client IP before 429 */
	int  throttle_user_burst;      /* failed logins per (account, address or device) */
	int  throttle_account_burst;   /* failed logins per account before unknown sources wait */
	int  throttle_refill_s;        /* one attempt comes back every this many seconds */
	int  throttle_backoff_max_s;   /* the longest backoff */
	int  throttle_checks_per_s;    /* failed password checks per second, all clients */
	int  throttle_known_days;      /* known addresses and device cookies last this long */
	int  max_body;                 /* bytes of a request body */
	int  key_rotate_h;             /* a new cookie key signs every this many hours */
	int  tls_ticket_rotate_min;    /* a new TLS ticket key encrypts every this many minutes */
	int  tls_ticket_previous;      /* previous TLS ticket keys still decrypting */
};

struct conf_ipfd {
	char socket[CONF_PATH_MAX];    /* control socket path */
	char group[CONF_STR_MAX];      /* peers of this group (and root) may talk to ipfd */
	int  hook;                     /* enum conf_hook */
	int  sync_interval_s;          /* periodic full reconcile from the store */
	int  batch_window_us;          /* requests arriving within this window share a batch */
	int  enabled;                  /* authd/sekishoctl require ipfd (fail closed) */
	char captive[CONF_STR_MAX];    /* "name,name": services whose HTTP port redirects the unadmitted */
	int  captive_port;             /* the guarded endpoints' HTTP port the redirect takes */
};

struct conf_cid {
	char listen[CONF_STR_MAX];     /* ADDR:PORT,... */
	char user[CONF_STR_MAX];
	char trusted_proxies[CONF_STR_MAX];
	char host_map[CONF_STR_MAX];   /* "host=service,host=service" when no X-Sekisho-Service */
	char cookie_name[64];
	int  threads;
	int  max_connections;          /* concurrent HTTP connections */
	int  max_connections_per_ip;   /* of those, from one address (trusted proxies exempt) */
	int  request_timeout_s;        /* a whole request must arrive within this */
	char monitor_listen[CONF_STR_MAX]; /* /metrics and /healthz, ADDR:PORT */
	char spoe_listen[CONF_STR_MAX];    /* HAProxy's SPOE agent, ADDR:PORT; "" = off */
	int  bind_ip;                  /* cookie valid only from the admitted client IP */
	int  secure_cookie;            /* 1 Secure always, 0 never, -1 when the request is HTTPS */
	int  touch_interval_ms;        /* last-seen writes are flushed this often */
	int  refresh_ms;               /* rights cache follows the store this often */
	char captive_listen[CONF_STR_MAX]; /* the redirect responder: one ADDR:PORT per family, or "" */
};

/* Where passwords are checked besides sekisho's own table (docs/identity.md). */
struct conf_identity {
	char pam_service[CONF_STR_MAX]; /* PAM service name; "" = no PAM logins */
	char pam_confdir[CONF_PATH_MAX]; /* the PAM stack's directory; "" = /etc/pam.d */
	char ldap_url[CONF_STR_MAX];   /* ldaps://HOST[:PORT] or ldap:// (StartTLS); "" = none */
	char ldap_ca_file[CONF_PATH_MAX]; /* CA certificates the server's is checked against */
	char ldap_bind_dn[CONF_STR_MAX]; /* the search account; "" = anonymous search */
	char ldap_bind_password_file[CONF_PATH_MAX];
	char ldap_user_base[CONF_STR_MAX]; /* where users are searched */
	char ldap_user_attr[CONF_STR_MAX]; /* the attribute holding the login name */
	char ldap_group_base[CONF_STR_MAX]; /* groupOfNames here name sekisho groups; "" = none */
};

struct conf {
	char file[CONF_PATH_MAX];      /* where it was read from */
	int  log_level;
	struct conf_db    db;
	struct conf_authd authd;
	struct conf_identity identity;
	struct conf_ipfd  ipfd;
	struct conf_cid   cid;
};

/* Fills c with every default. */
void conf_defaults(struct conf *c);

/* Reads path over the defaults. 0 on success; -1 with "path:line: why" in err. */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen);
/*
 * Calls fn(arg, entry, ...) on each entry of the comma-separated list v,
 * spaces around entries trimmed; empty entries and more than CONF_LIST_MAX
 * are refused. 0, or -1 with err (the list's or fn's).
 */
int conf_list_each(const char *v, int (*fn)(void *arg, const char *entry, char *err, size_t errlen),
                   void *arg, char *err, size_t errlen);

/* conf_list_each for a listen list: at most CONF_LISTEN_MAX entries. */
int conf_listen_each(const char *v, int (*fn)(void *arg, const char *entry, char *err, size_t errlen),
                     void *arg, char *err, size_t errlen);
/*
 * [cid] captive_listen: at most one address per family, each a concrete
 * address (ipfd sends connections there with DNAT) with a non-zero port.
 * 0 or -1 with err. "" is valid (no responder).
 */
int conf_check_captive_listen(const char *v, char *err, size_t errlen);
/* A list of service names ([ipfd] captive). 0 or -1 with err. */
int conf_check_names(const char *v, char *err, size_t errlen);
/* 1 when name is one of the comma-separated list (names are compared whole). */
int conf_list_has(const char *list, const char *name);
/* 1 when an address of list a is also in list b (both valid; ":0" ports never clash). */
int conf_listens_overlap(const char *a, const char *b);

/*
 * The i-th known "section.key" (for tests that check the example file), NULL
 * past the end. Keys outside any section have no "section." prefix.
 */
const char *conf_key(int i);
/* The i-th key's default as written in the file and its one-line description; -1 past the end. */
int conf_key_info(int i, const char **def, const char **doc);
/* 1 when key full ("section.key") has different values in a and b, 0 when the same, -1: no such key. */
int conf_differs(const char *full, const struct conf *a, const struct conf *b);

/* The programs that read a key, for conf_restart_keys. */
#define CONF_AUTHD 1u
#define CONF_IPFD  2u
#define CONF_CID   4u
/*
 * Writes to out the comma-separated keys that differ between the running
 * config and a new one and that program (CONF_AUTHD, ...) reads only at
 * start; "" when there are none. Every other key it reads applies on SIGHUP.
 * The list is conf_restart.c's table.
 */
void conf_restart_keys(unsigned program, const struct conf *running, const struct conf *fresh,
                       char *out, size_t n);
/* The i-th key of that table, NULL past the end (for tests). */
const char *conf_restart_key(int i);

#endif
