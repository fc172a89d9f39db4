#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

char *
fuzz_str(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t len = nul != NULL ? (size_t)(nul - data) : size;
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

int
fuzz_fields(char *s, char sep, const char **f, int max)
{
	char *end;
	int n = 0;

	while (n < max) {
		end = n < max - 1 ? strchr(s, sep) : NULL;
		if (end != NULL)
			*end = '\0';
		f[n++] = s[0] != '\0' ? s : NULL;
		if (end == NULL)
			break;
		s = end + 1;
	}
	for (int i = n; i < max; i++)
		f[i] = NULL;
	return n;
}

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: contract broken: %s\n", file, line, what);
	abort();
}
