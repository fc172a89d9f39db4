#ifndef SEKISHO_SVCSTAT_H
#define SEKISHO_SVCSTAT_H

/*
 * Per-service counters for /metrics: a fixed table of rows, one per service
 * name, each with up to SVCSTAT_COLS counters (one per result). Counting is
 * lock-free (a row, once claimed, keeps its name for the process's life), so
 * the hot paths of authd and cid may count freely. Only names that passed
 * name_valid() and belong to an existing service should be counted: the table
 * holds SVCSTAT_ROWS names and counts the rest under service="_other".
 */

#include <stdatomic.h>

#include "buf.h"
#include "store.h"

#define SVCSTAT_ROWS 512
#define SVCSTAT_COLS 16
#define SVCSTAT_OTHER "_other"

struct svcstat_row {
	atomic_int state;                    /* 0 free, 1 being claimed, 2 named */
	char name[NAME_MAX_LEN + 1];
	atomic_ullong n[SVCSTAT_COLS];
};

struct svcstat {
	int cols;                            /* <= SVCSTAT_COLS */
	struct svcstat_row rows[SVCSTAT_ROWS];
	struct svcstat_row other;
};

/* Zeroes t for cols counters a row (at most SVCSTAT_COLS). */
void svcstat_init(struct svcstat *t, int cols);
/* Adds one to service's counter col; a col out of range is ignored. */
void svcstat_add(struct svcstat *t, const char *service, int col);
/*
 * Appends a Prometheus counter family: name{service="S",label="col_names[i]"} N
 * for every named row and column (and the _other row when it counted).
 */
void svcstat_render(struct svcstat *t, struct buf *b, const char *name, const char *help,
                    const char *label, const char *const *col_names);

#endif
