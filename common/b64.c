#include <stdint.h>

#include "b64.h"

static const char b64_chars[2][65] = {
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

size_t
b64_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

int
b64_encode(const void *in, size_t n, char *out, size_t outlen, int alphabet)
{
	const uint8_t *p = in;
	const char *chars = b64_chars[alphabet == B64_URL];
	size_t i, o = 0;
	uint32_t v;

	if (outlen < b64_encoded_len(n) + 1)
		return -1;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = chars[v >> 18 & 63];
		out[o++] = chars[v >> 12 & 63];
		out[o++] = chars[v >> 6 & 63];
		out[o++] = chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = chars[v >> 18 & 63];
		out[o++] = chars[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = chars[v >> 18 & 63];
		out[o++] = chars[v >> 12 & 63];
		out[o++] = chars[v >> 6 & 63];
	}
	out[o] = '\0';
	return 0;
}

/* The 6-bit value of c in the alphabet, or -1. */
static int
b64_value(char c, int alphabet)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (alphabet == B64_URL ? '-' : '+'))
		return 62;
	if (c == (alphabet == B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outn, int alphabet)
{
	uint8_t *p = out;
	size_t o = 0, n = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	uint32_t acc = 0;
	int bits = 0, v;

	if (len % 4 == 1 || n > outmax)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((v = b64_value(in[i], alphabet)) < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	*outn = o;
	return 0;
}
