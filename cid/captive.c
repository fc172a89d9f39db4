#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cid.h"
#include "http.h"
#include "log.h"

/*
 * The captive-portal redirect responder. It parses nothing of the request
 * but what the HTTP layer already checked: the answer depends only on where
 * the connection was going (the guarded endpoint ipfd redirected) and is
 * the same for every path, so a browser that opened any page of the service
 * before logging in lands on the portal with the service chosen.
 */

/* The captive service with a guard on addr:port (a guard without a port counts); "" if none. */
static void
service_by_guard(struct cid *cid, const struct addr *a, uint16_t port, char *name, size_t n)
{
	const struct cache_data *d = &cid->cache.d;

	name[0] = '\0';
	cache_rdlock(&cid->cache);
	for (int i = 0; cache_usable_locked(&cid->cache) && i < d->n_svcs && name[0] == '\0'; i++) {
		const struct cache_service *s = &d->svcs[i];

		if (!conf_list_has(cid->cc.captive, s->name))
			continue;
		for (int k = 0; k < s->n_guards; k++)
			if (addr_eq(&s->guards[k].addr, a) &&
			    (s->guards[k].port == 0 || s->guards[k].port == port)) {
				snprintf(name, n, "%s", s->name);
				break;
			}
	}
	cache_unlock(&cid->cache);
}

/* The original destination's address and port; -1 when the kernel cannot say. */
static int
original_dst(struct http_req *r, struct addr *a, uint16_t *port)
{
	struct sockaddr_storage ss;

	if (http_original_dst(r, &ss) == -1 || addr_from_sockaddr((struct sockaddr *)&ss, a) == -1)
		return -1;
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	                                         ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void
cid_handle_captive(struct http_req *r, void *arg)
{
	static const char body[] = "This service needs a login first: see the Location.\n";
	char name[NAME_MAX_LEN + 1] = "", url[CONF_STR_MAX + NAME_MAX_LEN + 16];
	char dst[ADDR_STR_MAX] = "-";
	struct cid *cid = arg;
	struct addr a;
	uint16_t port = 0;

	pthread_rwlock_rdlock(&cid->live_lock);
	if (original_dst(r, &a, &port) == 0) {
		service_by_guard(cid, &a, port, name, sizeof name);
		addr_str(&a, dst, sizeof dst);
	}
	cid_portal_url(cid, name[0] ? name : NULL, url, sizeof url);
	pthread_rwlock_unlock(&cid->live_lock);
	http_log_kv(r, "captive_dst=%s:%u service=%s", dst, (unsigned)port, name[0] ? name : "-");
	http_add_header(r, "Location", url);
	http_add_header(r, "Cache-Control", "no-store");
	http_reply(r, 302, "text/plain; charset=utf-8", body, sizeof body - 1);
}
