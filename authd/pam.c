#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

#include "authd.h"

/*
 * PAM logins (docs/identity.md): the only file that includes pam_appl.h.
 * Called on the hash workers only (hashpool.c), never on an HTTP thread: a
 * PAM stack may block for seconds (pam_faildelay, a remote module), and the
 * workers are already bounded and throttled like every password check.
 *
 * One PAM transaction per check: start (with the configured directory when
 * there is one), authenticate, account management (an expired or locked
 * account is refused like a wrong password), end. The password goes to the
 * stack through the conversation only, for hidden prompts; a visible prompt
 * gets the user name; anything else fails the conversation.
 */

struct conv_data {
	const char *user, *pw;
};

static void
free_replies(struct pam_response *r, int n)
{
	for (int i = 0; i < n; i++)
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
	const struct conv_data *d = arg;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG || (r = calloc((size_t)n, sizeof *r)) == NULL)
		return PAM_CONV_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(d->pw);
			break;
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = strdup(d->user);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			free_replies(r, n);
			return PAM_CONV_ERR;
		}
		if (r[i].resp == NULL) {
			free_replies(r, n);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* A PAM result to a verdict: the password's fault, the account's absence, or the system's. */
static int
verdict(int rc)
{
	switch (rc) {
	case PAM_SUCCESS:
		return EXTV_OK;
	case PAM_USER_UNKNOWN:
		return EXTV_UNKNOWN;
	case PAM_AUTH_ERR:
	case PAM_PERM_DENIED:
	case PAM_CRED_INSUFFICIENT:
	case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		return EXTV_BAD;
	default:
		return EXTV_ERROR;
	}
}

int
pam_check(const struct conf_identity *id, const char *user, const char *pw, char *err,
          size_t errlen)
{
	const char *service = id->pam_service, *confdir = id->pam_confdir;
	struct conv_data d = { user, pw };
	const struct pam_conv c = { conv, &d };
	pam_handle_t *h = NULL;
	int rc;

	if (confdir[0] != '\0')
		rc = pam_start_confdir(service, user, &c, confdir, &h);
	else
		rc = pam_start(service, user, &c, &h);
	if (rc != PAM_SUCCESS) {
		snprintf(err, errlen, "pam_start(%s): %s", service, pam_strerror(h, rc));
		if (h != NULL)
			pam_end(h, rc);
		return EXTV_ERROR;
	}
	rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (verdict(rc) == EXTV_ERROR)
		snprintf(err, errlen, "PAM service %s: %s", service, pam_strerror(h, rc));
	pam_end(h, rc);
	return verdict(rc);
}
