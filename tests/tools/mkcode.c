/*
 * mkcode: makes an entry handoff code the way authd does, for tests that
 * run cid without authd. Finds USER's live right on SERVICE, stores the
 * code's hash bound to it, and prints "RIGHT_ID CODE".
 *
 *   mkcode -f CONFIG USER SERVICE [TTL_S]
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "store.h"
#include "token.h"

#define CODE_BYTES 32

static int
first_right(const struct store_right *r, void *arg)
{
	*(struct store_right *)arg = *r;
	return 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: mkcode -f CONFIG USER SERVICE [TTL_S]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char err[512], code[64], hash[CODE_HASH_LEN + 1];
	struct store_service svc;
	struct store_right r;
	struct store_user u;
	struct store *s;
	struct conf c;
	long long ttl = 30;
	int64_t now = time(NULL);

	if (argc < 5 || argc > 6 || strcmp(argv[1], "-f") != 0)
		return usage();
	if (argc == 6 && parse_int(argv[5], 1, 86400, &ttl) == -1)
		return usage();
	conf_defaults(&c);
	if (conf_load(argv[2], &c, err, sizeof err) == -1 ||
	    (s = store_open(&c.db, 0, err, sizeof err)) == NULL) {
		fprintf(stderr, "mkcode: %s\n", err);
		return 1;
	}
	memset(&r, 0, sizeof r);
	if (store_user_get(s, argv[3], &u) != STORE_OK ||
	    store_service_get(s, argv[4], &svc) != STORE_OK ||
	    store_right_list(s, svc.id, u.id, first_right, &r) != STORE_OK || r.id == 0) {
		fprintf(stderr, "mkcode: no live right of %s on %s\n", argv[3], argv[4]);
		return 1;
	}
	if (random_b64url(code, sizeof code, CODE_BYTES) == -1)
		return 1;
	sha256_hex(code, strlen(code), hash);
	if (store_code_put(s, hash, r.id, now + ttl) != STORE_OK) {
		fprintf(stderr, "mkcode: %s\n", store_error(s));
		return 1;
	}
	printf("%lld %s\n", (long long)r.id, code);
	store_close(s);
	return 0;
}
