#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "../../cid/spoe.h"

/* cid/spoe.c: SPOP varints, typed values, frames, HELLO and NOTIFY payloads, the agent's frames. */

struct varint_case {
	uint64_t v;
	size_t len;
};

ParameterizedTestParameters(spoe, varint_round_trips_at_each_length_boundary)
{
	static struct varint_case cases[] = {
		{ 0, 1 }, { 239, 1 }, { 240, 2 }, { 2287, 2 }, { 2288, 3 }, { 264431, 3 },
		{ 264432, 4 }, { 1u << 31, 5 }, { UINT32_MAX, 5 }, { UINT64_MAX, 10 },
	};
	return cr_make_param_array(struct varint_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct varint_case *c, spoe, varint_round_trips_at_each_length_boundary)
{
	uint8_t buf[SPOE_VARINT_MAX];
	const uint8_t *p = buf;
	uint64_t v = 1;
	size_t n = spoe_varint_put(buf, c->v);

	cr_assert_eq(n, c->len, "%llu: %zu bytes", (unsigned long long)c->v, n);
	cr_assert_eq(spoe_varint_get(&p, buf + n, &v), 0);
	cr_assert_eq(v, c->v);
	cr_assert_eq(p, buf + n);
	p = buf;
	if (n > 1)
		cr_assert_eq(spoe_varint_get(&p, buf + n - 1, &v), -1, "a truncated varint is refused");
}

Test(spoe, varint_refuses_more_than_64_bits)
{
	uint8_t buf[12];
	const uint8_t *p = buf;
	uint64_t v;

	memset(buf, 0xff, sizeof buf);
	buf[11] = 0x01;
	cr_assert_eq(spoe_varint_get(&p, buf + sizeof buf, &v), -1);
}

Test(spoe, value_with_a_length_past_the_end_is_refused)
{
	const uint8_t str[] = { SPOE_STRING, 5, 'a', 'b' }, *p = str;
	const uint8_t bad[] = { 0x0e }, *q = bad;
	const uint8_t ip[] = { SPOE_IPV4, 10, 0, 0 }, *r = ip;
	struct spoe_value v;

	cr_assert_eq(spoe_value_get(&p, str + sizeof str, &v), -1);
	cr_assert_eq(spoe_value_get(&q, bad + sizeof bad, &v), -1, "unknown type");
	cr_assert_eq(spoe_value_get(&r, ip + sizeof ip, &v), -1, "short IPv4");
}

/* Appends a KV name and a string value to buf at *n. */
static void
kv_str(uint8_t *buf, size_t *n, const char *name, const char *value)
{
	buf[(*n)++] = (uint8_t)strlen(name);
	memcpy(buf + *n, name, strlen(name));
	*n += strlen(name);
	buf[(*n)++] = SPOE_STRING;
	buf[(*n)++] = (uint8_t)strlen(value);
	memcpy(buf + *n, value, strlen(value));
	*n += strlen(value);
}

static void
kv_uint32(uint8_t *buf, size_t *n, const char *name, uint32_t v)
{
	buf[(*n)++] = (uint8_t)strlen(name);
	memcpy(buf + *n, name, strlen(name));
	*n += strlen(name);
	buf[(*n)++] = SPOE_UINT32;
	*n += spoe_varint_put(buf + *n, v);
}

Test(spoe, hello_from_haproxy_is_read)
{
	uint8_t buf[256];
	size_t n = 0;
	struct spoe_hello h;
	const char *why = NULL;

	kv_str(buf, &n, "supported-versions", "2.0");
	kv_uint32(buf, &n, "max-frame-size", 16380);
	kv_str(buf, &n, "capabilities", "pipelining,async");
	buf[n++] = 11;
	memcpy(buf + n, "healthcheck", 11);
	n += 11;
	buf[n++] = SPOE_BOOL | SPOE_BOOL_TRUE;
	cr_assert_eq(spoe_hello_parse(buf, n, &h, &why), SPOE_ST_NORMAL, "%s", why ? why : "");
	cr_assert_eq(h.max_frame, 16380);
	cr_assert_eq(h.healthcheck, 1);
}

Test(spoe, hello_without_version_2_or_frame_size_is_refused_with_its_status)
{
	uint8_t buf[256];
	size_t n = 0;
	struct spoe_hello h;
	const char *why = NULL;

	kv_str(buf, &n, "supported-versions", "1.0");
	cr_assert_eq(spoe_hello_parse(buf, n, &h, &why), SPOE_ST_BAD_VERSION);
	n = 0;
	kv_str(buf, &n, "supported-versions", "2.0");
	kv_str(buf, &n, "capabilities", "");
	cr_assert_eq(spoe_hello_parse(buf, n, &h, &why), SPOE_ST_NO_FRAME_SIZE);
	kv_uint32(buf, &n, "max-frame-size", 100);
	cr_assert_eq(spoe_hello_parse(buf, n, &h, &why), SPOE_ST_BAD_FRAME_SIZE);
}

Test(spoe, notify_messages_and_arguments_are_read)
{
	const uint8_t msg[] = {
		13, 's', 'e', 'k', 'i', 's', 'h', 'o', '-', 'c', 'h', 'e', 'c', 'k', 3,
		7, 's', 'e', 'r', 'v', 'i', 'c', 'e', SPOE_STRING, 3, 'l', 'a', 'b',
		2, 'i', 'p', SPOE_IPV4, 10, 0, 0, 5,
		5, 'h', 't', 't', 'p', 's', SPOE_BOOL,
	};
	struct spoe_msg m[SPOE_MSGS_MAX];
	const struct spoe_value *v;
	const char *why = NULL;
	int n = -1;

	cr_assert_eq(spoe_notify_parse(msg, sizeof msg, m, SPOE_MSGS_MAX, &n, &why), 0, "%s", why);
	cr_assert_eq(n, 1);
	cr_assert(spoe_name_is(m[0].name, m[0].name_len, "sekisho-check"));
	cr_assert_not_null(v = spoe_msg_arg(&m[0], "service"));
	cr_assert(v->type == SPOE_STRING && v->len == 3 && memcmp(v->s, "lab", 3) == 0);
	cr_assert_not_null(v = spoe_msg_arg(&m[0], "ip"));
	cr_assert(v->type == SPOE_IPV4 && v->ip[3] == 5);
	cr_assert_not_null(v = spoe_msg_arg(&m[0], "https"));
	cr_assert_eq(v->boolean, 0);
	cr_assert_null(spoe_msg_arg(&m[0], "cookie"));
	cr_assert_eq(spoe_notify_parse(msg, sizeof msg - 1, m, SPOE_MSGS_MAX, &n, &why), -1,
	             "a truncated argument list is refused");
}

Test(spoe, frame_metadata_is_read_and_agent_frames_are_refused)
{
	const uint8_t notify[] = { SPOE_NOTIFY, 0, 0, 0, 1, 240, 1, 7, 'x' };
	const uint8_t ack[] = { SPOE_ACK, 0, 0, 0, 1, 0, 0 };
	struct spoe_frame f;
	const char *why = NULL;

	cr_assert_eq(spoe_frame_parse(notify, sizeof notify, &f, &why), 0);
	cr_assert_eq(f.type, SPOE_NOTIFY);
	cr_assert_eq(f.flags, SPOE_FLAG_FIN);
	cr_assert_eq(f.stream_id, 256);
	cr_assert_eq(f.frame_id, 7);
	cr_assert_eq(f.len, 1);
	cr_assert_eq(spoe_frame_parse(ack, sizeof ack, &f, &why), -1);
	cr_assert_eq(spoe_frame_parse(notify, 5, &f, &why), -1);
}

Test(spoe, ack_carries_the_variables_and_the_ids)
{
	static struct spoe_out o;
	struct spoe_frame f;
	struct spoe_value v;
	const uint8_t *p, *end;
	const char *why = NULL;

	spoe_out_begin(&o, SPOE_FRAME_MAX, SPOE_ACK, 300, 9);
	spoe_out_set_bool(&o, SPOE_TXN, "allow", 1);
	spoe_out_set_str(&o, SPOE_TXN, "user", "alice");
	cr_assert_eq(spoe_out_end(&o), 0);
	cr_assert_eq(o.buf[0] << 24 | o.buf[1] << 16 | o.buf[2] << 8 | o.buf[3], (int)o.len - 4);
	/* The ACK's own metadata, read as HAProxy's NOTIFY would be (same layout). */
	o.buf[4] = SPOE_NOTIFY;
	cr_assert_eq(spoe_frame_parse(o.buf + 4, o.len - 4, &f, &why), 0);
	cr_assert(f.stream_id == 300 && f.frame_id == 9 && f.flags == SPOE_FLAG_FIN);
	p = f.payload, end = f.payload + f.len;
	cr_assert(p[0] == SPOE_SET_VAR && p[1] == 3 && p[2] == SPOE_TXN && p[3] == 5);
	cr_assert(memcmp(p + 4, "allow", 5) == 0 && p[9] == (SPOE_BOOL | SPOE_BOOL_TRUE));
	p += 10;
	cr_assert(p[0] == SPOE_SET_VAR && p[3] == 4 && memcmp(p + 4, "user", 4) == 0);
	p += 8;
	cr_assert_eq(spoe_value_get(&p, end, &v), 0);
	cr_assert(v.len == 5 && memcmp(v.s, "alice", 5) == 0 && p == end);
}

Test(spoe, a_frame_larger_than_the_agreed_size_is_not_built)
{
	static struct spoe_out o;
	char big[300];

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	spoe_out_begin(&o, SPOE_FRAME_MIN, SPOE_ACK, 1, 1);
	spoe_out_set_str(&o, SPOE_TXN, "redirect", big);
	cr_assert_eq(spoe_out_end(&o), -1);
}
