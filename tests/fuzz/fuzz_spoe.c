#include <string.h>

#include "../../cid/spoe.h"
#include "fuzz.h"

/*
 * The SPOP codec (cid/spoe.c) on what a peer of the SPOE agent sends: the
 * input is one frame without its length. Whatever the decoders accept lies
 * inside the input; each varint they read encodes back to a value that
 * decodes the same; an ACK built from the input's strings either fits the
 * frame size or is refused, never overruns.
 */

static void
inside(const uint8_t *p, size_t len, const uint8_t *in, size_t size)
{
	fuzz_assert(len == 0 || (p >= in && p + len <= in + size));
}

static void
value_inside(const struct spoe_value *v, const uint8_t *in, size_t size)
{
	uint8_t buf[SPOE_VARINT_MAX];
	const uint8_t *p = buf;
	uint64_t back;
	size_t n;

	if (v->type == SPOE_STRING || v->type == SPOE_BINARY)
		inside(v->s, v->len, in, size);
	n = spoe_varint_put(buf, v->u);
	fuzz_assert(n <= SPOE_VARINT_MAX);
	fuzz_assert(spoe_varint_get(&p, buf + n, &back) == 0 && back == v->u && p == buf + n);
}

static void
notify(const struct spoe_frame *f, const uint8_t *in, size_t size)
{
	static struct spoe_msg m[SPOE_MSGS_MAX];
	static struct spoe_out o;
	char s[64];
	const char *why = NULL;
	int n, i, j;

	if (spoe_notify_parse(f->payload, f->len, m, SPOE_MSGS_MAX, &n, &why) == -1) {
		fuzz_assert(why != NULL);
		return;
	}
	fuzz_assert(n >= 0 && n <= SPOE_MSGS_MAX);
	spoe_out_begin(&o, SPOE_FRAME_MIN, SPOE_ACK, f->stream_id, f->frame_id);
	for (i = 0; i < n; i++) {
		inside(m[i].name, m[i].name_len, in, size);
		fuzz_assert(m[i].n_args >= 0 && m[i].n_args <= SPOE_ARGS_MAX);
		for (j = 0; j < m[i].n_args; j++) {
			inside(m[i].args[j].name, m[i].args[j].name_len, in, size);
			value_inside(&m[i].args[j].v, in, size);
			if (m[i].args[j].v.type == SPOE_STRING && m[i].args[j].v.len < sizeof s) {
				memcpy(s, m[i].args[j].v.s, m[i].args[j].v.len);
				s[m[i].args[j].v.len] = '\0';
				spoe_out_set_str(&o, SPOE_TXN, "v", s);
			}
		}
	}
	if (spoe_out_end(&o) == 0)
		fuzz_assert(o.len <= 4 + SPOE_FRAME_MIN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spoe_frame f;
	struct spoe_hello h;
	const char *why = NULL;
	int st;

	if (spoe_frame_parse(data, size, &f, &why) == -1) {
		fuzz_assert(why != NULL);
		return 0;
	}
	inside(f.payload, f.len, data, size);
	fuzz_assert(f.payload + f.len == data + size);
	if (f.type == SPOE_HAPROXY_HELLO) {
		st = spoe_hello_parse(f.payload, f.len, &h, &why);
		fuzz_assert(st == SPOE_ST_NORMAL ? h.max_frame >= SPOE_FRAME_MIN : why != NULL);
	} else if (f.type == SPOE_NOTIFY) {
		notify(&f, data, size);
	}
	return 0;
}
