#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "authd.h"
#include "passwd.h"

/*
 * Directory logins (docs/identity.md): the only file that includes ldap.h.
 * Called on the hash workers only (hashpool.c), never on an HTTP thread.
 *
 * One connection per check, always over TLS (ldaps://, or ldap:// with
 * StartTLS, which is required: a failed StartTLS fails the check), the
 * server's certificate verified against [identity] ldap_ca_file. Then: bind
 * as the search account (or anonymously), find the user's DN by
 * ldap_user_attr=NAME under ldap_user_base (exactly one entry), bind as that
 * DN with the password, and, with ldap_group_base set, read the cn of every
 * groupOfNames there that has the DN as member.
 */

#define LDAP_TIMEOUT_S 5

static int
fail(char *err, size_t errlen, const char *what, int rc)
{
	snprintf(err, errlen, "%s: %s", what, ldap_err2string(rc));
	return EXTV_ERROR;
}

/* Connects and secures the connection. 0, or an EXTV_ERROR with err. */
static int
connect_tls(const struct conf_identity *id, LDAP **ld, char *err, size_t errlen)
{
	struct timeval tv = { LDAP_TIMEOUT_S, 0 };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;

	if ((rc = ldap_initialize(ld, id->ldap_url)) != LDAP_SUCCESS)
		return fail(err, errlen, "ldap_initialize", rc);
	ldap_set_option(*ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(*ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(*ld, LDAP_OPT_TIMEOUT, &tv);
	ldap_set_option(*ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(*ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	if (id->ldap_ca_file[0] != '\0' &&
	    (rc = ldap_set_option(*ld, LDAP_OPT_X_TLS_CACERTFILE, id->ldap_ca_file)) != LDAP_OPT_SUCCESS)
		return fail(err, errlen, "CA file", rc);
	if ((rc = ldap_set_option(*ld, LDAP_OPT_X_TLS_NEWCTX, &zero)) != LDAP_OPT_SUCCESS)
		return fail(err, errlen, "TLS context", rc);
	if (strncmp(id->ldap_url, "ldap://", 7) == 0 &&
	    (rc = ldap_start_tls_s(*ld, NULL, NULL)) != LDAP_SUCCESS)
		return fail(err, errlen, "StartTLS", rc);
	return 0;
}

static int
bind_as(LDAP *ld, const char *dn, const char *pw)
{
	struct berval cred = { strlen(pw), (char *)pw };

	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* The search account's bind (anonymous without ldap_bind_dn). 0 or EXTV_ERROR. */
static int
bind_searcher(const struct conf_identity *id, LDAP *ld, char *err, size_t errlen)
{
	char pw[PASSWD_MAX + 1], why[160];
	int rc;

	if (id->ldap_bind_dn[0] == '\0')
		return 0;
	if (passwd_read_file(id->ldap_bind_password_file, pw, sizeof pw, why, sizeof why) == -1) {
		snprintf(err, errlen, "ldap_bind_password_file: %s", why);
		return EXTV_ERROR;
	}
	rc = bind_as(ld, id->ldap_bind_dn, pw);
	explicit_bzero(pw, sizeof pw);
	return rc == LDAP_SUCCESS ? 0 : fail(err, errlen, "search account bind", rc);
}

/* value escaped for a search filter (RFC 4515), into out. 0 or -1. */
static int
escaped(const char *value, char *out, size_t n)
{
	struct berval in = { strlen(value), (char *)value }, esc = { 0, NULL };
	int w;

	if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
		return -1;
	w = snprintf(out, n, "%s", esc.bv_val);
	ber_memfree(esc.bv_val);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The user's DN into dn. 0, EXTV_UNKNOWN (no entry), or EXTV_ERROR. */
static int
find_user(const struct conf_identity *id, LDAP *ld, const char *user, char *dn, size_t n,
          char *err, size_t errlen)
{
	char f[512], v[256], *d;
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPMessage *res = NULL;
	int rc, count;

	if (escaped(user, v, sizeof v) == -1 ||
	    snprintf(f, sizeof f, "(%s=%s)", id->ldap_user_attr, v) >= (int)sizeof f)
		return fail(err, errlen, "user filter", LDAP_FILTER_ERROR);
	rc = ldap_search_ext_s(ld, id->ldap_user_base, LDAP_SCOPE_SUBTREE, f, attrs, 0, NULL, NULL,
	                       NULL, 2, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return fail(err, errlen, "user search", rc);
	}
	count = ldap_count_entries(ld, res);
	if (count != 1) {
		ldap_msgfree(res);
		if (count == 0)
			return EXTV_UNKNOWN;
		snprintf(err, errlen, "user search: %s=%s names more than one entry",
		         id->ldap_user_attr, user);
		return EXTV_ERROR;
	}
	d = ldap_get_dn(ld, ldap_first_entry(ld, res));
	rc = d != NULL && strlen(d) < n ? 0 : -1;
	if (rc == 0)
		memcpy(dn, d, strlen(d) + 1);
	ldap_memfree(d);
	ldap_msgfree(res);
	return rc == 0 ? 0 : fail(err, errlen, "user DN", LDAP_DECODING_ERROR);
}

/* The cn of every group under ldap_group_base with dn as member (valid names only). */
static int
find_groups(const struct conf_identity *id, LDAP *ld, const char *dn, struct hash_check *c,
            char *err, size_t errlen)
{
	char f[1200], esc[1100];
	char *attrs[] = { "cn", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **v;
	int rc;

	if (id->ldap_group_base[0] == '\0')
		return 0;
	if (escaped(dn, esc, sizeof esc) == -1 ||
	    snprintf(f, sizeof f, "(&(objectClass=groupOfNames)(member=%s))", esc) >= (int)sizeof f)
		return fail(err, errlen, "group filter", LDAP_FILTER_ERROR);
	rc = ldap_search_ext_s(ld, id->ldap_group_base, LDAP_SCOPE_SUBTREE, f, attrs, 0, NULL, NULL,
	                       NULL, HASH_GROUPS_MAX, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		return fail(err, errlen, "group search", rc);
	}
	for (e = ldap_first_entry(ld, res); e != NULL && c->n_groups < HASH_GROUPS_MAX;
	     e = ldap_next_entry(ld, e)) {
		if ((v = ldap_get_values_len(ld, e, "cn")) == NULL)
			continue;
		if (v[0] != NULL && v[0]->bv_len <= NAME_MAX_LEN) {
			memcpy(c->groups[c->n_groups], v[0]->bv_val, v[0]->bv_len);
			c->groups[c->n_groups][v[0]->bv_len] = '\0';
			if (name_valid(c->groups[c->n_groups]))
				c->n_groups++;
		}
		ldap_value_free_len(v);
	}
	c->groups_known = 1;
	ldap_msgfree(res);
	return 0;
}

int
ldap_check(const struct conf_identity *id, struct hash_check *c, char *err, size_t errlen)
{
	char dn[1024];
	LDAP *ld = NULL;
	int rc;

	if (c->pw[0] == '\0')
		return EXTV_BAD;                 /* an empty password would bind anonymously */
	if ((rc = connect_tls(id, &ld, err, errlen)) == 0 &&
	    (rc = bind_searcher(id, ld, err, errlen)) == 0 &&
	    (rc = find_user(id, ld, c->user, dn, sizeof dn, err, errlen)) == 0) {
		rc = bind_as(ld, dn, c->pw);
		if (rc == LDAP_INVALID_CREDENTIALS)
			rc = EXTV_BAD;
		else if (rc != LDAP_SUCCESS)
			rc = fail(err, errlen, "user bind", rc);
		else
			rc = find_groups(id, ld, dn, c, err, errlen) == 0 ? EXTV_OK : EXTV_ERROR;
	}
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}
