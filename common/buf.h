#ifndef SEKISHO_BUF_H
#define SEKISHO_BUF_H

/*
 * A growable byte buffer with a hard ceiling. Once an append would pass the
 * ceiling or memory runs out, the buffer is marked failed and ignores further
 * appends; callers check buf_failed() once at the end.
 */

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char  *p;          /* NUL-terminated when len > 0 or after buf_init */
	size_t len, cap, max;
	int    failed;
};

/* max = the most bytes the buffer may ever hold (0 = 16 MiB). */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s with & < > " ' escaped for HTML text and attribute values. */
void buf_html(struct buf *b, const char *s);
/* Appends s as a JSON string literal, quotes included. */
void buf_json(struct buf *b, const char *s);
int  buf_failed(const struct buf *b);

#endif
