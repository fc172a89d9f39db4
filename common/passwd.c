#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "addr.h"
#include "b64.h"
#include "passwd.h"
#include "store.h"

#define SALT_BYTES 16
#define HASH_BYTES 32
#define SALT_B64   22   /* b64_encoded_len(SALT_BYTES) */
#define HASH_B64   43   /* b64_encoded_len(HASH_BYTES) */
#define PREFIX     "$scrypt$"

/* Bounds on parameters read from a stored string: a planted hash must not cost a GiB. */
#define LN_MIN 10
#define LN_MAX 20
#define R_MAX  32
#define P_MAX  16
#define MEM_MAX ((uint64_t)1 << 30)

/* N = 2^15, r = 8, p = 1: 32 MiB and about a tenth of a second per hash. */
const struct passwd_params passwd_default = { 15, 8, 1 };

struct passwd_parsed {
	struct passwd_params pp;
	uint8_t salt[SALT_BYTES];
	uint8_t hash[HASH_BYTES];
};

/* Memory scrypt needs for pp: 128 * r * (N + p), plus slack for OpenSSL's bookkeeping. */
static uint64_t
passwd_mem(const struct passwd_params *pp)
{
	return 128 * (uint64_t)pp->r * (((uint64_t)1 << pp->ln) + (uint64_t)pp->p) + (1 << 20);
}

static int
passwd_params_ok(const struct passwd_params *pp)
{
	return pp->ln >= LN_MIN && pp->ln <= LN_MAX && pp->r >= 1 && pp->r <= R_MAX &&
	       pp->p >= 1 && pp->p <= P_MAX && passwd_mem(pp) <= MEM_MAX + (1 << 20);
}

/* scrypt(pw, salt) under pp into out[HASH_BYTES]. 0 or -1 with err. */
static int
passwd_kdf(const char *pw, const uint8_t *salt, const struct passwd_params *pp,
           uint8_t *out, char *err, size_t errlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7];
	uint64_t n = (uint64_t)1 << pp->ln, maxmem = passwd_mem(pp);
	uint32_t r = (uint32_t)pp->r, p = (uint32_t)pp->p;
	int rc = -1;

	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		snprintf(err, errlen, "scrypt is not available in OpenSSL");
		goto fail;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, strlen(pw));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, SALT_BYTES);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, HASH_BYTES, params) != 1) {
		snprintf(err, errlen, "scrypt failed (ln=%d r=%d p=%d)", pp->ln, pp->r, pp->p);
		goto fail;
	}
	rc = 0;
fail:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

int
passwd_hash(const char *pw, const struct passwd_params *pp, char *out, size_t outlen,
            char *err, size_t errlen)
{
	uint8_t salt[SALT_BYTES], hash[HASH_BYTES];
	char salt64[SALT_B64 + 1], hash64[HASH_B64 + 1];
	int rc = -1, len;

	if (pp == NULL)
		pp = &passwd_default;
	if (!passwd_params_ok(pp)) {
		snprintf(err, errlen, "scrypt parameters out of range");
		return -1;
	}
	if (strlen(pw) > PASSWD_MAX) {
		snprintf(err, errlen, "password longer than %d bytes", PASSWD_MAX);
		return -1;
	}
	if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	if (passwd_kdf(pw, salt, pp, hash, err, errlen) == -1)
		goto fail;
	b64_encode(salt, sizeof salt, salt64, sizeof salt64, B64_STD);
	b64_encode(hash, sizeof hash, hash64, sizeof hash64, B64_STD);
	len = snprintf(out, outlen, PREFIX "ln=%d,r=%d,p=%d$%s$%s", pp->ln, pp->r, pp->p,
	               salt64, hash64);
	if (len < 0 || (size_t)len >= outlen) {
		snprintf(err, errlen, "hash buffer too small");
		goto fail;
	}
	rc = 0;
fail:
	OPENSSL_cleanse(hash, sizeof hash);
	return rc;
}

/* Reads "NAME=DIGITS" followed by end: an int in [min, max] without leading zeros. */
static int
passwd_param(const char **s, const char *name, char end, int min, int max, int *out)
{
	char digits[4];
	const char *p = *s;
	size_t nlen = strlen(name), dlen;
	long long v;

	if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
		return -1;
	p += nlen + 1;
	dlen = strspn(p, "0123456789");
	if (dlen == 0 || dlen >= sizeof digits || p[dlen] != end || (p[0] == '0' && dlen > 1))
		return -1;
	memcpy(digits, p, dlen);
	digits[dlen] = '\0';
	if (parse_int(digits, min, max, &v) == -1)
		return -1;
	*out = (int)v;
	*s = p + dlen + 1;
	return 0;
}

/* Parses a stored string strictly: exact layout, bounded parameters, exact lengths. */
static int
passwd_parse(const char *stored, struct passwd_parsed *out)
{
	const char *s = stored;
	size_t n;

	if (strnlen(stored, HASH_MAX_LEN + 1) > HASH_MAX_LEN || strncmp(s, PREFIX, 8) != 0)
		return -1;
	s += 8;
	if (passwd_param(&s, "ln", ',', LN_MIN, LN_MAX, &out->pp.ln) == -1 ||
	    passwd_param(&s, "r", ',', 1, R_MAX, &out->pp.r) == -1 ||
	    passwd_param(&s, "p", '$', 1, P_MAX, &out->pp.p) == -1 || !passwd_params_ok(&out->pp))
		return -1;
	if (strlen(s) != SALT_B64 + 1 + HASH_B64 || s[SALT_B64] != '$')
		return -1;
	if (b64_decode(s, SALT_B64, out->salt, SALT_BYTES, &n, B64_STD) == -1 || n != SALT_BYTES ||
	    b64_decode(s + SALT_B64 + 1, HASH_B64, out->hash, HASH_BYTES, &n, B64_STD) == -1 ||
	    n != HASH_BYTES)
		return -1;
	return 0;
}

int
passwd_verify(const char *pw, const char *stored, char *err, size_t errlen)
{
	struct passwd_parsed ph;
	uint8_t hash[HASH_BYTES];
	int rc;

	if (passwd_parse(stored, &ph) == -1) {
		snprintf(err, errlen, "malformed password hash");
		return -1;
	}
	if (strlen(pw) > PASSWD_MAX)
		return 0;
	if (passwd_kdf(pw, ph.salt, &ph.pp, hash, err, errlen) == -1)
		return -1;
	rc = CRYPTO_memcmp(hash, ph.hash, HASH_BYTES) == 0;
	OPENSSL_cleanse(hash, sizeof hash);
	return rc;
}

int
passwd_needs_rehash(const char *stored, const struct passwd_params *pp)
{
	struct passwd_parsed ph;

	if (passwd_parse(stored, &ph) == -1)
		return 1;
	return ph.pp.ln < pp->ln || ph.pp.r < pp->r || ph.pp.p < pp->p;
}

/*
 * Reads up to max bytes from fd, stopping early at the first newline. Returns
 * the count, or -1 with errno.
 */
static ssize_t
passwd_read_line(int fd, char *buf, size_t max)
{
	size_t len = 0;
	ssize_t n;

	while (len < max) {
		n = read(fd, buf + len, max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	return (ssize_t)len;
}

static int
passwd_is_stdin(const char *path)
{
	return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdin") == 0;
}

int
passwd_read_file(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char buf[PASSWD_MAX + 3];
	char *nl;
	ssize_t got;
	size_t len;
	int fd, rc = -1;

	/*
	 * Standard input is read as it is, never reopened: /dev/stdin is
	 * /proc/self/fd/0, which another user than the one who made the pipe
	 * or opened the file (runuser -u ... <file) may not open.
	 */
	if (passwd_is_stdin(path))
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "password file %s: %s", path, strerror(errno));
		return -1;
	}
	got = passwd_read_line(fd, buf, sizeof buf);
	if (fd != STDIN_FILENO)
		close(fd);
	if (got < 0) {
		snprintf(err, errlen, "password file %s: %s", path, strerror(errno));
		goto fail;
	}
	nl = memchr(buf, '\n', (size_t)got);
	len = nl ? (size_t)(nl - buf) : (size_t)got;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "password file %s: contains a NUL byte", path);
		goto fail;
	}
	if (len == 0) {
		snprintf(err, errlen, "password file %s: empty first line", path);
		goto fail;
	}
	if (len > PASSWD_MAX || len + 1 > outlen) {
		snprintf(err, errlen, "password file %s: password longer than %d bytes", path,
		         PASSWD_MAX);
		goto fail;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	rc = 0;
fail:
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}
