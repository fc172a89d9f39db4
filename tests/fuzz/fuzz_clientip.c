#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../../authd/authd.h"
#include "fuzz.h"

/*
 * The client address behind a proxy: authd's clientip_resolve over
 * addr_forwarded_client (cid's check uses the same), and addr_parse_list.
 * Trusted proxies 127.0.0.1, ::1, 10.9.9.9. Input: one flags byte (1 the
 * peer is a trusted proxy, 2 the header came twice, 4 the peer is IPv6, 8 no
 * header), then the header's value. The answer is the peer unless the peer
 * is trusted; then it is found again by splitting the value at every comma:
 * the entries right of it are trusted proxies, and it is either untrusted,
 * the leftmost entry, or the last of XFF_MAX_HOPS looked at.
 */

#define LIST_MAX 64

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

static void
check_list(const char *s)
{
	struct addr list[LIST_MAX];
	int n = -1, commas = 0;

	if (addr_parse_list(s, list, LIST_MAX, &n) == -1)
		return;
	for (const char *p = s; *p != '\0'; p++)
		commas += *p == ',';
	fuzz_assert(n >= 0 && n <= LIST_MAX);
	fuzz_assert(s[0] == '\0' ? n == 0 : n == commas + 1);
	for (int i = 0; i < n; i++)
		fuzz_assert(list[i].family == AF_INET || list[i].family == AF_INET6);
}

/* Entry i from the right (0 = rightmost) of s, blanks trimmed, parsed. 0, or -1 when it is not an address. */
static int
entry_from_right(const char *s, int i, struct addr *a, int *leftmost)
{
	char one[ADDR_STR_MAX + 1];
	const char *e = s + strlen(s), *b;
	size_t len;

	for (;;) {
		for (b = e; b > s && b[-1] != ','; b--)
			;
		if (i-- == 0)
			break;
		if (b == s)
			return -1;
		e = b - 1;
	}
	*leftmost = b == s;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	len = (size_t)(e - b);
	if (len == 0 || len > ADDR_STR_MAX)
		return -1;
	memcpy(one, b, len);
	one[len] = '\0';
	return addr_parse(one, a);
}

static void
check_resolve(const char *xff, int flags)
{
	struct addr peer, out, hop;
	int count = xff == NULL ? 0 : flags & 2 ? 2 : 1, leftmost = 0, i, rc;

	if (addr_parse(flags & 4 ? (flags & 1 ? "::1" : "2001:db8::2") :
	               (flags & 1 ? "127.0.0.1" : "10.0.0.2"), &peer) == -1)
		abort();
	rc = clientip_resolve(&peer, xff, count, trusted, 3, &out);
	if (!(flags & 1) || xff == NULL) {
		fuzz_assert(rc == 0 && addr_eq(&out, &peer));
		return;
	}
	if (count != 1 || strlen(xff) > XFF_MAX_LEN) {
		fuzz_assert(rc == -1);
		return;
	}
	for (i = 0; i < XFF_MAX_HOPS; i++) {
		if (entry_from_right(xff, i, &hop, &leftmost) == -1) {
			fuzz_assert(rc == -1);
			return;
		}
		if (leftmost || !addr_in(&hop, trusted, 3))
			break;
	}
	fuzz_assert(rc == 0 && addr_eq(&out, &hop));
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
