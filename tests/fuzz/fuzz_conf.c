#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../authd/authd.h"
#include "../../cid/cid.h"
#include "conf.h"
#include "fuzz.h"

/*
 * The configuration file through conf_load. conf_load reads only a path, so
 * the input goes into a memory file (memfd) named by /proc/self/fd/N; no
 * disk is touched. A refused file is one "PATH:LINE: why" and leaves the
 * defaults alone; an accepted one holds only what the daemons' own set-up
 * (cid_conf_build, authd's trusted proxies, the listen and URL keys) accepts
 * too, so nothing conf_load lets through fails later at start.
 */

static int fd = -1;
static char path[64];
static struct conf defaults;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if ((fd = memfd_create("sekisho.conf", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	conf_defaults(&defaults);
	return 0;
}

static void
write_file(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) == -1 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("memfd write");
		abort();
	}
}

/* "PATH:LINE: why" with LINE >= 1. */
static void
check_refusal(const char *err)
{
	size_t n = strlen(path);
	const char *p = err + n + 1;

	fuzz_assert(strncmp(err, path, n) == 0 && err[n] == ':');
	fuzz_assert(*p >= '1' && *p <= '9');
	while (isdigit((unsigned char)*p))
		p++;
	fuzz_assert(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
}

static void
check_accepted(const struct conf *c)
{
	struct cid_conf cc;
	struct addr list[CONF_LIST_MAX];
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[512];
	int n;

	fuzz_assert(strcmp(c->file, path) == 0);
	fuzz_assert(cid_conf_build(c, &cc, err, sizeof err) == 0);
	fuzz_assert(addr_parse_list(c->authd.trusted_proxies, list, CONF_LIST_MAX, &n) == 0);
	fuzz_assert(addr_parse_listen(c->authd.listen, &ss, &sl) == 0);
	fuzz_assert(addr_parse_listen(c->cid.listen, &ss, &sl) == 0);
	fuzz_assert(url_valid(c->authd.base_url, err, sizeof err) == 0);
	fuzz_assert((c->authd.tls_cert[0] == '\0') == (c->authd.tls_key[0] == '\0'));
	fuzz_assert(c->ipfd.hook >= CONF_HOOK_FORWARD && c->ipfd.hook <= CONF_HOOK_BOTH);
	fuzz_assert(c->cid.secure_cookie >= -1 && c->cid.secure_cookie <= 1);
	fuzz_assert(c->cid.cookie_name[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = malloc(sizeof *c);
	char err[512];

	if (c == NULL)
		abort();
	write_file(data, size);
	conf_defaults(c);
	err[0] = '\0';
	if (conf_load(path, c, err, sizeof err) == 0) {
		check_accepted(c);
	} else {
		check_refusal(err);
		fuzz_assert(memcmp(c, &defaults, sizeof *c) == 0);
	}
	free(c);
	return 0;
}
