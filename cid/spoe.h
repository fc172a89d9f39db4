#ifndef SEKISHO_CID_SPOE_H
#define SEKISHO_CID_SPOE_H

/*
 * SPOP, HAProxy's Stream Processing Offload Protocol (HAProxy's
 * doc/SPOE.txt, version 2.0), as far as an agent that answers one message
 * with a few variables needs it. No pipelining, no async, no fragmentation:
 * the agent says so in its HELLO, and HAProxy then sends one NOTIFY at a
 * time per connection, each in one frame.
 *
 * A frame on the wire: a 4-byte big-endian length, then type (1 byte),
 * flags (4 bytes), stream-id and frame-id (varints), payload. The decoders
 * read only inside [p, end) and never trust a length they read.
 */

#include <stddef.h>
#include <stdint.h>

#define SPOE_FRAME_MAX   16384   /* our max-frame-size (HAProxy's default), without the length */
#define SPOE_FRAME_MIN   256     /* HAProxy offers no less */
#define SPOE_ARGS_MAX    16      /* arguments of one message */
#define SPOE_MSGS_MAX    8       /* messages of one NOTIFY */
#define SPOE_VARINT_MAX  10      /* bytes of the longest varint (64 bits) */

enum spoe_frame_type {
	SPOE_HAPROXY_HELLO = 1,
	SPOE_HAPROXY_DISCONNECT = 2,
	SPOE_NOTIFY = 3,
	SPOE_AGENT_HELLO = 101,
	SPOE_AGENT_DISCONNECT = 102,
	SPOE_ACK = 103,
};

#define SPOE_FLAG_FIN   0x1u
#define SPOE_FLAG_ABORT 0x2u

enum spoe_data_type {
	SPOE_NULL = 0, SPOE_BOOL, SPOE_INT32, SPOE_UINT32, SPOE_INT64, SPOE_UINT64,
	SPOE_IPV4, SPOE_IPV6, SPOE_STRING, SPOE_BINARY, SPOE__TYPES
};

/* STATUS-CODE of a DISCONNECT frame. */
enum spoe_status {
	SPOE_ST_NORMAL = 0,
	SPOE_ST_IO = 1,
	SPOE_ST_TIMEOUT = 2,
	SPOE_ST_TOO_BIG = 3,
	SPOE_ST_INVALID = 4,
	SPOE_ST_NO_VERSION = 5,
	SPOE_ST_NO_FRAME_SIZE = 6,
	SPOE_ST_NO_CAPABILITIES = 7,
	SPOE_ST_BAD_VERSION = 8,
	SPOE_ST_BAD_FRAME_SIZE = 9,
	SPOE_ST_NO_FRAGMENTATION = 10,
	SPOE_ST_UNKNOWN = 99,
};

#define SPOE_BOOL_TRUE 0x10      /* the flag bit of a true BOOL's type byte */

enum spoe_scope { SPOE_PROC = 0, SPOE_SESS, SPOE_TXN, SPOE_REQ, SPOE_RES };
enum spoe_action { SPOE_SET_VAR = 1, SPOE_UNSET_VAR = 2 };

/* A string or binary points into the frame; numbers are widened. */
struct spoe_value {
	int type;
	int boolean;
	uint64_t u;                  /* UINT32, UINT64 */
	int64_t i;                   /* INT32, INT64 */
	uint8_t ip[16];              /* IPV4 (first 4 bytes), IPV6 */
	const uint8_t *s;            /* STRING, BINARY */
	size_t len;
};

struct spoe_frame {
	int type;
	uint32_t flags;
	uint64_t stream_id, frame_id;
	const uint8_t *payload;
	size_t len;
};

struct spoe_arg {
	const uint8_t *name;
	size_t name_len;
	struct spoe_value v;
};

struct spoe_msg {
	const uint8_t *name;
	size_t name_len;
	int n_args;
	struct spoe_arg args[SPOE_ARGS_MAX];
};

/* What HAProxy's HELLO says. */
struct spoe_hello {
	uint32_t max_frame;
	int healthcheck;
};

/* One varint from [*p, end); advances *p. 0, or -1 when truncated or over 64 bits. */
int spoe_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);
/* Writes v into out (room for SPOE_VARINT_MAX); returns the bytes written. */
size_t spoe_varint_put(uint8_t *out, uint64_t v);
/* One typed value; advances *p. 0 or -1 (truncated, unknown type, a length past end). */
int spoe_value_get(const uint8_t **p, const uint8_t *end, struct spoe_value *v);

/*
 * The frame in buf (len bytes, after the 4-byte length). 0, or -1 with *why
 * when the metadata is truncated or the type is not one HAProxy sends.
 */
int spoe_frame_parse(const uint8_t *buf, size_t len, struct spoe_frame *f, const char **why);
/*
 * HAProxy's HELLO payload. SPOE_ST_NORMAL, or the DISCONNECT status with
 * *why: a missing key, no "2.x" among the versions, a frame size below
 * SPOE_FRAME_MIN, a malformed list.
 */
int spoe_hello_parse(const uint8_t *p, size_t len, struct spoe_hello *h, const char **why);
/* A NOTIFY payload: up to max messages into m, *n of them. 0, or -1 with *why. */
int spoe_notify_parse(const uint8_t *p, size_t len, struct spoe_msg *m, int max, int *n,
                      const char **why);
/* The argument named name of m, or NULL. */
const struct spoe_value *spoe_msg_arg(const struct spoe_msg *m, const char *name);
/* Whether the name at (s, len) is name. */
int spoe_name_is(const uint8_t *s, size_t len, const char *name);

/*
 * An outgoing frame, built in place: begin, add, end. A frame that would
 * not fit max bytes marks the builder failed, and end then returns -1.
 */
struct spoe_out {
	uint8_t buf[4 + SPOE_FRAME_MAX];
	size_t len;
	size_t max;                  /* of the frame without its length, <= SPOE_FRAME_MAX */
	int failed;
};

void spoe_out_begin(struct spoe_out *o, size_t max, int type, uint64_t stream_id,
                    uint64_t frame_id);
/* KV-LIST entries (HELLO, DISCONNECT). */
void spoe_out_kv_str(struct spoe_out *o, const char *name, const char *value);
void spoe_out_kv_uint32(struct spoe_out *o, const char *name, uint32_t value);
/* SET-VAR actions (ACK). */
void spoe_out_set_str(struct spoe_out *o, int scope, const char *name, const char *value);
void spoe_out_set_bool(struct spoe_out *o, int scope, const char *name, int value);
void spoe_out_set_int(struct spoe_out *o, int scope, const char *name, int64_t value);
/* Fills in the length. 0 (the frame is buf[0..len)) or -1 (it did not fit). */
int spoe_out_end(struct spoe_out *o);

/* The agent's HELLO and a DISCONNECT, ready to send. 0 or -1. */
int spoe_out_hello(struct spoe_out *o, uint32_t max_frame);
int spoe_out_disconnect(struct spoe_out *o, int status, const char *message);

#endif
