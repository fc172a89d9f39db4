#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adaptive.h"
#include "ctl.h"
#include "token.h"

#define AUDIT_DEFAULT_LIMIT 50

static int
status_service(const struct store_service *svc, void *arg)
{
	struct out *o = arg;
	char use[32];

	if (o->json) {
		ctl_service_json(o, svc);
		return 0;
	}
	snprintf(use, sizeof use, "%d/%d", svc->active, service_cap_now(svc));
	ctl_out_text(o, "  %-6lld %-32s %-15s %-8s %s\n", (long long)svc->id, svc->name, use,
	             svc->enabled ? "enabled" : "disabled", ctl_health_str(svc));
	return 0;
}

static void
status_ipfd_json(struct out *o, int up, const struct ipc_stats *st, const char *err)
{
	ctl_json_obj(o, "ipfd");
	ctl_json_str(o, "state", up == 1 ? "up" : up == 0 ? "disabled" : "unreachable");
	if (up == -1)
		ctl_json_str(o, "error", err);
	if (up == 1) {
		ctl_json_int(o, "services", (long long)st->services);
		ctl_json_int(o, "addresses", (long long)st->elements);
		ctl_json_int(o, "batches", (long long)st->batches);
		ctl_json_int(o, "batch_errors", (long long)st->batch_errors);
		ctl_json_int(o, "admits", (long long)st->admits);
		ctl_json_int(o, "revokes", (long long)st->revokes);
		ctl_json_int(o, "syncs", (long long)st->syncs);
		ctl_json_int(o, "rebuilds", (long long)st->rebuilds);
		ctl_json_int(o, "watch_repairs", (long long)st->watch_repairs);
		ctl_json_int(o, "last_sync", st->last_sync);
		ctl_json_int(o, "started", st->started);
	}
	ctl_json_end(o, '}');
}

static void
status_ipfd_text(struct out *o, int up, const struct ipc_stats *st, const char *err)
{
	char t[32];

	if (up == 0)
		ctl_out_text(o, "ipfd:           disabled in the configuration\n");
	else if (up == -1)
		ctl_out_text(o, "ipfd:           unreachable (%s)\n", err);
	else
		ctl_out_text(o, "ipfd:           up: %" PRIu64 " services, %" PRIu64 " addresses, %" PRIu64
		         " batches (%" PRIu64 " failed), last sync %s\n", st->services, st->elements,
		         st->batches, st->batch_errors, ctl_time(st->last_sync, t, sizeof t));
}

#define HEALTH_TIMEOUT_MS 1000   /* each daemon's /healthz must answer within this */

/* authd's or cid's /healthz on its monitor listener: ok, unhealthy (and why) or unreachable. */
static void
status_daemon(struct out *o, const char *name, const char *monitor)
{
	char detail[256], label[16];
	int code, rc = ctl_health(monitor, HEALTH_TIMEOUT_MS, &code, detail, sizeof detail);
	const char *state = rc == 1 ? "ok" : rc == 0 ? "unhealthy" : "unreachable";

	if (o->json) {
		ctl_json_obj(o, name);
		ctl_json_str(o, "state", state);
		ctl_json_str(o, "monitor", monitor);
		if (code != 0)
			ctl_json_int(o, "http_status", code);
		ctl_json_str(o, "detail", detail);
		ctl_json_end(o, '}');
		return;
	}
	snprintf(label, sizeof label, "%s:", name);
	if (rc == -1)
		ctl_out_text(o, "%-16sunreachable (%s)\n", label, detail);
	else if (rc == 0)
		ctl_out_text(o, "%-16sunhealthy: %d at %s (%s)\n", label, code, monitor, detail);
	else
		ctl_out_text(o, "%-16sok at %s (%s)\n", label, monitor, detail);
}

static void
status_head(struct out *o, const struct ctl *c, const struct store_stats *st)
{
	const char *db = c->conf.db.url[0] ? "PostgreSQL" : c->conf.db.path;

	if (o->json) {
		ctl_json_obj(o, NULL);
		ctl_json_str(o, "database", db);
		ctl_json_int(o, "schema", st->schema_version);
		ctl_json_int(o, "users", st->users);
		ctl_json_int(o, "live_rights", st->live_rights);
		ctl_json_int(o, "live_sessions", st->live_rights);   /* the old name, for one release */
		return;
	}
	ctl_out_text(o, "database:       %s (schema %d)\n", db, st->schema_version);
	ctl_out_text(o, "users:          %" PRId64 "\nlive rights:    %" PRId64 "\n", st->users,
	         st->live_rights);
}

#define STATUS_LINES_MAX 1024

/* Each service's waiting line (the waiting room, authd.queue). */
static int
status_lines(struct ctl *c, struct out *o)
{
	struct store_line *l = calloc(STATUS_LINES_MAX, sizeof *l);
	char t[32];
	int n, rc;

	if (l == NULL)
		return ctl_fail("status: out of memory");
	if ((rc = store_queue_lines(c->s, l, STATUS_LINES_MAX, &n)) != STORE_OK) {
		free(l);
		return ctl_store_fail(c, rc, "status", NULL);
	}
	if (o->json)
		ctl_json_arr(o, "queues");
	else
		ctl_out_text(o, "waiting lines:\n  %-32s %-8s %s\n", "SERVICE", "WAITING", "FIRST JOINED");
	for (int i = 0; i < n; i++) {
		if (!o->json) {
			ctl_out_text(o, "  %-32s %-8d %s\n", l[i].name, l[i].waiting,
			             l[i].oldest ? ctl_time(l[i].oldest, t, sizeof t) : "-");
			continue;
		}
		ctl_json_obj(o, NULL);
		ctl_json_str(o, "service", l[i].name);
		ctl_json_int(o, "waiting", l[i].waiting);
		ctl_json_int(o, "first_joined", l[i].oldest);
		ctl_json_end(o, '}');
	}
	if (o->json)
		ctl_json_end(o, ']');
	free(l);
	return CTL_OK;
}

int
ctl_status(struct ctl *c)
{
	struct store_stats st;
	struct ipc_stats ist;
	struct out o;
	char err[256] = "";
	int rc, up;

	if ((rc = store_stats(c->s, &st)) != STORE_OK)
		return ctl_store_fail(c, rc, "status", NULL);
	up = ctl_fw_status(c, &ist, err, sizeof err);
	ctl_out_init(&o, ctl_flag(c, "json"));
	status_head(&o, c, &st);
	if (o.json)
		status_ipfd_json(&o, up, &ist, err);
	else
		status_ipfd_text(&o, up, &ist, err);
	status_daemon(&o, "authd", c->conf.authd.monitor_listen);
	status_daemon(&o, "cid", c->conf.cid.monitor_listen);
	if (o.json) {
		ctl_json_arr(&o, "services");
	} else {
		ctl_out_text(&o, "services:\n  %-6s %-32s %-15s %-8s %s\n", "ID", "NAME",
		             "ACTIVE/CAP", "STATE", "HEALTH");
	}
	if ((rc = store_service_list(c->s, 0, status_service, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "status", NULL);
	}
	if (o.json)
		ctl_json_end(&o, ']');
	if ((rc = status_lines(c, &o)) != CTL_OK) {
		buf_free(&o.b);
		return rc;
	}
	if (o.json)
		ctl_json_end(&o, '}');
	return ctl_out_flush(&o);
}

static const char *
key_state(const struct keyring *kr, const struct store_key *k, int64_t now)
{
	if (k->activates_at > now)
		return "next";
	return keyring_current(kr, now) == k ? "current" : "previous";
}

int
ctl_key_list(struct ctl *c)
{
	struct keyring kr;
	struct out o;
	char kid[16], t1[32], t2[32];
	int rc;

	if ((rc = keyring_load(c->s, c->now, &kr)) != STORE_OK)
		return ctl_store_fail(c, rc, "key list", NULL);
	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, "keys");
	} else {
		ctl_out_text(&o, "%-8s %-8s %-19s %s\n", "KID", "STATE", "SIGNS FROM", "VERIFIES UNTIL");
	}
	for (int i = 0; i < kr.n; i++) {
		const struct store_key *k = &kr.keys[i];

		snprintf(kid, sizeof kid, "%08" PRIx32, k->kid);
		if (!o.json) {
			ctl_out_text(&o, "%-8s %-8s %-19s %s\n", kid, key_state(&kr, k, c->now),
			         ctl_time(k->activates_at, t1, sizeof t1), ctl_time(k->expires_at, t2, sizeof t2));
			continue;
		}
		ctl_json_obj(&o, NULL);
		ctl_json_str(&o, "kid", kid);
		ctl_json_str(&o, "state", key_state(&kr, k, c->now));
		ctl_json_int(&o, "created_at", k->created_at);
		ctl_json_int(&o, "activates_at", k->activates_at);
		ctl_json_int(&o, "expires_at", k->expires_at);
		ctl_json_end(&o, '}');
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}

int
ctl_key_rotate(struct ctl *c)
{
	struct keyring kr;
	const struct store_key *k;
	int rc;

	rc = keyring_rotate(c->s, c->now, (int64_t)c->conf.authd.key_rotate_h * 3600);
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc, "key rotate", NULL);
	if ((rc = keyring_load(c->s, c->now, &kr)) != STORE_OK)
		return ctl_store_fail(c, rc, "key rotate", NULL);
	if ((k = keyring_current(&kr, c->now)) == NULL)
		return ctl_fail("key rotate: no current key after rotation");
	if ((rc = ctl_audit(c, "key.rotate", NULL, NULL, "kid=%08" PRIx32, k->kid)) != CTL_OK)
		return rc;
	printf("new signing key %08" PRIx32 "; older keys verify until they expire\n", k->kid);
	return CTL_OK;
}

static int
audit_one(const struct store_audit *a, void *arg)
{
	struct out *o = arg;
	char t[32];

	if (!o->json) {
		ctl_out_text(o, "%-19s %-12s %-16s %-20s %-20s %s\n", ctl_time(a->at, t, sizeof t), a->actor,
		         a->action, a->service[0] ? a->service : "-", a->target[0] ? a->target : "-",
		         a->detail);
		return 0;
	}
	ctl_json_obj(o, NULL);
	ctl_json_int(o, "id", a->id);
	ctl_json_int(o, "at", a->at);
	ctl_json_str(o, "actor", a->actor);
	ctl_json_str(o, "action", a->action);
	ctl_json_str(o, "service", a->service);
	ctl_json_str(o, "target", a->target);
	ctl_json_str(o, "detail", a->detail);
	ctl_json_end(o, '}');
	return 0;
}

int
ctl_audit_list(struct ctl *c)
{
	struct store_audit_filter f;
	struct out o;
	long long limit = AUDIT_DEFAULT_LIMIT;
	int rc;

	memset(&f, 0, sizeof f);
	if (ctl_opt_int(c, "limit", 1, 1000, &limit) == -1)
		return CTL_USAGE;
	f.service = ctl_opt(c, "service");
	f.user = ctl_opt(c, "user");
	f.limit = (int)limit;
	ctl_out_init(&o, ctl_flag(c, "json"));
	if (o.json) {
		ctl_json_obj(&o, NULL);
		ctl_json_arr(&o, "audit");
	} else {
		ctl_out_text(&o, "%-19s %-12s %-16s %-20s %-20s %s\n", "TIME", "ACTOR", "ACTION", "SERVICE",
		         "TARGET", "DETAIL");
	}
	if ((rc = store_audit_list(c->s, &f, audit_one, &o)) != STORE_OK) {
		buf_free(&o.b);
		return ctl_store_fail(c, rc, "audit", NULL);
	}
	if (o.json) {
		ctl_json_end(&o, ']');
		ctl_json_end(&o, '}');
	}
	return ctl_out_flush(&o);
}
