#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "httptls.h"

#define TLS_FILE_MAX (64 * 1024)

static int
tls_wanted(const struct http_opts *o)
{
	return o->tls_cert != NULL && o->tls_cert[0] != '\0' && o->tls_key != NULL &&
	       o->tls_key[0] != '\0';
}

static const char *
priorities_of(const struct http_opts *o)
{
	return o->tls_priorities != NULL && o->tls_priorities[0] != '\0' ? o->tls_priorities :
	       HTTP_TLS_PRIORITIES;
}

static char *
read_small_file(const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(TLS_FILE_MAX + 1)) == NULL)
		goto fail;
	if ((n = read(fd, buf, TLS_FILE_MAX + 1)) < 0 || n > TLS_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "larger than 64 KiB");
		goto fail;
	}
	buf[n] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* A private key others may read (or replace) is refused: it is no longer private. */
static int
check_key_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		snprintf(err, errlen, "%s: private key is %s by others (mode %04o); "
		         "make it 0600 or 0640 (e.g. chmod 0600 %s)", path,
		         st.st_mode & S_IROTH ? "readable" : "writable",
		         (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

static int
check_priorities(const char *p, char *err, size_t errlen)
{
	gnutls_priority_t prio;
	const char *at = NULL;
	int rc;

	if ((rc = gnutls_priority_init(&prio, p, &at)) != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "TLS priorities \"%s\": %s%s%.40s%s", p, gnutls_strerror(rc),
		         at != NULL ? " at \"" : "", at != NULL ? at : "", at != NULL ? "\"" : "");
		return -1;
	}
	gnutls_priority_deinit(prio);
	return 0;
}

int
http_tls_check(const struct http_opts *o, char *err, size_t errlen)
{
	struct httptls t;

	if (httptls_load(o, &t, err, errlen) == -1)
		return -1;
	httptls_free(&t);
	return 0;
}

int
httptls_load(const struct http_opts *o, struct httptls *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (!tls_wanted(o))
		return 0;
	t->priorities = priorities_of(o);
	if (check_priorities(t->priorities, err, errlen) == -1 ||
	    check_key_mode(o->tls_key, err, errlen) == -1)
		return -1;
	if ((t->cert = read_small_file(o->tls_cert, err, errlen)) == NULL ||
	    (t->key = read_small_file(o->tls_key, err, errlen)) == NULL) {
		httptls_free(t);
		return -1;
	}
	return 0;
}

void
httptls_free(struct httptls *t)
{
	free(t->cert);
	if (t->key != NULL)
		explicit_bzero(t->key, strlen(t->key));
	free(t->key);
	t->cert = t->key = NULL;
}
