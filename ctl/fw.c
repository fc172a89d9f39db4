#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Connects once per run; after one failure the rest of the run does not wait again. */
static int
ctl_fw_connect(struct ctl *c, char *err, size_t errlen)
{
	if (c->ipfd != NULL)
		return 0;
	if (c->ipfd_down) {
		snprintf(err, errlen, "ipfd is unreachable");
		return -1;
	}
	c->ipfd = ipc_connect(c->conf.ipfd.socket, c->conf.authd.ipfd_timeout_ms, err, errlen);
	if (c->ipfd == NULL) {
		c->ipfd_down = 1;
		return -1;
	}
	return 0;
}

/* One request; -1 with err when ipfd did not answer or did not say yes. */
static int
ctl_fw_call(struct ctl *c, int type, int64_t right_id, int64_t service_id, struct ipc_rep *rep,
        char *err, size_t errlen)
{
	if (ctl_fw_connect(c, err, errlen) == -1)
		return -1;
	if (ipc_call(c->ipfd, type, right_id, service_id, rep, err, errlen) == -1) {
		ctl_fw_close(c);
		c->ipfd_down = 1;
		return -1;
	}
	if (rep->status != IPC_OK) {
		snprintf(err, errlen, "ipfd said %s: %.*s", ipc_status_str(rep->status),
		         (int)sizeof rep->msg, rep->msg);
		return -1;
	}
	return 0;
}

int
ctl_fw_admit(struct ctl *c, int64_t right_id, char *err, size_t errlen)
{
	struct ipc_rep rep;

	if (!c->conf.ipfd.enabled)
		return 0;
	return ctl_fw_call(c, IPC_ADMIT, right_id, 0, &rep, err, errlen);
}

/* Tells ipfd about a change the store already holds; warns once per run when it cannot. */
static void
ctl_fw_notify(struct ctl *c, int type, int64_t right_id, int64_t service_id)
{
	struct ipc_rep rep;
	char err[256];
	int was_down = c->ipfd_down;

	if (!c->conf.ipfd.enabled)
		return;
	if (ctl_fw_call(c, type, right_id, service_id, &rep, err, sizeof err) == 0)
		return;
	if (!was_down)
		ctl_warn("the store has the change but ipfd did not take it (%s); "
		         "ipfd catches up at its next sync", err);
}

void
ctl_fw_revoke(struct ctl *c, int64_t right_id)
{
	ctl_fw_notify(c, IPC_REVOKE, right_id, 0);
}

int
ctl_fw_revoke_fresh(struct ctl *c, int64_t right_id, char *err, size_t errlen)
{
	struct ipc_rep rep;

	if (!c->conf.ipfd.enabled)
		return 0;
	ctl_fw_close(c);
	c->ipfd_down = 0;
	return ctl_fw_call(c, IPC_REVOKE, right_id, 0, &rep, err, errlen);
}

void
ctl_fw_sync(struct ctl *c, int64_t service_id)
{
	ctl_fw_notify(c, IPC_SYNC, 0, service_id);
}

int
ctl_fw_status(struct ctl *c, struct ipc_stats *st, char *err, size_t errlen)
{
	struct ipc_rep rep;

	if (!c->conf.ipfd.enabled)
		return 0;
	if (ctl_fw_call(c, IPC_STATUS, 0, 0, &rep, err, errlen) == -1)
		return -1;
	*st = rep.stats;
	return 1;
}

void
ctl_fw_close(struct ctl *c)
{
	if (c->ipfd != NULL)
		ipc_close(c->ipfd);
	c->ipfd = NULL;
}
