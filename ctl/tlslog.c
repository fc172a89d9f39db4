/*
 * sekishoctl tls-versions FILE...: connections per TLS version in access
 * logs, before an old version is retired (docs/tls.md). A line counts once,
 * for its first field that names a version: "TLSv1.2" (nginx $ssl_protocol,
 * HAProxy %sslv) or "tls=TLS1.2" (authd and cid). Lines without one (plain
 * HTTP, other logs) are counted apart.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define LOG_LINE_MAX 8192        /* longer lines are read in pieces, counted once */

static const char *const versions[] = { "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" };
#define N_VERSIONS (int)(sizeof versions / sizeof versions[0])

/* The index in versions of the field [f, f + n), with or without "tls=" and "v"; -1 if none. */
static int
version_of(const char *f, size_t n)
{
	char norm[16];

	if (n > 4 && strncmp(f, "tls=", 4) == 0)
		f += 4, n -= 4;
	if (n >= 4 && n < 8 && strncmp(f, "TLS1", 4) == 0) {   /* GnuTLS: TLS1.3 */
		snprintf(norm, sizeof norm, "TLSv%.*s", (int)(n - 3), f + 3);
		f = norm;
		n = strlen(norm);
	}
	for (int i = 0; i < N_VERSIONS; i++)
		if (strlen(versions[i]) == n && strncmp(f, versions[i], n) == 0)
			return i;
	return -1;
}

static int
line_version(const char *line)
{
	const char *p = line;
	size_t n;
	int v;

	while (*p) {
		p += strspn(p, " \t\r\n");
		n = strcspn(p, " \t\r\n");
		if (n > 0 && (v = version_of(p, n)) >= 0)
			return v;
		p += n;
	}
	return -1;
}

static int
count_file(const char *path, long long count[N_VERSIONS], long long *other)
{
	char line[LOG_LINE_MAX];
	int cont = 0, v;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return ctl_fail("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		size_t len = strlen(line);
		if (!cont) {
			v = line_version(line);
			if (v >= 0)
				count[v]++;
			else
				(*other)++;
		}
		cont = len > 0 && line[len - 1] != '\n';
	}
	if (ferror(f)) {
		fclose(f);
		return ctl_fail("%s: read error", path);
	}
	fclose(f);
	return CTL_OK;
}

int
ctl_tls_versions(struct ctl *c)
{
	long long count[N_VERSIONS] = { 0 }, other = 0;
	int rc;

	for (int i = 0; i < c->npos; i++)
		if ((rc = count_file(c->pos[i], count, &other)) != CTL_OK)
			return rc;
	for (int i = 0; i < N_VERSIONS; i++)
		if (count[i] > 0)
			printf("%s %lld\n", versions[i], count[i]);
	printf("none %lld\n", other);
	return CTL_OK;
}
