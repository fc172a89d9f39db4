#include <stdlib.h>
#include <string.h>

#include "../../authd/authd.h"
#include "fuzz.h"

/*
 * authd's client address from X-Forwarded-For (clientip_resolve, and
 * clientip_parse_list under it). Trusted proxies 127.0.0.1, ::1, 10.9.9.9.
 * Input: one flags byte (1 the peer is a trusted proxy, 2 the header came
 * twice, 4 the peer is IPv6, 8 no header), then the header's value. The
 * answer is the peer unless the peer is trusted; then it is an entry of the
 * list, and a trusted proxy only when every entry is one.
 */

static struct addr trusted[3];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	if (addr_parse("127.0.0.1", &trusted[0]) == -1 || addr_parse("::1", &trusted[1]) == -1 ||
	    addr_parse("10.9.9.9", &trusted[2]) == -1)
		abort();
	return 0;
}

static int
is_trusted(const struct addr *a)
{
	for (int i = 0; i < 3; i++)
		if (addr_eq(a, &trusted[i]))
			return 1;
	return 0;
}

static void
check_list(const char *s)
{
	struct addr list[XFF_MAX_ENTRIES];
	int n = -1, commas = 0;

	if (clientip_parse_list(s, list, XFF_MAX_ENTRIES, &n) == -1)
		return;
	for (const char *p = s; *p != '\0'; p++)
		commas += *p == ',';
	fuzz_assert(n >= 0 && n <= XFF_MAX_ENTRIES);
	fuzz_assert(s[0] == '\0' ? n == 0 : n == commas + 1);
	for (int i = 0; i < n; i++)
		fuzz_assert(list[i].family == AF_INET || list[i].family == AF_INET6);
}

static void
check_resolve(const char *xff, int flags)
{
	struct addr peer, out, list[XFF_MAX_ENTRIES];
	int count = xff == NULL ? 0 : flags & 2 ? 2 : 1, n = 0, found = 0, all = 1, rc;

	if (addr_parse(flags & 4 ? (flags & 1 ? "::1" : "2001:db8::2") :
	               (flags & 1 ? "127.0.0.1" : "10.0.0.2"), &peer) == -1)
		abort();
	rc = clientip_resolve(&peer, xff, count, trusted, 3, &out);
	if (!(flags & 1) || xff == NULL) {
		fuzz_assert(rc == 0 && addr_eq(&out, &peer));
		return;
	}
	if (count != 1)
		fuzz_assert(rc == -1);
	if (rc == -1)
		return;
	fuzz_assert(clientip_parse_list(xff, list, XFF_MAX_ENTRIES, &n) == 0 && n > 0);
	for (int i = 0; i < n; i++) {
		found |= addr_eq(&out, &list[i]);
		all &= is_trusted(&list[i]);
	}
	fuzz_assert(found && (!is_trusted(&out) || all));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	check_list(s);
	check_resolve(data[0] & 8 ? NULL : s, data[0]);
	free(s);
	return 0;
}
