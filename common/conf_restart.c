#include <stdio.h>
#include <string.h>

#include "conf.h"

/*
 * The keys a program reads only at start: what it binds, the account it
 * becomes, the store it opens, the threads and connections it makes. A new
 * value waits for a restart of the programs named; SIGHUP says which keys.
 * trusted_proxies is half of each: whose X-Forwarded-For is believed changes
 * on SIGHUP, whose connections skip the per-address limit at a restart.
 */
static const struct {
	const char *key;
	unsigned programs;
} conf_restart[] = {
	{ "db.path", CONF_AUTHD | CONF_IPFD | CONF_CID },
	{ "db.url", CONF_AUTHD | CONF_IPFD | CONF_CID },
	{ "db.busy_timeout_ms", CONF_AUTHD | CONF_IPFD | CONF_CID },
	{ "db.pool_size", CONF_AUTHD },
	{ "authd.listen", CONF_AUTHD },
	{ "authd.admin_listen", CONF_AUTHD },
	{ "authd.user", CONF_AUTHD },
	{ "authd.tls_cert", CONF_AUTHD },
	{ "authd.tls_key", CONF_AUTHD },
	{ "authd.max_connections", CONF_AUTHD },
	{ "authd.max_body", CONF_AUTHD },
	{ "authd.hash_workers", CONF_AUTHD },
	{ "authd.hash_queue_max", CONF_AUTHD },
	{ "authd.monitor_listen", CONF_AUTHD },
	{ "authd.max_connections_per_ip", CONF_AUTHD },
	{ "authd.http_threads", CONF_AUTHD },
	{ "authd.http_workers", CONF_AUTHD },
	{ "authd.request_timeout_s", CONF_AUTHD },
	{ "authd.tls_priorities", CONF_AUTHD },
	{ "authd.hsts_max_age", CONF_AUTHD },
	{ "authd.trusted_proxies", CONF_AUTHD },
	{ "ipfd.socket", CONF_AUTHD | CONF_IPFD },
	{ "ipfd.group", CONF_IPFD },
	{ "ipfd.enabled", CONF_AUTHD },
	{ "cid.listen", CONF_CID },
	{ "cid.user", CONF_CID },
	{ "cid.threads", CONF_CID },
	{ "cid.monitor_listen", CONF_CID },
	{ "cid.spoe_listen", CONF_CID },
	{ "cid.max_connections", CONF_CID },
	{ "cid.max_connections_per_ip", CONF_CID },
	{ "cid.request_timeout_s", CONF_CID },
	{ "cid.trusted_proxies", CONF_CID },
	{ "cid.touch_interval_ms", CONF_CID },
	{ "cid.refresh_ms", CONF_CID },
	{ "cid.captive_listen", CONF_CID },
};

#define N_RESTART ((int)(sizeof conf_restart / sizeof conf_restart[0]))

const char *
conf_restart_key(int i)
{
	return i >= 0 && i < N_RESTART ? conf_restart[i].key : NULL;
}

void
conf_restart_keys(unsigned program, const struct conf *running, const struct conf *fresh,
                  char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < N_RESTART; i++) {
		if (!(conf_restart[i].programs & program) ||
		    conf_differs(conf_restart[i].key, running, fresh) != 1)
			continue;
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? "," : "",
		                        conf_restart[i].key);
		if (len >= n) {
			out[n - 1] = '\0';
			return;
		}
	}
}
