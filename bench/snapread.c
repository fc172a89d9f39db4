/*
 * Times store_snapshot on the store a config names (bench/gateways.sh, the
 * million-rights part): ROUNDS reads of every service and usable right, what
 * ipfd and cid read at start and after a reconnect.
 *   snapread -f CONF ROUNDS
 * Prints one line: rights=N ms=T1,T2,... (wall milliseconds of each read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "store.h"

static int
count_right(const struct store_right *r, void *arg)
{
	(void)r;
	++*(long *)arg;
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	static struct conf cf;
	char err[512], *end;
	struct store *s;
	long rounds, got = 0;
	int64_t seq;

	if (argc != 4 || strcmp(argv[1], "-f") != 0 ||
	    (rounds = strtol(argv[3], &end, 10)) < 1 || rounds > 100 || *end) {
		fprintf(stderr, "usage: snapread -f CONF ROUNDS (1..100)\n");
		return 2;
	}
	if (conf_load(argv[2], &cf, err, sizeof err) == -1 ||
	    (s = store_open(&cf.db, 0, err, sizeof err)) == NULL) {
		fprintf(stderr, "snapread: %s\n", err);
		return 1;
	}
	printf("ms=");
	for (long i = 0; i < rounds; i++) {
		double t = now_ms();
		got = 0;
		if (store_snapshot(s, (int64_t)time(NULL), NULL, count_right, &got, &seq) != STORE_OK) {
			fprintf(stderr, "snapread: %s\n", store_error(s));
			return 1;
		}
		printf("%s%.0f", i ? "," : "", now_ms() - t);
	}
	printf(" rights=%ld\n", got);
	store_close(s);
	return 0;
}
