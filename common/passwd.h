#ifndef SEKISHO_PASSWD_H
#define SEKISHO_PASSWD_H

/*
 * Password hashing with scrypt (OpenSSL's EVP_KDF "SCRYPT"), stored as a
 * self-describing string so parameters can be raised later:
 *   $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
 * Verification reads the parameters from the string and compares in constant time.
 */

#include <stddef.h>

#define PASSWD_MAX 256            /* longest accepted password, bytes */

struct passwd_params { int ln, r, p; };   /* N = 2^ln */
extern const struct passwd_params passwd_default;

/* Hashes pw into out (HASH_MAX_LEN+1 bytes). 0 or -1 with err. */
int passwd_hash(const char *pw, const struct passwd_params *pp, char *out, size_t outlen,
                char *err, size_t errlen);
/* 1 match, 0 no match, -1 malformed hash or KDF failure (err). */
int passwd_verify(const char *pw, const char *stored, char *err, size_t errlen);
/* 1 when stored uses weaker parameters than pp (so it should be rehashed at next login). */
int passwd_needs_rehash(const char *stored, const struct passwd_params *pp);
/*
 * Reads a password from the first line of a file (no trailing newline);
 * "-" or "/dev/stdin" is the standard input, read without reopening it.
 * 0 or -1 with err.
 */
int passwd_read_file(const char *path, char *out, size_t outlen, char *err, size_t errlen);

#endif
