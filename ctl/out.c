#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"

#define OUT_MAX (64u << 20)

void
ctl_out_init(struct out *o, int json)
{
	buf_init(&o->b, OUT_MAX);
	o->json = json;
	o->depth = 0;
	o->items[0] = 0;
}

int
ctl_out_flush(struct out *o)
{
	int rc = CTL_OK;

	if (o->json)
		buf_puts(&o->b, "\n");
	if (buf_failed(&o->b))
		rc = ctl_fail("output larger than %u bytes", OUT_MAX);
	else if (o->b.len > 0 && fwrite(o->b.p, 1, o->b.len, stdout) != o->b.len)
		rc = ctl_fail("cannot write output");
	else if (fflush(stdout) != 0)
		rc = ctl_fail("cannot write output");
	buf_free(&o->b);
	return rc;
}

void
ctl_out_text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&o->b, fmt, ap);
	va_end(ap);
}

/* The comma before every value but the first of its level, then "key": when given. */
static void
ctl_json_prefix(struct out *o, const char *key)
{
	if (o->items[o->depth]++ > 0)
		buf_puts(&o->b, ",");
	if (key != NULL) {
		buf_json(&o->b, key);
		buf_puts(&o->b, ":");
	}
}

static void
ctl_json_open(struct out *o, const char *key, const char *open)
{
	ctl_json_prefix(o, key);
	buf_puts(&o->b, open);
	if (o->depth + 1 < (int)(sizeof o->items / sizeof o->items[0]))
		o->depth++;
	o->items[o->depth] = 0;
}

void
ctl_json_obj(struct out *o, const char *key)
{
	ctl_json_open(o, key, "{");
}

void
ctl_json_arr(struct out *o, const char *key)
{
	ctl_json_open(o, key, "[");
}

void
ctl_json_end(struct out *o, char close)
{
	if (o->depth > 0)
		o->depth--;
	buf_add(&o->b, &close, 1);
}

void
ctl_json_str(struct out *o, const char *key, const char *v)
{
	ctl_json_prefix(o, key);
	buf_json(&o->b, v ? v : "");
}

void
ctl_json_int(struct out *o, const char *key, long long v)
{
	ctl_json_prefix(o, key);
	buf_printf(&o->b, "%lld", v);
}

void
ctl_json_bool(struct out *o, const char *key, int v)
{
	ctl_json_prefix(o, key);
	buf_puts(&o->b, v ? "true" : "false");
}
