#ifndef SEKISHO_HTTPTLS_H
#define SEKISHO_HTTPTLS_H

/* The HTTPS material of a listener, private to the HTTP glue (http.c). */

#include <stddef.h>

#include "http.h"

struct httptls {
	char *cert, *key;            /* PEM in memory; NULL when the listener is plain HTTP */
	const char *priorities;      /* GnuTLS priority string (o->tls_priorities or the default) */
};

/* Fills t from o after http_tls_check(); t zeroed for plain HTTP. 0 or -1 with err. */
int httptls_load(const struct http_opts *o, struct httptls *t, char *err, size_t errlen);
void httptls_free(struct httptls *t);

#endif
