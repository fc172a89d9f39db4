#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "ipc.h"
#include "log.h"
#include "token.h"

const char *
admit_outcome_str(int outcome)
{
	switch (outcome) {
	case ADMIT_OK:         return "ok";
	case ADMIT_DENIED:     return "denied";
	case ADMIT_NOSERVICE:  return "no_service";
	case ADMIT_STORE_DOWN: return "store_unavailable";
	case ADMIT_FW_DOWN:    return "ipfd_unavailable";
	case ADMIT_BAD_URL:    return "bad_url";
	default:               return "unknown";
	}
}

int
admit_origin(const char *url, char *out, size_t n)
{
	size_t skip, host;

	if (strncmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else
		return -1;
	host = strcspn(url + skip, "/?#");
	if (host == 0 || skip + host >= n)
		return -1;
	memcpy(out, url, skip + host);
	out[skip + host] = '\0';
	return 0;
}

int
admit_entry_url(const char *url, const char *entry_url, const char *code, char *out, size_t n)
{
	char origin[URL_MAX_LEN + 1];
	size_t base;
	int w;

	if (entry_url != NULL && entry_url[0] != '\0') {
		if (admit_origin(entry_url, origin, sizeof origin) == -1)
			return -1;
		base = strcspn(entry_url, "#");
		w = snprintf(out, n, "%.*s%scode=%s", (int)base, entry_url,
		             memchr(entry_url, '?', base) != NULL ? "&" : "?", code);
	} else {
		if (admit_origin(url, origin, sizeof origin) == -1)
			return -1;
		w = snprintf(out, n, "%s/_sekisho/enter?code=%s", origin, code);
	}
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

static double
ms_since(const struct timespec *t0)
{
	return elapsed_s(t0) * 1e3;
}

static void
audit_admit(struct store *st, const struct admit_in *in, const struct admit_out *out)
{
	char ip[ADDR_STR_MAX], detail[AUDIT_TEXT_MAX + 1];
	const struct store_admission *a = &out->adm;

	addr_str(&in->ip, ip, sizeof ip);
	if (out->outcome == ADMIT_OK)
		snprintf(detail, sizeof detail, "right=%lld ip=%s active=%d cap=%d replaced=%lld",
		         (long long)a->right.id, ip, a->active, a->cap,
		         a->replaced ? (long long)a->replaced_id : 0LL);
	else
		snprintf(detail, sizeof detail, "reason=%s ip=%s active=%d cap=%d",
		         admit_outcome_str(out->outcome), ip, a->active, a->cap);
	if (store_audit(st, in->now, in->user->name, out->outcome == ADMIT_OK ? "admit" : "deny",
	                in->svc->name, in->user->name, detail) != STORE_OK)
		log_warn("event=audit_failed action=admit why=\"%s\"", store_error(st));
}

struct soonest { int64_t at; };

static int
note_soonest(const struct store_right *r, void *arg)
{
	struct soonest *s = arg;
	int64_t end = r->expires_at < r->idle_deadline ? r->expires_at : r->idle_deadline;

	if (s->at == 0 || end < s->at)
		s->at = end;
	return 0;
}

/* Seconds until the first live right of the service ends by time (1..3600). */
static int
retry_after(struct store *st, const struct admit_in *in)
{
	struct soonest s = { 0 };
	int64_t w;

	if (store_right_list(st, in->svc->id, 0, note_soonest, &s) != STORE_OK || s.at == 0)
		return 60;
	w = s.at - in->now;
	return w < 1 ? 1 : (w > 3600 ? 3600 : (int)w);
}

/* Undoes an admitted right that cannot be completed; ipfd is told when it can be. */
static void
roll_back(struct store *st, struct fwc *fw, const struct admit_in *in, int64_t right_id)
{
	char err[160];

	if (store_end(st, right_id, END_ROLLBACK, in->now, NULL) != STORE_OK)
		log_err("event=rollback_failed right=%lld why=\"%s\"", (long long)right_id,
		        store_error(st));
	if (fwc_call(fw, IPC_REVOKE, right_id, 0, err, sizeof err) == -1)
		fwc_revoke_later(fw, right_id);
}

/*
 * Tells ipfd what else the admission changed (a replaced right, reaped
 * rights) without making the user wait: the notifier sends it at once.
 */
static void
fw_follow_up(struct fwc *fw, const struct admit_in *in, const struct store_admission *a)
{
	if (a->replaced)
		fwc_later(fw, IPC_REVOKE, a->replaced_id, 0);
	if (a->reaped > 0)
		fwc_later(fw, IPC_SYNC, 0, in->svc->id);
}

static int
store_step(struct store *st, const struct admit_in *in, struct admit_out *out)
{
	int rc = store_admit(st, in->user->id, in->svc->id, &in->ip, in->now, &out->adm);

	switch (rc) {
	case STORE_OK:
		return 0;
	case STORE_DENIED:
		out->outcome = ADMIT_DENIED;
		out->retry_after_s = retry_after(st, in);
		return -1;
	case STORE_NOTFOUND:
	case STORE_INVALID:
		out->outcome = ADMIT_NOSERVICE;
		return -1;
	default:
		out->outcome = ADMIT_STORE_DOWN;
		snprintf(out->why, sizeof out->why, "store: %s", store_error(st));
		return -1;
	}
}

static int
code_step(struct store *st, const struct admit_in *in, struct admit_out *out)
{
	char code[RANDOM_STR_LEN + 1], hash[CODE_HASH_LEN + 1];

	if (random_b64url(code, sizeof code, RANDOM_BYTES) == -1) {
		snprintf(out->why, sizeof out->why, "no random bytes for the entry code");
		return -1;
	}
	sha256_hex(code, strlen(code), hash);
	if (store_code_put(st, hash, out->adm.right.id, in->now + in->code_ttl_s) != STORE_OK) {
		snprintf(out->why, sizeof out->why, "store: %s", store_error(st));
		return -1;
	}
	if (admit_entry_url(in->svc->url, in->svc->entry_url, code, out->location,
	                    sizeof out->location) == -1) {
		snprintf(out->why, sizeof out->why, "no entry URL from the service's URLs");
		return -1;
	}
	return 0;
}

void
admit_run(struct store *st, struct fwc *fw, const struct admit_in *in, struct admit_out *out)
{
	struct timespec t0;
	char probe[ENTRY_URL_MAX], err[160];

	memset(out, 0, sizeof *out);
	out->outcome = ADMIT_OK;
	if (admit_entry_url(in->svc->url, in->svc->entry_url, "x", probe, sizeof probe) == -1) {
		out->outcome = ADMIT_BAD_URL;
		snprintf(out->why, sizeof out->why, "no entry URL from the service's URLs");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_step(st, in, out) == -1)
		goto done;
	out->ms_store = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fwc_call(fw, IPC_ADMIT, out->adm.right.id, 0, err, sizeof err) == -1) {
		out->outcome = ADMIT_FW_DOWN;
		snprintf(out->why, sizeof out->why, "ipfd: %.140s", err);
		roll_back(st, fw, in, out->adm.right.id);
		fw_follow_up(fw, in, &out->adm);
		goto done;
	}
	out->ms_fw = ms_since(&t0);
	fw_follow_up(fw, in, &out->adm);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (code_step(st, in, out) == -1) {
		out->outcome = ADMIT_STORE_DOWN;
		roll_back(st, fw, in, out->adm.right.id);
		goto done;
	}
	out->ms_code = ms_since(&t0);
done:
	if (out->outcome == ADMIT_OK || out->outcome == ADMIT_DENIED ||
	    out->outcome == ADMIT_FW_DOWN)
		audit_admit(st, in, out);
}

void
admit_ended(struct store *st, struct fwc *fw, const struct store_right *r, const char *actor,
            int64_t now)
{
	char err[160], ip[ADDR_STR_MAX], detail[AUDIT_TEXT_MAX + 1];

	if (fwc_call(fw, IPC_REVOKE, r->id, 0, err, sizeof err) == -1) {
		log_warn("event=revoke_failed right=%lld why=\"%s\"", (long long)r->id, err);
		fwc_revoke_later(fw, r->id);
	}
	addr_str(&r->ip, ip, sizeof ip);
	log_info("event=end right=%lld user=%s service=%s ip=%s reason=%s by=%s", (long long)r->id,
	         r->user_name, r->service_name, ip, end_reason_str(r->end_reason), actor);
	snprintf(detail, sizeof detail, "right=%lld ip=%s reason=%s", (long long)r->id, ip,
	         end_reason_str(r->end_reason));
	if (store_audit(st, now, actor, "end", r->service_name, r->user_name, detail) != STORE_OK)
		log_warn("event=audit_failed action=end why=\"%s\"", store_error(st));
	ametrics_end(r->end_reason);
}
