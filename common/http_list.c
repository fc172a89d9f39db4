#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "http.h"

/* Several listeners of one kind: http_start() once per listen address. */

_Static_assert(HTTP_LISTEN_MAX == CONF_LISTEN_MAX, "a listen list fits http_servers");

struct start_one {
	const struct http_opts *o;
	http_handler fn;
	void *arg;
	struct http_servers *out;
};

static int
start_one(void *arg, const char *addr, char *err, size_t errlen)
{
	struct start_one *so = arg;
	struct http_opts o = *so->o;
	char why[256];

	if (so->out->n >= HTTP_LISTEN_MAX) {
		snprintf(err, errlen, "more than %d listen addresses", HTTP_LISTEN_MAX);
		return -1;
	}
	o.listen = addr;
	so->out->s[so->out->n] = http_start(&o, so->fn, so->arg, why, sizeof why);
	if (so->out->s[so->out->n] == NULL) {
		snprintf(err, errlen, "%s: %s", addr, why);
		return -1;
	}
	so->out->n++;
	return 0;
}

int
http_start_list(const struct http_opts *o, const char *list, http_handler fn, void *arg,
                struct http_servers *out, char *err, size_t errlen)
{
	struct start_one so = { o, fn, arg, out };

	memset(out, 0, sizeof *out);
	if (conf_listen_each(list, start_one, &so, err, errlen) == -1) {
		http_stop_list(out);
		return -1;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "no listen address");
		return -1;
	}
	return 0;
}

void
http_stop_list(struct http_servers *l)
{
	for (int i = 0; i < l->n; i++)
		http_stop(l->s[i]);
	memset(l, 0, sizeof *l);
}

void
http_ports_str(const struct http_servers *l, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < l->n && len < n; i++) {
		int w = snprintf(out + len, n - len, "%s%d", i ? "," : "", http_port(l->s[i]));

		if (w < 0)
			return;
		len += (size_t)w;
	}
}
