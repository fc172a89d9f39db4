#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fuzz.h"

/*
 * Base64 as cookies, entry codes and password hashes use it. The first byte
 * picks the alphabet; the rest is decoded as text and, separately, encoded
 * as bytes. Decoding is strict, so what it accepts is the one canonical
 * encoding of what it returns: encoding that again gives the input back.
 * Output buffers are heap blocks of exactly the size the caller claims.
 */

static void
decode(const char *in, size_t len, int alphabet)
{
	size_t want = len / 4 * 3 + (len % 4 > 1 ? len % 4 - 1 : 0), n = (size_t)-1;
	uint8_t *out = malloc(want > 0 ? want : 1);
	char *again = malloc(len + 1);

	if (out == NULL || again == NULL)
		abort();
	if (b64_decode(in, len, out, want, &n, alphabet) == 0) {
		fuzz_assert(len % 4 != 1 && n == want && b64_encoded_len(n) == len);
		fuzz_assert(b64_encode(out, n, again, len + 1, alphabet) == 0);
		fuzz_assert(memcmp(again, in, len) == 0 && again[len] == '\0');
		/* One byte less room than the text needs is refused. */
		if (want > 0)
			fuzz_assert(b64_decode(in, len, out, want - 1, &n, alphabet) == -1);
	}
	free(again);
	free(out);
}

static void
round_trip(const uint8_t *in, size_t n, int alphabet)
{
	size_t len = b64_encoded_len(n), got = (size_t)-1;
	char *enc = malloc(len + 1);
	uint8_t *dec = malloc(n > 0 ? n : 1);

	if (enc == NULL || dec == NULL)
		abort();
	fuzz_assert(b64_encode(in, n, enc, len, alphabet) == -1);
	fuzz_assert(b64_encode(in, n, enc, len + 1, alphabet) == 0 && strlen(enc) == len);
	fuzz_assert(b64_decode(enc, len, dec, n, &got, alphabet) == 0);
	fuzz_assert(got == n && memcmp(dec, in, n) == 0);
	free(dec);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int alphabet;

	if (size == 0)
		return 0;
	alphabet = data[0] & 1 ? B64_URL : B64_STD;
	decode((const char *)data + 1, size - 1, alphabet);
	round_trip(data + 1, size - 1, alphabet);
	return 0;
}
