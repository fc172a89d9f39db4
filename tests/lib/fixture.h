#ifndef SEKISHO_TEST_FIXTURE_H
#define SEKISHO_TEST_FIXTURE_H

/*
 * Shared test fixtures: a private temporary directory per test and a store
 * in it, plus quick ways to add users and services. Helpers fail the running
 * Criterion test when setup goes wrong, so tests only check behaviour.
 */

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "conf.h"
#include "store.h"

#define FX_PATH_MAX 256

struct fx {
	char dir[FX_PATH_MAX];       /* removed with everything in it by fx_cleanup */
	struct conf_db db;           /* path = dir/sekisho.db, busy timeout 10 s */
};

/* Makes a fresh directory under $TMPDIR (or /tmp) and fills f->db for it. */
void fx_init(struct fx *f);
/* The same, with db.url naming a fresh database on the program's test cluster (pgcluster.h). */
void fx_init_pg(struct fx *f);
void fx_cleanup(struct fx *f);
/* dir/name into buf; returns buf. */
const char *fx_path(const struct fx *f, const char *name, char *buf, size_t n);

/* Opens (creating and migrating) the fixture's store; each call is a new connection. */
struct store *fx_open(const struct fx *f);

/* Adds an enabled user; the password hash is a placeholder. Returns the id. */
int64_t fx_user(struct store *s, const char *name, int role);
/*
 * Adds an enabled service named name with the given cap, max usage and max
 * interval (minutes), administered by admin_id, guarding 192.0.2.10 on a port
 * no other service of the store guards: 80 + the highest service id in use
 * (80 for the first service).
 */
int64_t fx_service(struct store *s, const char *name, int cap, int usage_min,
                   int interval_min, int64_t admin_id);
/* A literal address; fails the test when text is not one. */
struct addr fx_ip(const char *text);

/* store_admit from the literal address ip. */
int fx_admit(struct store *s, int64_t user, int64_t service, const char *ip, int64_t now,
             struct store_admission *a);
/* Live rights of service as store_right_list counts them, and as the service's active says. */
int fx_live_rights(struct store *s, int64_t service);
int fx_active(struct store *s, int64_t service);

#endif
