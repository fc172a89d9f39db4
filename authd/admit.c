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
	return outcome == ADMIT_BAD_URL ? "bad_url" : admission_outcome_str(outcome);
}

int
admit_family_needed(const struct store_service *svc, const struct addr *ip)
{
	int other = 0;

	for (int i = 0; i < svc->n_guards; i++) {
		if (svc->guards[i].addr.family == ip->family)
			return 0;
		other = svc->guards[i].addr.family;
	}
	return other;
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

/* The firewall side of the admission (common/admission.c) through authd's ipfd client. */
static int
fw_admit(void *arg, int64_t right_id, char *err, size_t errlen)
{
	return fwc_call(arg, IPC_ADMIT, right_id, 0, err, errlen);
}

/*
 * Queued for the notifier thread, which sends it at once and retries every
 * second while ipfd is away: the user never waits on a second call.
 */
static void
fw_revoke(void *arg, int64_t right_id)
{
	fwc_later(arg, IPC_REVOKE, right_id, 0);
}

static void
fw_sync(void *arg, int64_t service_id)
{
	fwc_later(arg, IPC_SYNC, 0, service_id);
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

/*
 * No entry code for right_id: it is undone, unless a concurrent login of the
 * account has replaced it since ipfd confirmed it (then the newer login holds
 * the access and this is no store failure).
 */
static void
code_failed(struct store *st, const struct admission_fw *afw, const struct admit_in *in,
            int64_t right_id, struct admit_out *out)
{
	char err[160];

	if (admission_replaced(st, right_id)) {
		out->outcome = ADMIT_REPLACED;
		snprintf(out->why, sizeof out->why, "right %lld replaced by a concurrent login before "
		         "its entry code was stored", (long long)right_id);
		return;
	}
	out->outcome = ADMIT_STORE_DOWN;
	if (admission_roll_back(st, afw, right_id, in->now, err, sizeof err) == -1)
		log_err("event=rollback_failed right=%lld error=\"%s\"", (long long)right_id, err);
}

/*
 * Removes the service's lapsed places before the admission, so each is
 * audited with its user's name; the admission's own lapse step then finds
 * none (but for a place that lapsed on another gateway or in the sweeper in
 * between, which that one names, or a race it counts: audit_lapsed).
 */
static void
lapse_named(struct store *st, const struct admit_in *in)
{
	queue_lapse(st, in->svc->id, in->svc->name, in->now, in->queue->lapse_s, "-");
}

/* Places that lapsed inside the admission's own step (a race: see lapse_named), counted. */
static void
audit_lapsed(struct store *st, const struct admit_in *in, int n)
{
	char detail[64];

	log_info("event=queue_lapse service=%s places=%d", in->svc->name, n);
	snprintf(detail, sizeof detail, "places=%d", n);
	if (store_audit(st, in->now, "-", "queue.lapse", in->svc->name, "", detail) != STORE_OK)
		log_warn("event=audit_failed action=queue.lapse error=\"%s\"", store_error(st));
	ametrics_queue_lapsed(n);
}

void
admit_run(struct store *st, struct fwc *fw, const struct admit_in *in, struct admit_out *out)
{
	const struct admission_fw afw = { fw_admit, fw_revoke, fw_sync, fw };
	struct admission a;
	struct timespec t0;
	char probe[ENTRY_URL_MAX];

	memset(out, 0, sizeof *out);
	if (admit_entry_url(in->svc->url, in->svc->entry_url, "x", probe, sizeof probe) == -1) {
		out->outcome = ADMIT_BAD_URL;
		snprintf(out->why, sizeof out->why, "no entry URL from the service's URLs");
		return;
	}
	if (in->queue != NULL) {
		lapse_named(st, in);
		admission_queue_run(st, &afw, in->user->id, in->svc->id, &in->ip, in->now, in->queue,
		                    &a);
	} else
		admission_run(st, &afw, in->user->id, in->svc->id, &in->ip, in->now, &a);
	out->outcome = a.outcome;
	out->adm = a.adm;
	out->place = a.place;
	if (a.place.lapsed > 0)
		audit_lapsed(st, in, a.place.lapsed);
	out->ms_store = a.ms_store;
	out->ms_fw = a.ms_fw;
	snprintf(out->why, sizeof out->why, "%.150s", a.why);
	if (a.outcome == ADMISSION_DENIED || a.outcome == ADMISSION_QUEUE_FULL)
		out->retry_after_s = retry_after(st, in);
	if (a.outcome == ADMISSION_OK) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (code_step(st, in, out) == -1) {
			code_failed(st, &afw, in, a.adm.right.id, out);
			return;
		}
		out->ms_code = clock_elapsed_ns(&t0) / 1e6;
	}
	if (a.outcome == ADMISSION_RATE)
		out->retry_after_s = (int)(a.adm.rate_next > in->now ? a.adm.rate_next - in->now : 1);
	if (a.outcome == ADMISSION_OK || a.outcome == ADMISSION_DENIED ||
	    a.outcome == ADMISSION_RATE ||
	    a.outcome == ADMISSION_FW_DOWN || a.outcome == ADMISSION_FORBIDDEN ||
	    a.outcome == ADMISSION_QUEUE_FULL || (a.outcome == ADMISSION_QUEUED && a.place.joined) ||
	    a.outcome == ADMISSION_UNAVAILABLE)
		if (admission_audit(st, in->now, in->user->name, NULL, in->user->name, in->svc->name,
		                    &in->ip, &a) != STORE_OK)
			log_warn("event=audit_failed action=admit error=\"%s\"", store_error(st));
}

void
admit_ended(struct store *st, struct fwc *fw, const struct store_right *r, const char *actor,
            int64_t now)
{
	char err[160], ip[ADDR_STR_MAX], detail[AUDIT_TEXT_MAX + 1];

	if (fwc_call(fw, IPC_REVOKE, r->id, 0, err, sizeof err) == -1) {
		log_warn("event=revoke_failed right=%lld error=\"%s\"", (long long)r->id, err);
		fwc_revoke_later(fw, r->id);
	}
	addr_str(&r->ip, ip, sizeof ip);
	log_info("event=end right=%lld user=%s service=%s ip=%s reason=%s by=%s", (long long)r->id,
	         r->user_name, r->service_name, ip, end_reason_str(r->end_reason), actor);
	snprintf(detail, sizeof detail, "right=%lld ip=%s reason=%s", (long long)r->id, ip,
	         end_reason_str(r->end_reason));
	if (store_audit(st, now, actor, "end", r->service_name, r->user_name, detail) != STORE_OK)
		log_warn("event=audit_failed action=end error=\"%s\"", store_error(st));
	ametrics_end(r->end_reason);
}
