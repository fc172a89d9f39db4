#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cid.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "tmpl.h"

/*
 * cid: binds, drops privileges, then follows the store. Until the first
 * snapshot succeeds every check answers 503: nothing passes without a
 * verified, live right.
 */

static struct conf conf;
static struct cid cid;

/* Checked before "-n" answers ok, as before a start. */
static int
startup_check(const struct conf *c, char *err, size_t errlen)
{
	struct cid_conf cc;

	return cid_conf_build(c, &cc, err, errlen);
}

/*
 * A writer waits for the requests being answered, and requests that come
 * after it wait for it: a steady stream of checks cannot hold off a reload.
 */
static void
live_lock_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cid.live_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

#define MONITOR_CONNS 16          /* connections of the monitor listener */

/* The service-side listeners; the trusted proxies carry many clients: no per-address limit. */
static void
listen_http(struct http_servers *srv)
{
	struct http_opts ho;
	char err[512];

	memset(&ho, 0, sizeof ho);
	ho.name = "cid";
	ho.listen = conf.cid.listen;
	ho.threads = conf.cid.threads;
	ho.max_body = 0;
	ho.max_conns = conf.cid.max_connections;
	ho.per_ip_max = conf.cid.max_connections_per_ip;
	ho.request_timeout_s = conf.cid.request_timeout_s;
	ho.exempt = cid.cc.proxies;
	ho.n_exempt = cid.cc.n_proxies;
	ho.access_log = conf.log_level >= LOG_DEBUG;
	if (http_start_list(&ho, conf.cid.listen, cid_handle, &cid, srv, err, sizeof err) == -1)
		fatal("listen: %s", err);
}

/* The captive redirect responder, when [cid] captive_listen names its addresses. */
static void
listen_captive(struct http_servers *srv)
{
	struct http_opts ho;
	char err[512];

	memset(srv, 0, sizeof *srv);
	if (conf.cid.captive_listen[0] == '\0')
		return;
	memset(&ho, 0, sizeof ho);
	ho.name = "cid-captive";
	ho.threads = 1;
	ho.max_body = 0;
	ho.max_conns = conf.cid.max_connections;
	ho.per_ip_max = conf.cid.max_connections_per_ip;
	ho.request_timeout_s = conf.cid.request_timeout_s;
	ho.access_log = conf.log_level >= LOG_DEBUG;
	if (http_start_list(&ho, conf.cid.captive_listen, cid_handle_captive, &cid, srv, err,
	                    sizeof err) == -1)
		fatal("captive_listen: %s", err);
}

/* /metrics and /healthz on their own address (loopback by default). */
static struct http_server *
listen_monitor(void)
{
	struct http_opts ho;
	struct http_server *srv;
	char err[256];

	memset(&ho, 0, sizeof ho);
	ho.name = "cid-monitor";
	ho.listen = conf.cid.monitor_listen;
	ho.threads = 1;
	ho.max_conns = MONITOR_CONNS;
	ho.per_ip_max = MONITOR_CONNS;
	ho.request_timeout_s = conf.cid.request_timeout_s;
	ho.access_log = conf.log_level >= LOG_DEBUG;
	if ((srv = http_start(&ho, cid_handle_monitor, &cid, err, sizeof err)) == NULL)
		fatal("monitor_listen: %s", err);
	return srv;
}

/* cid's pages without templates or stylesheet are plain text or unstyled: a warning, not an error. */
static void
load_templates(const struct conf *c, struct tmpl_set **tmpl, char **css, size_t *css_len)
{
	char err[512];

	*css = NULL;
	*css_len = 0;
	if ((*tmpl = tmpl_load(c->authd.web_dir, err, sizeof err)) == NULL)
		log_warn("event=templates error=\"%s\" effect=\"error pages in plain text\"", err);
	else if ((*css = tmpl_load_css(c->authd.web_dir, css_len, err, sizeof err)) == NULL)
		log_warn("event=templates error=\"%s\" effect=\"pages without style\"", err);
}

/*
 * SIGHUP: the config file again. host_map, trusted proxies, the cookie's
 * settings, the portal's URL, templates and log level apply now; keys read
 * only at start are named. Either way serve() then asks the follower for a
 * full reload from the store.
 */
static void
reload(void)
{
	struct conf c;
	struct cid_conf cc;
	struct tmpl_set *tmpl, *old_tmpl;
	char err[512], *css, *old_css;
	size_t css_len;

	if (daemon_reread(CONF_CID, &conf, &c) == -1)
		return;
	if (cid_conf_build(&c, &cc, err, sizeof err) == -1) {
		log_err("event=reload result=failed file=%s error=\"%s\" effect=kept_old_config", c.file,
		        err);
		return;
	}
	load_templates(&c, &tmpl, &css, &css_len);
	pthread_rwlock_wrlock(&cid.live_lock);
	old_tmpl = cid.tmpl;
	old_css = cid.css;
	cid.cc = cc;
	cid.tmpl = tmpl;
	cid.css = css;
	cid.css_len = css_len;
	pthread_rwlock_unlock(&cid.live_lock);
	tmpl_free(old_tmpl);
	free(old_css);
	log_set_level(c.log_level);
	log_info("event=reload result=ok file=%s host_map=%d trusted_proxies=%d "
	         "effect=\"full reload from the store\"", c.file, cc.n_map, cc.n_proxies);
}

static void
serve(const sigset_t *waitmask)
{
	while (!daemon_stop) {
		sigsuspend(waitmask);
		if (daemon_reload) {
			daemon_reload = 0;
			reload();
			follow_request_snapshot(&cid.follower);
		}
	}
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	struct http_servers srv, captive;
	struct http_server *mon;
	struct spoe_agent *spoe = NULL;
	sigset_t waitmask;
	char err[256], ports[64];

	daemon_start_check("cid", argc, argv, &o, &conf, startup_check);
	cid.conf = &conf;
	if (cid_conf_build(&conf, &cid.cc, err, sizeof err) == -1)
		fatal("%s", err);
	live_lock_init();
	daemon_signals(&waitmask);
	if (cache_init(&cid.cache, conf.cid.refresh_ms * 4 > CID_STALE_MIN_MS ?
	                           conf.cid.refresh_ms * 4 : CID_STALE_MIN_MS) == -1)
		fatal("out of memory");
	load_templates(&conf, &cid.tmpl, &cid.css, &cid.css_len);
	listen_http(&srv);
	listen_captive(&captive);
	mon = listen_monitor();
	if (conf.cid.spoe_listen[0] != '\0' &&
	    (spoe = spoe_agent_listen(conf.cid.spoe_listen, err, sizeof err)) == NULL)
		fatal("%s", err);
	if (daemon_drop_privileges(conf.cid.user, err, sizeof err) == -1)
		fatal("%s", err);
	if ((cid.pool = pool_new(&conf)) == NULL)
		fatal("out of memory");
	cid.cache.reread = pool_reread;
	cid.cache.reread_arg = cid.pool;
	if (follow_start(&cid.follower, &cid.cache, &conf) == -1 ||
	    touch_start(&cid.toucher, &cid.cache, &conf) == -1)
		fatal("cannot start threads");
	if (spoe != NULL && spoe_agent_start(spoe, &cid) == -1)
		fatal("cannot start the SPOE agent");
	http_ports_str(&srv, ports, sizeof ports);
	log_info("event=start listen=%s port=%s captive=%s monitor=%s monitor_port=%d spoe=%s "
	         "threads=%d bind_ip=%s", conf.cid.listen, ports,
	         conf.cid.captive_listen[0] ? conf.cid.captive_listen : "-", conf.cid.monitor_listen,
	         http_port(mon), spoe != NULL ? conf.cid.spoe_listen : "off", conf.cid.threads,
	         conf.cid.bind_ip ? "on" : "off");
	if (cid.cc.n_proxies == 0)
		log_warn("event=config note=\"cid.trusted_proxies is empty: /_sekisho/auth answers "
		         "nobody (403)\"");
	serve(&waitmask);
	log_info("event=stop");
	http_stop_list(&srv);
	http_stop_list(&captive);
	http_stop(mon);
	spoe_agent_stop(spoe);
	follow_stop(&cid.follower);
	touch_stop(&cid.toucher);
	dbpool_free(cid.pool);
	tmpl_free(cid.tmpl);
	free(cid.css);
	cache_destroy(&cid.cache);
	return 0;
}
