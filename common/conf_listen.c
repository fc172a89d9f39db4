#include <stdio.h>
#include <string.h>

#include "conf.h"

/* The listen lists: [authd] listen, admin_listen and [cid] listen. */

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
