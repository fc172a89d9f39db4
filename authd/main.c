#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd.h"
#include "addr.h"
#include "daemon.h"
#include "http.h"
#include "log.h"

#define STOP_GRACE_MS 10000       /* longest wait for requests in flight at SIGTERM */
#define MALLOC_MMAP_MIN (64 << 20) /* blocks this large or larger come from mmap */

/* Fails closed at start: a store this build cannot use is an error, not a degraded mode. */
static int
check_store(struct authd *a, char *err, size_t errlen)
{
	struct store *st = dbpool_get(a->pool, err, errlen);

	if (st == NULL)
		return -1;
	dbpool_put(a->pool, st, 0);
	return 0;
}

#define MONITOR_CONNS 16          /* connections of the monitor listener */

static struct addr proxies[CONF_LIST_MAX];

/* The portal's listener as configured; o keeps pointers into c. */
static int
portal_opts(const struct conf *c, int threads, struct http_opts *o, char *err, size_t errlen)
{
	int n = 0;

	memset(o, 0, sizeof *o);
	if (addr_parse_list(c->authd.trusted_proxies, proxies, CONF_LIST_MAX, &n) == -1) {
		snprintf(err, errlen, "authd.trusted_proxies: not a list of addresses");
		return -1;
	}
	o->name = "authd";
	o->listen = c->authd.listen;
	o->max_conns = c->authd.max_connections;
	/* Event threads that never wait (authd.h, the contract of the HTTP threads);
	 * MHD shares max_conns among the threads, so never more threads than it. */
	o->threads = threads < o->max_conns ? threads : o->max_conns;
	o->per_ip_max = c->authd.max_connections_per_ip;
	o->request_timeout_s = c->authd.request_timeout_s;
	o->exempt = proxies;        /* a proxy's connections carry many clients */
	o->n_exempt = n;
	o->max_body = (size_t)c->authd.max_body;
	o->tls_cert = c->authd.tls_cert;
	o->tls_key = c->authd.tls_key;
	o->tls_priorities = c->authd.tls_priorities;
	o->hsts_max_age = c->authd.hsts_max_age;
	o->access_log = 1;
	return 0;
}

/* "-n" and start: the views load and HTTPS (key mode, priorities) can be served. */
static int
startup_check(const struct conf *c, char *err, size_t errlen)
{
	struct http_opts o;

	if (view_check(c, err, errlen) == -1 || portal_opts(c, 1, &o, err, errlen) == -1)
		return -1;
	return http_tls_check(&o, err, errlen);
}

/* The portal's listeners, and the admin pages' own when admin_listen is set. */
static int
start_http(struct authd *a, struct http_servers *portal, struct http_servers *admin,
           char *err, size_t errlen)
{
	struct http_opts o;

	memset(admin, 0, sizeof *admin);
	if (portal_opts(&a->boot, a->http_threads, &o, err, errlen) == -1)
		return -1;
	if ((a->workers = http_pool_start(a->http_workers_min, a->http_workers, err, errlen)) == NULL)
		return -1;
	o.pool = a->workers;
	if (http_start_list(&o, a->boot.authd.listen, route_dispatch, a, portal, err, errlen) == -1)
		goto fail;
	if (a->boot.authd.admin_listen[0] == '\0')
		return 0;
	o.name = "authd-admin";
	if (http_start_list(&o, a->boot.authd.admin_listen, route_admin, a, admin, err,
	                    errlen) == -1) {
		http_stop_list(portal);
		goto fail;
	}
	return 0;
fail:
	http_pool_stop(a->workers);
	a->workers = NULL;
	return -1;
}

/* /metrics and /healthz, plain HTTP, on their own address (loopback by default). */
static struct http_server *
start_monitor(struct authd *a, char *err, size_t errlen)
{
	struct http_opts o;

	memset(&o, 0, sizeof o);
	o.name = "authd-monitor";
	o.listen = a->boot.authd.monitor_listen;
	o.threads = 0;
	o.max_conns = MONITOR_CONNS;
	o.per_ip_max = MONITOR_CONNS;
	o.request_timeout_s = a->boot.authd.request_timeout_s;
	o.max_body = 0;
	return http_start(&o, route_monitor, a, err, errlen);
}

/* Waits until no request is being answered (or the grace period ends). */
static void
drain(struct authd *a)
{
	struct timespec tick = { 0, 20 * 1000000 };

	atomic_store(&a->stopping, 1);
	for (int ms = 0; ms < STOP_GRACE_MS && atomic_load(&a->inflight) > 0; ms += 20)
		nanosleep(&tick, NULL);
	tick.tv_nsec = 100 * 1000000;   /* let the last answers leave */
	nanosleep(&tick, NULL);
}

static void
serve_until_stopped(struct authd *a, const sigset_t *waitmask)
{
	while (!daemon_stop) {
		if (daemon_reload) {
			daemon_reload = 0;
			authd_reload(a);
			continue;
		}
		sigsuspend(waitmask);
	}
}

int
main(int argc, char **argv)
{
	static struct authd a;
	struct daemon_opts o;
	struct http_servers srv, adm;
	struct http_server *mon;
	sigset_t waitmask;
	struct conf c;
	char err[512], ports[64], admin_ports[64];

	daemon_start_check("authd", argc, argv, &o, &c, startup_check);
	/*
	 * A password hash allocates 32 MiB. Served from the heap instead of a
	 * fresh mmap, a hash worker reuses the pages it already touched: 15-20% less
	 * CPU per login than faulting in zeroed memory every time.
	 */
	mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_MIN);
	mallopt(M_TRIM_THRESHOLD, 2 * MALLOC_MMAP_MIN);
	daemon_signals(&waitmask);
	if (authd_init(&a, &c, err, sizeof err) == -1)
		fatal("%s", err);
	if (start_http(&a, &srv, &adm, err, sizeof err) == -1)
		fatal("listen: %s", err);
	if ((mon = start_monitor(&a, err, sizeof err)) == NULL)
		fatal("monitor_listen: %s", err);
	if (daemon_drop_privileges(c.authd.user, err, sizeof err) == -1)
		fatal("%s", err);
	if (check_store(&a, err, sizeof err) == -1)
		fatal("store: %s", err);
	if ((a.sweeper = sweeper_start(&a, err, sizeof err)) == NULL)
		fatal("%s", err);
	if ((a.prober = prober_start(&a, err, sizeof err)) == NULL)
		fatal("%s", err);
	http_ports_str(&srv, ports, sizeof ports);
	http_ports_str(&adm, admin_ports, sizeof admin_ports);
	log_info("event=start listen=%s port=%s admin_listen=%s admin_port=%s monitor=%s "
	         "monitor_port=%d ipfd=%s hash_workers=%d http_threads=%d http_workers=%d "
	         "line_direct=%d", c.authd.listen, ports,
	         c.authd.admin_listen[0] ? c.authd.admin_listen : "-", admin_ports[0] ? admin_ports : "-",
	         c.authd.monitor_listen, http_port(mon),
	         c.ipfd.enabled ? c.ipfd.socket : "off", a.hash_workers, a.http_threads,
	         a.http_workers, a.line_direct);
	serve_until_stopped(&a, &waitmask);
	log_info("event=stopping inflight=%d", atomic_load(&a.inflight));
	drain(&a);
	prober_stop(a.prober);
	sweeper_stop(a.sweeper);
	http_stop_list(&srv);
	http_stop_list(&adm);
	http_pool_stop(a.workers);
	http_stop(mon);
	authd_fini(&a);
	log_info("event=stop");
	return 0;
}
