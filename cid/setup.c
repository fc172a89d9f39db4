#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cid.h"

/*
 * Calls fn for each entry of a comma-separated list, spaces around entries
 * trimmed (the syntax conf.c already checked). 0, or -1 with err.
 */
static int
each_entry(const char *v, int (*fn)(struct cid_conf *, const char *, char *, size_t),
           struct cid_conf *cc, char *err, size_t errlen)
{
	char entry[CONF_STR_MAX];
	const char *end;
	size_t len;

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
		memcpy(entry, v, len);
		entry[len] = '\0';
		if (fn(cc, entry, err, errlen) == -1)
			return -1;
		if (end == NULL)
			break;
		v = end + 1;
	}
	return 0;
}

static int
add_mapping(struct cid_conf *cc, const char *e, char *err, size_t errlen)
{
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
	if (each_entry(c->cid.host_map, add_mapping, cc, err, errlen) == -1)
		return -1;
	snprintf(cc->cookie, sizeof cc->cookie, "%s", c->cid.cookie_name);
	cc->bind_ip = c->cid.bind_ip;
	cc->secure = c->cid.secure_cookie;
	snprintf(cc->portal, sizeof cc->portal, "%s", c->authd.base_url);
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
