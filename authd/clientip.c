#include <string.h>

#include "authd.h"

int
clientip_resolve(const struct addr *peer, const char *xff, int xff_count,
                 const struct addr *trusted, int n_trusted, struct addr *out)
{
	*out = *peer;
	if (!addr_in(peer, trusted, n_trusted) || xff == NULL)
		return 0;
	if (xff_count != 1)
		return -1;
	return addr_forwarded_client(xff, trusted, n_trusted, out);
}
