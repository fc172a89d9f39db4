#ifndef SEKISHO_CTL_H
#define SEKISHO_CTL_H

/*
 * sekishoctl: one command per run, dispatched from a flat table (main.c).
 * Commands return the exit status: 0 done, 1 failed, 2 usage error, 3 the
 * service's cap is reached. Every failure prints exactly one line
 * "sekishoctl: ..." on stderr; warnings (ipfd unreachable after the store
 * already changed) print "sekishoctl: warning: ..." and keep status 0.
 */

#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "ipc.h"
#include "store.h"

#define CTL_OK     0
#define CTL_FAIL   1
#define CTL_USAGE  2
#define CTL_DENIED 3

#define CTL_POS_MAX 4
#define CTL_OPT_MAX 40
#define CTL_ACTOR   "sekishoctl"

struct ctl_opt {
	char name[32];          /* without the leading "--" */
	const char *val;        /* NULL for a flag */
};

struct ctl {
	struct conf conf;
	struct store *s;
	int64_t now;
	char by[NAME_MAX_LEN + 1];           /* the invoking unix user, recorded in audit details */
	int npos;
	const char *pos[CTL_POS_MAX];
	int nopt;
	struct ctl_opt opt[CTL_OPT_MAX];
	struct ipc_client *ipfd;             /* opened on first use by fw.c */
	int ipfd_down;                       /* connecting failed once: do not retry this run */
	int legacy_session;                  /* invoked as "session": JSON keeps its old key */
};

/* One command: "user add", or "grant" with name NULL. */
struct ctl_cmd {
	const char *group;
	const char *name;
	int (*run)(struct ctl *c);
	int pos_min, pos_max;    /* positional arguments */
	const char *spec;        /* options: "url=" takes a value, "guard*" repeats, "json" is a flag */
	int store;               /* 1: main opens the store before run (init and migrate open their own) */
	const char *usage;       /* "user add NAME --role user|admin|root --password-file F" */
};

/* Prints "sekishoctl: MESSAGE" on stderr and returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for command-line mistakes; returns CTL_USAGE. */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "sekishoctl: warning: MESSAGE" on stderr. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line for a store result other than STORE_OK: "WHAT: ERR" or "WHAT: store unavailable: ...". */
int ctl_store_fail(struct ctl *c, int rc, const char *what, const char *err);

/* Parses the arguments after the command words against cmd's spec. CTL_OK or CTL_USAGE. */
int ctl_parse_args(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
/* The value of --name (NULL when absent). */
const char *ctl_opt(const struct ctl *c, const char *name);
int ctl_flag(const struct ctl *c, const char *name);
/* Values of a repeatable --name in order, the first max of them; returns how many were given. */
int ctl_opt_all(const struct ctl *c, const char *name, const char **vals, int max);
/* --name as an integer in [min, max]; 1 when absent (out untouched), 0 when set, -1 after ctl_usage(). */
int ctl_opt_int(const struct ctl *c, const char *name, long long min, long long max, long long *out);

/* Writes an audit row by CTL_ACTOR with "by=UNIXUSER DETAIL". CTL_OK or CTL_FAIL (after one line). */
int ctl_audit(struct ctl *c, const char *action, const char *service, const char *target,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Lookups that fail with one clear line: "no such user: NAME". */
int ctl_get_user(struct ctl *c, const char *name, struct store_user *u);
int ctl_get_service(struct ctl *c, const char *name, struct store_service *svc);

/* Local time "2025-01-31 12:00:00" (or "-" for 0). */
const char *ctl_time(int64_t t, char *buf, size_t n);

/*
 * Output: a buffer that becomes stdout at the end. JSON is written through
 * these helpers only, so every string goes through buf_json's escaping.
 */
struct out {
	struct buf b;
	int json;
	int depth;
	int items[16];           /* values written at each nesting level */
};
void ctl_out_init(struct out *o, int json);
/* Writes the buffer to stdout and frees it. CTL_OK or CTL_FAIL. */
int ctl_out_flush(struct out *o);
void ctl_out_text(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* key is NULL inside arrays and at the top. */
void ctl_json_obj(struct out *o, const char *key);
void ctl_json_arr(struct out *o, const char *key);
void ctl_json_end(struct out *o, char close);
void ctl_json_str(struct out *o, const char *key, const char *v);
void ctl_json_int(struct out *o, const char *key, long long v);
void ctl_json_bool(struct out *o, const char *key, int v);
/* One service as a JSON object (service list and show, status). */
void ctl_service_json(struct out *o, const struct store_service *svc);
/*
 * queue.c: --queue, --queue-max, --queue-lapse, --rate into q (which holds
 * the current settings); *given counts those given. CTL_OK or a usage error.
 */
int ctl_queue_opts(struct ctl *c, struct service_queue *q, int *given);
/* Stores q as svc's settings and audits service.queue. */
int ctl_queue_apply(struct ctl *c, const struct store_service *svc, const struct service_queue *q);
void ctl_queue_json(struct out *o, const struct store_service *svc);
void ctl_queue_text(struct out *o, const struct store_service *svc);

/*
 * The firewall (ipfd) side of a change, only when ipfd.enabled. ctl_fw_admit fails
 * closed: -1 with err when ipfd did not confirm. ctl_fw_revoke and ctl_fw_sync run
 * after the store changed: when ipfd is unreachable they warn that it will
 * catch up at its next sync.
 */
int  ctl_fw_admit(struct ctl *c, int64_t right_id, char *err, size_t errlen);
void ctl_fw_revoke(struct ctl *c, int64_t right_id);
void ctl_fw_sync(struct ctl *c, int64_t service_id);
/*
 * Asks ipfd to drop right_id's address on a fresh connection, silently: the
 * last call may have failed only because its reply was lost. 0, or -1 with err.
 */
int  ctl_fw_revoke_fresh(struct ctl *c, int64_t right_id, char *err, size_t errlen);
/* 1 with st filled, 0 when ipfd is disabled, -1 with err when it is unreachable. */
int  ctl_fw_status(struct ctl *c, struct ipc_stats *st, char *err, size_t errlen);
void ctl_fw_close(struct ctl *c);

/*
 * GET /healthz on a monitor listener (ADDR:PORT) within timeout_ms: 1 when it
 * answers 200, 0 when it answers another status (*http_status), -1 when it
 * does not answer. detail: the answer's body on one line, or why not.
 */
int  ctl_health(const char *listen, int timeout_ms, int *http_status, char *detail, size_t n);

int ctl_init(struct ctl *c);
int ctl_migrate(struct ctl *c);
int ctl_store_copy(struct ctl *c);
int ctl_user_add(struct ctl *c);
int ctl_user_list(struct ctl *c);
int ctl_user_passwd(struct ctl *c);
int ctl_user_disable(struct ctl *c);
int ctl_user_enable(struct ctl *c);
int ctl_user_del(struct ctl *c);
int ctl_service_add(struct ctl *c);
int ctl_service_list(struct ctl *c);
int ctl_service_show(struct ctl *c);
int ctl_service_edit(struct ctl *c);
int ctl_service_del(struct ctl *c);
int ctl_service_access(struct ctl *c);
int ctl_service_restrict(struct ctl *c);
int ctl_service_open(struct ctl *c);
int ctl_service_allow(struct ctl *c);
int ctl_service_deny(struct ctl *c);
int ctl_group_add(struct ctl *c);
int ctl_group_del(struct ctl *c);
int ctl_group_list(struct ctl *c);
int ctl_group_show(struct ctl *c);
int ctl_group_join(struct ctl *c);
int ctl_group_leave(struct ctl *c);
int ctl_service_load(struct ctl *c);
const char *ctl_health_str(const struct store_service *svc);
int ctl_right_list(struct ctl *c);
int ctl_right_revoke(struct ctl *c);
int ctl_grant(struct ctl *c);
int ctl_status(struct ctl *c);
int ctl_key_list(struct ctl *c);
int ctl_key_rotate(struct ctl *c);
int ctl_tls_sync(struct ctl *c);
int ctl_tls_rotate(struct ctl *c);
int ctl_tls_list(struct ctl *c);
int ctl_tls_versions(struct ctl *c);
int ctl_audit_list(struct ctl *c);
int ctl_lockout_list(struct ctl *c);
int ctl_lockout_clear(struct ctl *c);

#endif
