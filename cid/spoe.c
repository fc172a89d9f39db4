#include <string.h>

#include "spoe.h"

/*
 * The SPOP frame codec (see spoe.h). Pure functions over byte ranges: no
 * I/O, no allocation, so the unit test and the fuzz target reach all of it.
 */

#define VARINT_ONE_BYTE 240      /* values below are one byte as they are */

int
spoe_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x, add;
	unsigned shift = 4;
	uint8_t b;

	if (*p >= end)
		return -1;
	x = *(*p)++;
	if (x < VARINT_ONE_BYTE) {
		*v = x;
		return 0;
	}
	do {
		if (*p >= end || shift >= 64)
			return -1;
		b = *(*p)++;
		if ((uint64_t)b > UINT64_MAX >> shift)
			return -1;
		add = (uint64_t)b << shift;
		if (x > UINT64_MAX - add)
			return -1;
		x += add;
		shift += 7;
	} while (b >= 128);
	*v = x;
	return 0;
}

size_t
spoe_varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	if (v < VARINT_ONE_BYTE) {
		out[0] = (uint8_t)v;
		return 1;
	}
	out[n++] = (uint8_t)v | 0xf0;
	v = (v - VARINT_ONE_BYTE) >> 4;
	while (v >= 128) {
		out[n++] = (uint8_t)v | 0x80;
		v = (v - 128) >> 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

/* A varint length and that many bytes, all inside [*p, end). */
static int
bytes_get(const uint8_t **p, const uint8_t *end, const uint8_t **s, size_t *len)
{
	uint64_t n;

	if (spoe_varint_get(p, end, &n) == -1 || n > (uint64_t)(end - *p))
		return -1;
	*s = *p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

static int
fixed_get(const uint8_t **p, const uint8_t *end, uint8_t *out, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -1;
	memcpy(out, *p, n);
	*p += n;
	return 0;
}

int
spoe_value_get(const uint8_t **p, const uint8_t *end, struct spoe_value *v)
{
	uint8_t t;

	memset(v, 0, sizeof *v);
	if (*p >= end)
		return -1;
	t = *(*p)++;
	v->type = t & 0x0f;
	switch (v->type) {
	case SPOE_NULL:
		return 0;
	case SPOE_BOOL:
		v->boolean = (t & SPOE_BOOL_TRUE) != 0;
		return 0;
	case SPOE_INT32:
	case SPOE_INT64:
		if (spoe_varint_get(p, end, &v->u) == -1)
			return -1;
		v->i = (int64_t)v->u;
		return v->type == SPOE_INT32 && (v->i < INT32_MIN || v->i > INT32_MAX) ? -1 : 0;
	case SPOE_UINT32:
	case SPOE_UINT64:
		if (spoe_varint_get(p, end, &v->u) == -1)
			return -1;
		return v->type == SPOE_UINT32 && v->u > UINT32_MAX ? -1 : 0;
	case SPOE_IPV4:
		return fixed_get(p, end, v->ip, 4);
	case SPOE_IPV6:
		return fixed_get(p, end, v->ip, 16);
	case SPOE_STRING:
	case SPOE_BINARY:
		return bytes_get(p, end, &v->s, &v->len);
	default:
		return -1;
	}
}

int
spoe_frame_parse(const uint8_t *buf, size_t len, struct spoe_frame *f, const char **why)
{
	const uint8_t *p = buf, *end = buf + len;

	memset(f, 0, sizeof *f);
	if (len < 7) {
		*why = "frame shorter than its metadata";
		return -1;
	}
	f->type = *p++;
	f->flags = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	p += 4;
	if (spoe_varint_get(&p, end, &f->stream_id) == -1 ||
	    spoe_varint_get(&p, end, &f->frame_id) == -1) {
		*why = "malformed stream-id or frame-id";
		return -1;
	}
	if (f->type != SPOE_HAPROXY_HELLO && f->type != SPOE_HAPROXY_DISCONNECT &&
	    f->type != SPOE_NOTIFY) {
		*why = "not a frame type HAProxy sends";
		return -1;
	}
	f->payload = p;
	f->len = (size_t)(end - p);
	return 0;
}

int
spoe_name_is(const uint8_t *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

/* Whether a comma-separated version list has one of major version 2. */
static int
versions_ok(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == ','))
			i++;
		if (len - i >= 2 && s[i] == '2' && s[i + 1] == '.')
			return 1;
		while (i < len && s[i] != ',')
			i++;
	}
	return 0;
}

/* The frame size HAProxy offers, from any unsigned or non-negative integer type. */
static int
frame_size(const struct spoe_value *v, uint32_t *out)
{
	if ((v->type == SPOE_UINT32 || v->type == SPOE_UINT64) && v->u <= UINT32_MAX)
		*out = (uint32_t)v->u;
	else if ((v->type == SPOE_INT32 || v->type == SPOE_INT64) && v->i >= 0 && v->i <= UINT32_MAX)
		*out = (uint32_t)v->i;
	else
		return -1;
	return 0;
}

enum { HAS_VERSION = 1, HAS_FRAME = 2, HAS_CAPS = 4 };

/* One KV of the HELLO into h; the HAS_ bit it supplied (0 for others), or -1. */
static int
hello_kv(const uint8_t *name, size_t n, const struct spoe_value *v, struct spoe_hello *h,
         int *status, const char **why)
{
	if (spoe_name_is(name, n, "supported-versions")) {
		if (v->type != SPOE_STRING || !versions_ok(v->s, v->len)) {
			*status = SPOE_ST_BAD_VERSION;
			*why = "no supported version 2.x";
			return -1;
		}
		return HAS_VERSION;
	}
	if (spoe_name_is(name, n, "max-frame-size")) {
		if (frame_size(v, &h->max_frame) == -1 || h->max_frame < SPOE_FRAME_MIN) {
			*status = SPOE_ST_BAD_FRAME_SIZE;
			*why = "max-frame-size missing a number or too small";
			return -1;
		}
		return HAS_FRAME;
	}
	if (spoe_name_is(name, n, "capabilities"))
		return v->type == SPOE_STRING ? HAS_CAPS : (*why = "capabilities not a string", -1);
	if (spoe_name_is(name, n, "healthcheck"))
		h->healthcheck = v->type == SPOE_BOOL && v->boolean;
	return 0;
}

int
spoe_hello_parse(const uint8_t *p, size_t len, struct spoe_hello *h, const char **why)
{
	const uint8_t *end = p + len, *name;
	struct spoe_value v;
	size_t n;
	int has = 0, got, status = SPOE_ST_INVALID;

	memset(h, 0, sizeof *h);
	while (p < end) {
		if (bytes_get(&p, end, &name, &n) == -1 || spoe_value_get(&p, end, &v) == -1) {
			*why = "malformed HELLO list";
			return SPOE_ST_INVALID;
		}
		if ((got = hello_kv(name, n, &v, h, &status, why)) == -1)
			return status;
		has |= got;
	}
	if (!(has & HAS_VERSION))
		return *why = "HELLO without supported-versions", SPOE_ST_NO_VERSION;
	if (!(has & HAS_FRAME))
		return *why = "HELLO without max-frame-size", SPOE_ST_NO_FRAME_SIZE;
	if (!(has & HAS_CAPS))
		return *why = "HELLO without capabilities", SPOE_ST_NO_CAPABILITIES;
	return SPOE_ST_NORMAL;
}

/* One message: its name, the count of arguments, the arguments. 0 or -1 with *why. */
static int
msg_get(const uint8_t **p, const uint8_t *end, struct spoe_msg *m, const char **why)
{
	int i;

	if (bytes_get(p, end, &m->name, &m->name_len) == -1 || *p >= end) {
		*why = "malformed message name";
		return -1;
	}
	m->n_args = *(*p)++;
	if (m->n_args > SPOE_ARGS_MAX) {
		*why = "too many arguments in a message";
		return -1;
	}
	for (i = 0; i < m->n_args; i++) {
		if (bytes_get(p, end, &m->args[i].name, &m->args[i].name_len) == -1 ||
		    spoe_value_get(p, end, &m->args[i].v) == -1) {
			*why = "malformed message argument";
			return -1;
		}
	}
	return 0;
}

int
spoe_notify_parse(const uint8_t *p, size_t len, struct spoe_msg *m, int max, int *n,
                  const char **why)
{
	const uint8_t *end = p + len;

	*n = 0;
	while (p < end) {
		if (*n >= max) {
			*why = "too many messages in a NOTIFY";
			return -1;
		}
		if (msg_get(&p, end, &m[*n], why) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

const struct spoe_value *
spoe_msg_arg(const struct spoe_msg *m, const char *name)
{
	int i;

	for (i = 0; i < m->n_args; i++)
		if (spoe_name_is(m->args[i].name, m->args[i].name_len, name))
			return &m->args[i].v;
	return NULL;
}

static void
put(struct spoe_out *o, const void *p, size_t n)
{
	if (o->failed || n > o->max + 4 - o->len) {
		o->failed = 1;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
put_byte(struct spoe_out *o, uint8_t b)
{
	put(o, &b, 1);
}

static void
put_varint(struct spoe_out *o, uint64_t v)
{
	uint8_t tmp[SPOE_VARINT_MAX];

	put(o, tmp, spoe_varint_put(tmp, v));
}

static void
put_string(struct spoe_out *o, const char *s)
{
	size_t n = strlen(s);

	put_varint(o, n);
	put(o, s, n);
}

void
spoe_out_begin(struct spoe_out *o, size_t max, int type, uint64_t stream_id, uint64_t frame_id)
{
	static const uint8_t fin[4] = { 0, 0, 0, SPOE_FLAG_FIN };

	o->len = 4;
	o->max = max < SPOE_FRAME_MAX ? max : SPOE_FRAME_MAX;
	o->failed = 0;
	put_byte(o, (uint8_t)type);
	put(o, fin, sizeof fin);
	put_varint(o, stream_id);
	put_varint(o, frame_id);
}

void
spoe_out_kv_str(struct spoe_out *o, const char *name, const char *value)
{
	put_string(o, name);
	put_byte(o, SPOE_STRING);
	put_string(o, value);
}

void
spoe_out_kv_uint32(struct spoe_out *o, const char *name, uint32_t value)
{
	put_string(o, name);
	put_byte(o, SPOE_UINT32);
	put_varint(o, value);
}

static void
set_var(struct spoe_out *o, int scope, const char *name)
{
	put_byte(o, SPOE_SET_VAR);
	put_byte(o, 3);
	put_byte(o, (uint8_t)scope);
	put_string(o, name);
}

void
spoe_out_set_str(struct spoe_out *o, int scope, const char *name, const char *value)
{
	set_var(o, scope, name);
	put_byte(o, SPOE_STRING);
	put_string(o, value);
}

void
spoe_out_set_bool(struct spoe_out *o, int scope, const char *name, int value)
{
	set_var(o, scope, name);
	put_byte(o, SPOE_BOOL | (value ? SPOE_BOOL_TRUE : 0));
}

void
spoe_out_set_int(struct spoe_out *o, int scope, const char *name, int64_t value)
{
	set_var(o, scope, name);
	put_byte(o, SPOE_INT64);
	put_varint(o, (uint64_t)value);
}

int
spoe_out_end(struct spoe_out *o)
{
	size_t n = o->len - 4;

	if (o->failed)
		return -1;
	o->buf[0] = (uint8_t)(n >> 24);
	o->buf[1] = (uint8_t)(n >> 16);
	o->buf[2] = (uint8_t)(n >> 8);
	o->buf[3] = (uint8_t)n;
	return 0;
}

int
spoe_out_hello(struct spoe_out *o, uint32_t max_frame)
{
	spoe_out_begin(o, max_frame, SPOE_AGENT_HELLO, 0, 0);
	spoe_out_kv_str(o, "version", "2.0");
	spoe_out_kv_uint32(o, "max-frame-size", max_frame);
	spoe_out_kv_str(o, "capabilities", "");
	return spoe_out_end(o);
}

int
spoe_out_disconnect(struct spoe_out *o, int status, const char *message)
{
	spoe_out_begin(o, SPOE_FRAME_MAX, SPOE_AGENT_DISCONNECT, 0, 0);
	spoe_out_kv_uint32(o, "status-code", (uint32_t)status);
	spoe_out_kv_str(o, "message", message);
	return spoe_out_end(o);
}
