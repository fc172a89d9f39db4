/*
 * pgcluster: the tests' private PostgreSQL cluster (tests/lib/pgcluster.c)
 * for shell tests; tests/net/lib_pg.sh wraps it.
 *
 *   pgcluster start          starts one; prints "DIR URL" (URL: its postgres database)
 *   pgcluster createdb URL   makes an empty database there; prints its conninfo
 *   pgcluster stop DIR       stops the cluster in DIR and removes DIR
 *   pgcluster pause DIR      stops the server, keeping its data
 *   pgcluster resume DIR     starts it again
 * SEKISHO_TEST_PG_LISTEN=ADDRS pgcluster start  also listens on TCP there.
 */

#include <stdio.h>
#include <string.h>

#include "../lib/pgcluster.h"

static int
usage(void)
{
	fprintf(stderr, "usage: pgcluster start | createdb URL | stop DIR | pause DIR | resume DIR\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct pgc c;
	char err[512], url[512];

	if (argc == 2 && strcmp(argv[1], "start") == 0) {
		if (pgc_start(&c, 0, err, sizeof err) != 0) {
			fprintf(stderr, "pgcluster: %s\n", err);
			pgc_stop(&c);
			return 1;
		}
		printf("%s %s\n", c.dir, c.url);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "createdb") == 0) {
		if (pgc_createdb(argv[2], url, sizeof url, err, sizeof err) != 0) {
			fprintf(stderr, "pgcluster: %s\n", err);
			return 1;
		}
		printf("%s\n", url);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "stop") == 0 && strlen(argv[2]) < sizeof c.dir) {
		memset(&c, 0, sizeof c);
		snprintf(c.dir, sizeof c.dir, "%s", argv[2]);
		pgc_stop(&c);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "pause") == 0)
		return pgc_pause(argv[2]) == 0 ? 0 : 1;
	if (argc == 3 && strcmp(argv[1], "resume") == 0)
		return pgc_resume(argv[2]) == 0 ? 0 : 1;
	return usage();
}
