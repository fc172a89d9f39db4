#ifndef SEKISHO_STORE_COPY_H
#define SEKISHO_STORE_COPY_H

/*
 * Moving an installation from SQLite to PostgreSQL (sekishoctl store copy).
 * Everything that makes it what it is moves under the same ids: users with
 * their password hashes, groups, services with guards, load settings and
 * access lists, both key rings, live and ended rights, entry codes, admin
 * logins, places in waiting rooms, lockouts, known sources and the audit
 * log. So every issued cookie, admin login and open firewall entry stays
 * valid. Not moved: the change log (the target writes its own as the rows
 * arrive, so a follower's snapshot afterwards sees everything) and leases.
 */

#include <stdint.h>
#include <stddef.h>

#include "store.h"

#define STORE_COPY_TABLES 16

struct store_copy_report {
	int         n;
	const char *table[STORE_COPY_TABLES];
	int64_t     rows[STORE_COPY_TABLES];
};

/*
 * Copies from (a SQLite store, only read) into to (a PostgreSQL store with
 * this build's schema) in one transaction of to, then appends the audit row
 * "store.copy" by "sekishoctl" with "by=BY from=FROM_NAME" and the counts.
 * A target holding rows is refused (STORE_EXISTS, err names the table)
 * unless replace. On failure nothing of the copy stays in to. r may be NULL.
 */
int store_copy(struct store *from, const char *from_name, struct store *to, int replace,
               const char *by, int64_t now, struct store_copy_report *r, char *err,
               size_t errlen);

#endif
