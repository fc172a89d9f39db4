#include <string.h>

#include "authd.h"

int
clientip_parse_list(const char *s, struct addr *list, int max, int *n)
{
	char item[ADDR_STR_MAX + 1];
	const char *p = s, *end;
	size_t len;

	*n = 0;
	while (*p != '\0') {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof item || *n == max)
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (addr_parse(item, &list[*n]) == -1)
			return -1;
		(*n)++;
		if (end == NULL)
			break;
		p = end + 1;
		if (*p == '\0')
			return -1;
	}
	return 0;
}

static int
is_trusted(const struct addr *a, const struct addr *trusted, int n)
{
	for (int i = 0; i < n; i++)
		if (addr_eq(a, &trusted[i]))
			return 1;
	return 0;
}

int
clientip_resolve(const struct addr *peer, const char *xff, int xff_count,
                 const struct addr *trusted, int n_trusted, struct addr *out)
{
	struct addr hops[XFF_MAX_ENTRIES];
	int n, i;

	*out = *peer;
	if (!is_trusted(peer, trusted, n_trusted) || xff == NULL)
		return 0;
	if (xff_count != 1 || strnlen(xff, XFF_MAX_LEN + 1) > XFF_MAX_LEN)
		return -1;
	if (clientip_parse_list(xff, hops, XFF_MAX_ENTRIES, &n) == -1 || n == 0)
		return -1;
	for (i = n - 1; i > 0 && is_trusted(&hops[i], trusted, n_trusted); i--)
		;
	*out = hops[i];
	return 0;
}
