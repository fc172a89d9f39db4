#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "log.h"
#include "passwd.h"

/*
 * Name and password checks for every login form (docs/security.md, "Login
 * throttling"). The order matters:
 *   1. find the login's source: a device cookie or address that logged in to
 *      the account before is trusted (lockout.c);
 *   2. refuse at once, remembering nothing, when the client address's bucket
 *      or the global one is empty (throttle.c), so a flood of guesses never
 *      queues for a hash worker nor fills a table;
 *   3. refuse while the (account, source) backoff runs, or the account's for
 *      an untrusted source; else count the failure before the hash (lockout.c);
 *   4. queue for a hash worker (hashpool.c: memory-hard hashes are bounded to
 *      hash_workers);
 *   5. the worker reserves the address's and the global check, verifies (an
 *      unknown name against a dummy hash: same cost) and settles before
 *      taking the next: at most hash_workers reservations are ever
 *      outstanding, so parallel guesses cannot overdraw a bucket, and many
 *      honest users behind one NAT address logging in at once are not refused
 *      (as long as throttle_ip_burst >= hash_workers);
 *   6. a right password clears its source's count and remembers the source.
 *
 * Where the password is checked (docs/identity.md): a local account against
 * its scrypt hash; a pam or ldap account by its source; a name sekisho does
 * not know by the directory when [identity] ldap_url is set, else by PAM when
 * pam_service is set. On the same hash workers under the same throttle. A
 * name its source accepts becomes an account of that source (role user)
 * before the login settles; an account its source no longer knows is
 * disabled; an ldap account's groups follow the directory's. A local name
 * never goes to an external source.
 */

/*
 * After a successful check, a hash made with weaker parameters than today's
 * default is replaced by one made with it: the password is in hand only now.
 * It costs this one login a second hash; a failure is logged and changes
 * nothing else. st NULL: take the request's connection again.
 */
static void
upgrade(struct req *q, struct store *st, struct store_user *u, const char *pw)
{
	char h[HASH_MAX_LEN + 1];

	if (u->source != SOURCE_LOCAL || !passwd_needs_rehash(u->pwhash, &passwd_default) ||
	    hashpool_hash(q->a, pw, h, sizeof h) == -1)
		return;
	if (st == NULL && (st = req_store(q)) == NULL)
		return;
	if (store_user_rehash(st, u->id, u->pwhash, h) != STORE_OK) {
		log_warn("event=rehash_failed user=%s error=\"%s\"", u->name, store_error(st));
		return;
	}
	memcpy(u->pwhash, h, sizeof h);
	log_info("event=rehash user=%s params=ln%d,r%d,p%d", u->name, passwd_default.ln,
	         passwd_default.r, passwd_default.p);
}

/* The check; with release, q's store connection goes back to the pool during the hash. */
/* Steps 1-3 above. AUTHN_OK to go on to the hash, else the answer. */
static int
admit_attempt(struct req *q, struct store *st, const char *account, struct lockout_src *src,
              int *retry_s)
{
	struct throttle_params p;
	int rc;

	memset(src, 0, sizeof *src);
	snprintf(src->source, sizeof src->source, "%s", q->ipstr);
	if (account != NULL && lockout_source(q, st, account, src) == -1)
		return AUTHN_STORE_DOWN;
	if (throttle_check(q->a->throttle, q->ipstr, src->flags, clock_mono_ms(), retry_s) == -1)
		return AUTHN_THROTTLED;
	if (account == NULL)
		return AUTHN_OK;
	throttle_params_conf(&q->v->conf, &p);
	if ((rc = lockout_begin(st, &p, account, src, q->now, retry_s)) == -1) {
		q->st_broken = 1;
		return AUTHN_STORE_DOWN;
	}
	return rc == 1 ? AUTHN_THROTTLED : AUTHN_OK;
}

/* The external source that checks a name sekisho does not know; -1: none. */
static int
new_names_source(const struct conf_identity *id)
{
	if (id->ldap_url[0] != '\0')
		return SOURCE_LDAP;
	return id->pam_service[0] != '\0' ? SOURCE_PAM : -1;
}

static int
source_on(const struct conf_identity *id, int source)
{
	return source == SOURCE_LDAP ? id->ldap_url[0] != '\0' : id->pam_service[0] != '\0';
}

/* What the hash worker is to check for account (NULL: not a valid name). */
static void
plan(struct req *q, const char *account, int found, const struct store_user *u, const char *pw,
     struct hash_check *c)
{
	const struct conf_identity *id = &q->v->conf.identity;
	int external = found && u->source != SOURCE_LOCAL;
	int source = found ? u->source : new_names_source(id);

	memset(c, 0, sizeof *c);
	c->user = account != NULL ? account : "";
	c->pw = pw;
	c->hash = found && !external ? u->pwhash : q->a->dummy_hash;
	c->account_ok = found && !external && !u->disabled;
	if (account == NULL || source == SOURCE_LOCAL || source == -1 || !source_on(id, source))
		return;                 /* an external account without its source matches nothing */
	c->ext = id;
	c->source = source;
	c->account_ok = !found || !u->disabled;
}

/* A name its source accepted and sekisho did not know becomes an account of it; u gets it. */
static int
first_login(struct req *q, struct store *st, const char *account, int source,
            struct store_user *u)
{
	char err[256] = "", detail[64];
	int rc = store_user_add_external(st, account, source, q->now, NULL, err, sizeof err);

	if (rc != STORE_OK && rc != STORE_EXISTS) {
		log_err("event=user_add_failed user=%s source=%s error=\"%s\"", account,
		        source_str(source), err);
		return AUTHN_STORE_DOWN;
	}
	if (store_user_get(st, account, u) != STORE_OK)
		return AUTHN_STORE_DOWN;
	if (u->disabled || u->source != source)
		return AUTHN_BAD;
	if (rc == STORE_OK) {
		log_info("event=user_add user=%s source=%s", account, source_str(source));
		snprintf(detail, sizeof detail, "source=%s first login", source_str(source));
		if (store_audit(st, q->now, "-", "user.add", "", account, detail) != STORE_OK)
			log_warn("event=audit_failed action=user.add error=\"%s\"", store_error(st));
	}
	return AUTHN_OK;
}

/* An external account its source no longer knows is disabled (its rights and logins end). */
static void
source_gone(struct req *q, struct store *st, const struct store_user *u)
{
	char err[256] = "", detail[80];

	if (u->disabled || store_user_set_disabled(st, u->id, 1, q->now, err, sizeof err) != STORE_OK) {
		if (err[0] != '\0')
			log_warn("event=user_disable_failed user=%s error=\"%s\"", u->name, err);
		return;
	}
	log_info("event=user_disable user=%s reason=unknown_to_%s", u->name, source_str(u->source));
	snprintf(detail, sizeof detail, "source=%s no longer knows the user", source_str(u->source));
	if (store_audit(st, q->now, "-", "user.disable", "", u->name, detail) != STORE_OK)
		log_warn("event=audit_failed action=user.disable error=\"%s\"", store_error(st));
}

struct all_groups {
	struct store_group g[HASH_GROUPS_MAX * 4];
	int n;
};

static int
note_group(const struct store_group *g, void *arg)
{
	struct all_groups *a = arg;

	if (a->n == (int)(sizeof a->g / sizeof a->g[0]))
		return 1;
	a->g[a->n++] = *g;
	return 0;
}

static int
in_directory(const struct hash_check *c, const char *name)
{
	for (int i = 0; i < c->n_groups; i++)
		if (strcmp(c->groups[i], name) == 0)
			return 1;
	return 0;
}

/*
 * An ldap account's sekisho groups follow the directory at each login: it is
 * in every sekisho group whose name is one of its directory groups, and in no
 * other (a sekisho group stands for the directory group of the same name).
 */
static void
follow_directory(struct store *st, const struct store_user *u,
                 const struct hash_check *c)
{
	struct all_groups *a = calloc(1, sizeof *a);
	int want, rc;

	if (a == NULL || store_group_list(st, 0, note_group, a) != STORE_OK) {
		log_warn("event=group_sync_failed user=%s", u->name);
		free(a);
		return;
	}
	for (int i = 0; i < a->n; i++) {
		want = in_directory(c, a->g[i].name);
		rc = store_group_member(st, a->g[i].id, u->id, want, NULL, 0);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			log_warn("event=group_sync_failed user=%s group=%s error=\"%s\"", u->name,
			         a->g[i].name, store_error(st));
	}
	free(a);
}

/* After the worker: what the check means for the store. The result, maybe changed. */
static int
after_check(struct req *q, struct store *st, const char *account, int found,
            struct store_user *u, const struct hash_check *c, int result)
{
	if (c->ext == NULL || account == NULL)
		return result;
	if (st == NULL && (st = req_store(q)) == NULL)
		return result == AUTHN_OK ? AUTHN_STORE_DOWN : result;
	if (result == AUTHN_OK && !found)
		result = first_login(q, st, account, c->source, u);
	if (result == AUTHN_OK && c->source == SOURCE_LDAP && c->groups_known)
		follow_directory(st, u, c);
	if (c->gone && found)
		source_gone(q, st, u);
	return result;
}

int
authn_prepare(struct req *q, struct store *st, const char *name, const char *pw,
              struct authn_login *l, int *retry_s)
{
	int rc = STORE_NOTFOUND, result;

	memset(l, 0, sizeof *l);
	if (name_valid(name)) {
		snprintf(l->account_buf, sizeof l->account_buf, "%s", name);
		l->account = l->account_buf;
	}
	if ((result = admit_attempt(q, st, l->account, &l->src, retry_s)) != AUTHN_OK)
		return result;
	if (l->account != NULL)
		rc = store_user_get(st, l->account, &l->u);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		q->st_broken = 1;
		lockout_settle(q, st, l->account, &l->src, AUTHN_STORE_DOWN);
		return AUTHN_STORE_DOWN;
	}
	l->found = rc == STORE_OK;
	plan(q, l->account, l->found, &l->u, pw, &l->c);
	return AUTHN_OK;
}

int
authn_finish(struct req *q, struct store *st, struct authn_login *l, const char *pw, int result)
{
	result = after_check(q, st, l->account, l->found, &l->u, &l->c, result);
	lockout_settle(q, st, l->account, &l->src, result);
	if (result == AUTHN_OK)
		upgrade(q, st, &l->u, pw);
	return result;
}

int
authn_check(struct req *q, struct store *st, const char *name, const char *pw,
            struct store_user *u, int *retry_s)
{
	struct authn_login *l = malloc(sizeof *l);
	int result;

	if (l == NULL)
		return AUTHN_BUSY;
	if ((result = authn_prepare(q, st, name, pw, l, retry_s)) == AUTHN_OK) {
		result = hashpool_verify(q->a->hashes, q->ipstr, l->src.flags, &l->c, retry_s);
		result = authn_finish(q, st, l, pw, result);
		*u = l->u;
	}
	free(l);
	return result;
}
