#ifndef SEKISHO_GAUGE_H
#define SEKISHO_GAUGE_H

/*
 * A gauge read from a service's own Prometheus endpoint, the adaptive cap's
 * optional second signal (docs/adaptive.md). Pure functions: the selector
 * of the series (from the service's settings) and the search of a scraped
 * page in the text exposition format. The page comes from the service, so
 * it is read defensively: bounded lines, bounded labels, a malformed line is
 * skipped, never trusted.
 */

#include <stddef.h>

#include "store.h"

#define GAUGE_LABELS_MAX 8       /* labels in a selector */
#define GAUGE_LABEL_MAX  64      /* a label's name or value in a selector */
#define GAUGE_LINE_MAX   4096    /* a longer line of a page is skipped */
#define GAUGE_BODY_MAX   (256 * 1024)   /* a larger page is refused */
#define GAUGE_TARGET_MIN 0.001   /* stored in thousandths */
#define GAUGE_TARGET_MAX 1e12

struct gauge_label {
	char name[GAUGE_LABEL_MAX + 1];
	char value[GAUGE_LABEL_MAX + 1];
};

/* name or name{label="value",...}: the series whose labels include these. */
struct gauge_sel {
	char name[GAUGE_METRIC_MAX + 1];
	struct gauge_label l[GAUGE_LABELS_MAX];
	int  n;
};

/* Parses a selector. 0, or -1 with err. */
int gauge_sel_parse(const char *s, struct gauge_sel *g, char *err, size_t errlen);

/*
 * The value of the series of page[0..len) that g selects: a sample line with
 * g's name and at least g's labels (equal values). When several match, the
 * largest. 0, or -1 when none matches with a finite value.
 */
int gauge_find(const char *page, size_t len, const struct gauge_sel *g, double *out);

#endif
