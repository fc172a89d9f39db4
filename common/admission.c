#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "clock.h"

const char *
admission_outcome_str(int outcome)
{
	switch (outcome) {
	case ADMISSION_OK:         return "ok";
	case ADMISSION_DENIED:     return "denied";
	case ADMISSION_NOTFOUND:   return "no_service";
	case ADMISSION_STORE_DOWN: return "store_unavailable";
	case ADMISSION_FW_DOWN:    return "ipfd_unavailable";
	case ADMISSION_REPLACED:   return "replaced";
	case ADMISSION_FORBIDDEN:  return "forbidden";
	case ADMISSION_QUEUED:     return "queued";
	case ADMISSION_QUEUE_FULL: return "queue_full";
	case ADMISSION_UNAVAILABLE: return "service_down";
	case ADMISSION_RATE:       return "rate_limited";
	default:                   return "unknown";
	}
}

static int
outcome_of(int rc)
{
	switch (rc) {
	case STORE_OK:       return ADMISSION_OK;
	case STORE_DENIED:   return ADMISSION_DENIED;
	case STORE_QUEUED:   return ADMISSION_QUEUED;
	case STORE_NOTFOUND:
	case STORE_INVALID:  return ADMISSION_NOTFOUND;
	default:             return ADMISSION_STORE_DOWN;
	}
}

int
admission_roll_back(struct store *st, const struct admission_fw *fw, int64_t right_id,
                    int64_t now, char *err, size_t errlen)
{
	int rc = store_end(st, right_id, END_ROLLBACK, now, NULL);

	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		snprintf(err, errlen, "ending right %lld: %s", (long long)right_id, store_error(st));
	fw->revoke(fw->arg, right_id);
	return rc == STORE_OK || rc == STORE_NOTFOUND ? 0 : -1;
}

int
admission_replaced(struct store *st, int64_t right_id)
{
	struct store_right r;

	return store_right_get(st, right_id, &r) == STORE_OK && r.end_reason == END_REPLACED;
}

/* What else the admission changed, for ipfd, without waiting. */
static void
follow_up(const struct admission_fw *fw, int64_t service_id, const struct store_admission *a)
{
	if (a->replaced)
		fw->revoke(fw->arg, a->replaced_id);
	if (a->reaped > 0)
		fw->sync(fw->arg, service_id);
}

/*
 * ipfd did not confirm the new right: step 3, unless a concurrent admission
 * of the same user and service has replaced it meanwhile (ipfd then refuses a
 * right that is no longer live); that is no firewall failure.
 */
static void
fw_refused(struct store *st, const struct admission_fw *fw, int64_t now, const char *err,
           struct admission *out)
{
	char rb[160];

	if (admission_replaced(st, out->adm.right.id)) {
		out->outcome = ADMISSION_REPLACED;
		snprintf(out->why, sizeof out->why, "right %lld replaced by a concurrent admission "
		         "before ipfd confirmed it (ipfd: %.100s)", (long long)out->adm.right.id, err);
		return;
	}
	out->outcome = ADMISSION_FW_DOWN;
	if (admission_roll_back(st, fw, out->adm.right.id, now, rb, sizeof rb) == -1)
		snprintf(out->why, sizeof out->why, "ipfd: %.80s; %.100s", err, rb);
	else
		snprintf(out->why, sizeof out->why, "ipfd: %.180s", err);
}

int
admission_check(struct store *st, int64_t user_id, int64_t service_id, char *why, size_t whylen)
{
	int rc = store_acl_allows(st, service_id, user_id);

	if (rc == STORE_DENIED)
		return ADMISSION_FORBIDDEN;
	rc = outcome_of(rc);
	if (rc == ADMISSION_STORE_DOWN)
		snprintf(why, whylen, "store: %.180s", store_error(st));
	return rc;
}

/* Steps 2-4 after the store said rc (filled in out->adm). */
static void
after_store(struct store *st, const struct admission_fw *fw, int64_t service_id, int rc,
            int64_t now, const struct timespec *t0, struct admission *out)
{
	struct timespec t1;
	char err[160];

	out->ms_store = clock_elapsed_ns(t0) / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->outcome = outcome_of(rc);
	if (out->outcome == ADMISSION_DENIED && out->adm.down)
		out->outcome = ADMISSION_UNAVAILABLE;
	else if (out->outcome == ADMISSION_DENIED && out->adm.rate)
		out->outcome = ADMISSION_RATE;
	if (out->outcome != ADMISSION_OK) {
		if (out->outcome == ADMISSION_STORE_DOWN)
			snprintf(out->why, sizeof out->why, "store: %.180s", store_error(st));
		else
			follow_up(fw, service_id, &out->adm);
		return;
	}
	if (fw->admit(fw->arg, out->adm.right.id, err, sizeof err) == -1)
		fw_refused(st, fw, now, err, out);
	out->ms_fw = clock_elapsed_ns(&t1) / 1e6;
	follow_up(fw, service_id, &out->adm);
}

void
admission_run(struct store *st, const struct admission_fw *fw, int64_t user_id,
              int64_t service_id, const struct addr *ip, int64_t now, struct admission *out)
{
	struct timespec t0;
	int rc;

	memset(out, 0, sizeof *out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out->outcome = admission_check(st, user_id, service_id, out->why, sizeof out->why);
	if (out->outcome != ADMISSION_OK)
		return;
	rc = store_admit(st, user_id, service_id, ip, now, &out->adm);
	after_store(st, fw, service_id, rc, now, &t0, out);
}

void
admission_queue_run(struct store *st, const struct admission_fw *fw, int64_t user_id,
                    int64_t service_id, const struct addr *ip, int64_t now,
                    const struct store_queue_rules *rules, struct admission *out)
{
	struct timespec t0;
	int rc;

	memset(out, 0, sizeof *out);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out->outcome = admission_check(st, user_id, service_id, out->why, sizeof out->why);
	if (out->outcome != ADMISSION_OK)
		return;
	rc = store_queue_admit(st, user_id, service_id, ip, now, rules, &out->adm, &out->place);
	after_store(st, fw, service_id, rc, now, &t0, out);
	if (rc == STORE_QUEUED)
		out->outcome = ADMISSION_QUEUED;
	else if (rc == STORE_DENIED && !out->adm.down)
		out->outcome = ADMISSION_QUEUE_FULL;
}

/*
 * " waited=SECONDS" for an admission from the line (the place joined before
 * now), and " turn_at=T" when the place's turn was stamped (store.h,
 * contract 6), else "".
 */
static const char *
from_line_text(const struct admission *a, int64_t now, char out[64])
{
	int w = 0;

	out[0] = '\0';
	if (a->place.joined_at > 0 && a->place.joined_at < now)
		w = snprintf(out, 64, " waited=%lld", (long long)(now - a->place.joined_at));
	if (a->place.turn_at > 0 && w >= 0 && w < 64)
		snprintf(out + w, 64 - (size_t)w, " turn_at=%lld", (long long)a->place.turn_at);
	return out;
}

int
admission_audit(struct store *st, int64_t now, const char *actor, const char *by,
                const char *user, const char *service, const struct addr *ip,
                const struct admission *a)
{
	char ips[ADDR_STR_MAX], who[NAME_MAX_LEN + 8] = "", detail[AUDIT_TEXT_MAX + 1], waited[64];
	const struct store_admission *m = &a->adm;

	addr_str(ip, ips, sizeof ips);
	if (by != NULL)
		snprintf(who, sizeof who, "by=%.*s ", NAME_MAX_LEN, by);
	if (a->outcome == ADMISSION_QUEUED)
		snprintf(detail, sizeof detail, "%sposition=%d waiting=%d ip=%s active=%d cap=%d", who,
		         a->place.position, a->place.waiting, ips, m->active, m->cap);
	else if (a->outcome == ADMISSION_OK)
		snprintf(detail, sizeof detail, "%sright=%lld ip=%s active=%d cap=%d replaced=%lld%s",
		         who, (long long)m->right.id, ips, m->active, m->cap,
		         m->replaced ? (long long)m->replaced_id : 0LL, from_line_text(a, now, waited));
	else if (a->outcome == ADMISSION_FW_DOWN)
		snprintf(detail, sizeof detail, "%sreason=%s ip=%s active=%d cap=%d right=%lld", who,
		         admission_outcome_str(a->outcome), ips, m->active, m->cap,
		         (long long)m->right.id);
	else
		snprintf(detail, sizeof detail, "%sreason=%s ip=%s active=%d cap=%d", who,
		         admission_outcome_str(a->outcome), ips, m->active, m->cap);
	return store_audit(st, now, actor, a->outcome == ADMISSION_OK ? "admit" :
	                   a->outcome == ADMISSION_QUEUED ? "queue.join" : "deny", service,
	                   user, detail);
}
