#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "conf.h"
#include "store.h"

/* The listen lists ([authd] listen, admin_listen, [cid] listen, captive_listen) and name lists. */

struct listen_count {
	int n;
	int (*fn)(void *, const char *, char *, size_t);
	void *arg;
};

static int
listen_count_one(void *arg, const char *e, char *err, size_t errlen)
{
	struct listen_count *lc = arg;

	if (++lc->n > CONF_LISTEN_MAX) {
		snprintf(err, errlen, "more than %d listen addresses", CONF_LISTEN_MAX);
		return -1;
	}
	return lc->fn(lc->arg, e, err, errlen);
}

int
conf_listen_each(const char *v, int (*fn)(void *, const char *, char *, size_t), void *arg,
                 char *err, size_t errlen)
{
	struct listen_count lc = { 0, fn, arg };

	return conf_list_each(v, listen_count_one, &lc, err, errlen);
}

struct listen_find {
	const char *want;
	int found;
};

static int
listen_find_one(void *arg, const char *e, char *err, size_t errlen)
{
	struct listen_find *f = arg;
	size_t n = strlen(e);

	(void)err;
	(void)errlen;
	/* Port 0 (tests) binds a fresh port each time: never a clash. */
	if (strcmp(e, f->want) == 0 && !(n >= 2 && strcmp(e + n - 2, ":0") == 0))
		f->found = 1;
	return 0;
}

/* 1 when one address of list a is also in list b (both already checked). */
int
conf_listens_overlap(const char *a, const char *b)
{
	char one[CONF_STR_MAX], err[128];
	struct listen_find f;
	const char *p = a, *end;
	size_t len;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		snprintf(one, sizeof one, "%.*s", (int)len, p);
		f = (struct listen_find){ one, 0 };
		conf_list_each(b, listen_find_one, &f, err, sizeof err);
		if (f.found)
			return 1;
		p = end ? end + 1 : p + strlen(p);
	}
	return 0;
}

struct captive_seen {
	int v4, v6;
};

static int
captive_one(void *arg, const char *e, char *err, size_t errlen)
{
	static const uint8_t any[16];
	struct captive_seen *seen = arg;
	struct sockaddr_storage ss;
	struct addr a;
	socklen_t sl;
	int *n;

	if (addr_parse_listen(e, &ss, &sl) == -1 || addr_from_sockaddr((struct sockaddr *)&ss, &a) == -1) {
		snprintf(err, errlen, "\"%s\": want ADDR:PORT or [V6]:PORT with a literal address", e);
		return -1;
	}
	if (memcmp(a.bytes, any, addr_len(&a)) == 0 ||
	    (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	                               ((struct sockaddr_in6 *)&ss)->sin6_port) == 0) {
		snprintf(err, errlen, "\"%s\": the redirect target needs a concrete address and port", e);
		return -1;
	}
	n = a.family == AF_INET ? &seen->v4 : &seen->v6;
	if (++*n > 1) {
		snprintf(err, errlen, "one captive_listen address per address family");
		return -1;
	}
	return 0;
}

int
conf_check_captive_listen(const char *v, char *err, size_t errlen)
{
	struct captive_seen seen = { 0, 0 };

	return conf_listen_each(v, captive_one, &seen, err, errlen);
}

static int
name_one(void *arg, const char *e, char *err, size_t errlen)
{
	(void)arg;
	if (name_valid(e))
		return 0;
	snprintf(err, errlen, "\"%s\" is not a service name", e);
	return -1;
}

int
conf_check_names(const char *v, char *err, size_t errlen)
{
	return conf_list_each(v, name_one, NULL, err, errlen);
}

struct name_find {
	const char *want;
	int found;
};

static int
name_find_one(void *arg, const char *e, char *err, size_t errlen)
{
	struct name_find *f = arg;

	(void)err;
	(void)errlen;
	if (strcmp(e, f->want) == 0)
		f->found = 1;
	return 0;
}

int
conf_list_has(const char *list, const char *name)
{
	struct name_find f = { name, 0 };
	char err[64];

	conf_list_each(list, name_find_one, &f, err, sizeof err);
	return f.found;
}
