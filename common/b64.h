#ifndef SEKISHO_B64_H
#define SEKISHO_B64_H

/*
 * Base64 without padding, in the standard alphabet (B64_STD, password hashes)
 * or the URL-safe one (B64_URL, cookies and codes). Decoding is strict: only
 * the alphabet's characters, no padding, no whitespace, a length that some
 * byte count encodes to, and zero unused bits in the last character.
 */

#include <stddef.h>

enum { B64_STD = 0, B64_URL = 1 };

/* Characters that encode n bytes (no NUL). */
size_t b64_encoded_len(size_t n);
/* Encodes n bytes into out with a NUL. 0, or -1 when outlen is too small. */
int b64_encode(const void *in, size_t n, char *out, size_t outlen, int alphabet);
/* Decodes len characters into out (at most outmax bytes); *outn gets the count. 0 or -1. */
int b64_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outn, int alphabet);

#endif
