#ifndef SEKISHO_TEST_PGCLUSTER_H
#define SEKISHO_TEST_PGCLUSTER_H

/*
 * A private PostgreSQL 15 cluster for tests: initdb in a temporary
 * directory, postgres listening on a unix socket in that directory (TCP only
 * when PGC_LISTEN_ENV names addresses; no system service), stopped and removed by pgc_stop. As root, the
 * server runs as the unprivileged "postgres" user (PostgreSQL refuses root).
 *
 * A test program starts one cluster for all its tests (Criterion's PRE_ALL
 * hook) and publishes its conninfo in the environment (PGC_ENV), where the
 * test processes find it: fx_init_pg() then creates a fresh database per test.
 * A guard process started with it removes the cluster if the program dies
 * before POST_ALL (killed, even with SIGKILL).
 * System tests use the same code through build/tests/tools/pgcluster
 * (tests/net/lib_pg.sh).
 * Access is "trust" for every role but PGC_PW_ROLE, which needs its password
 * (PGC_PW_PASS), so tests can check how a wrong password is reported.
 */

#include <stddef.h>

#define PGC_BIN     "/usr/lib/postgresql/15/bin"
#define PGC_ENV     "SEKISHO_TEST_PG"
#define PGC_PW_ROLE "pwuser"
#define PGC_PW_PASS "right-password"
#define PGC_LISTEN_ENV "SEKISHO_TEST_PG_LISTEN"   /* listen_addresses for TCP (system tests) */

struct pgc {
	char dir[256];     /* data in dir/data, socket in dir */
	char url[512];     /* conninfo of the cluster's "postgres" database */
};

/*
 * 0, or -1 with err (the server's log is in dir/server.log until pgc_stop).
 * durable 0 turns fsync off (tests); 1 keeps the server's defaults (benchmarks).
 */
int pgc_start(struct pgc *c, int durable, char *err, size_t errlen);
void pgc_stop(struct pgc *c);
/* Stops the server in dir keeping its data (-m fast); starts it again. 0 or -1. */
int pgc_pause(const char *dir);
int pgc_resume(const char *dir);

/*
 * Creates an empty database on the cluster whose "postgres" conninfo is base
 * and writes its conninfo to url. 0, or -1 with err. (fx_init_pg in a test.)
 */
int pgc_createdb(const char *base, char *url, size_t n, char *err, size_t errlen);

/* The PRE_ALL/POST_ALL halves of PGC_CLUSTER(): start (or abort the run) and stop. */
void pgc_hook_start(void);
void pgc_hook_stop(void);

/*
 * In a test program, one cluster for all its tests:
 *   ReportHook(PRE_ALL)(struct criterion_test_set *s) { (void)s; pgc_hook_start(); }
 *   ReportHook(POST_ALL)(struct criterion_global_stats *s) { (void)s; pgc_hook_stop(); }
 */

#endif
