#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cid.h"

static int
add_mapping(void *arg, const char *e, char *err, size_t errlen)
{
	struct cid_conf *cc = arg;
	const char *eq = strchr(e, '=');
	struct cid_hostmap *m;
	size_t hl;

	if (cc->n_map == CONF_LIST_MAX || eq == NULL)
		goto bad;
	hl = (size_t)(eq - e);
	if (hl == 0 || hl > CID_HOST_MAX || !name_valid(eq + 1))
		goto bad;
	m = &cc->map[cc->n_map++];
	memcpy(m->host, e, hl);
	m->host[hl] = '\0';
	snprintf(m->service, sizeof m->service, "%s", eq + 1);
	return 0;
bad:
	snprintf(err, errlen, "cid.host_map: bad entry \"%s\"", e);
	return -1;
}

int
cid_conf_build(const struct conf *c, struct cid_conf *cc, char *err, size_t errlen)
{
	memset(cc, 0, sizeof *cc);
	if (addr_parse_list(c->cid.trusted_proxies, cc->proxies, CONF_LIST_MAX,
	                    &cc->n_proxies) == -1) {
		snprintf(err, errlen, "cid.trusted_proxies: not a list of addresses");
		return -1;
	}
	if (conf_list_each(c->cid.host_map, add_mapping, cc, err, errlen) == -1)
		return -1;
	snprintf(cc->cookie, sizeof cc->cookie, "%s", c->cid.cookie_name);
	cc->bind_ip = c->cid.bind_ip;
	cc->secure = c->cid.secure_cookie;
	snprintf(cc->portal, sizeof cc->portal, "%s", c->authd.base_url);
	snprintf(cc->captive, sizeof cc->captive, "%s", c->ipfd.captive);
	cc->captive_port = c->ipfd.captive_port;
	return 0;
}

int
cid_trusted(const struct cid_conf *cc, const struct addr *a)
{
	return addr_in(a, cc->proxies, cc->n_proxies);
}

static const char *
host_lookup(const struct cid_conf *cc, const char *host, size_t len)
{
	for (int i = 0; i < cc->n_map; i++)
		if (strlen(cc->map[i].host) == len && strncasecmp(cc->map[i].host, host, len) == 0)
			return cc->map[i].service;
	return NULL;
}

const char *
cid_host_service(const struct cid_conf *cc, const char *host)
{
	const char *svc, *colon;
	size_t len;

	if (host == NULL || (len = strnlen(host, CID_HOST_MAX + 1)) > CID_HOST_MAX)
		return NULL;
	if ((svc = host_lookup(cc, host, len)) != NULL)
		return svc;
	colon = strrchr(host, ':');
	if (colon == NULL || strchr(colon, ']') != NULL)
		return NULL;
	return host_lookup(cc, host, (size_t)(colon - host));
}
