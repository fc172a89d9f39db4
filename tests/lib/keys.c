#include <string.h>

#include "keys.h"

struct store_key
test_key(uint32_t kid, uint8_t fill, int64_t activates_at, int64_t expires_at)
{
	struct store_key k;

	memset(&k, 0, sizeof k);
	k.kid = kid;
	memset(k.secret, fill, sizeof k.secret);
	k.created_at = k.activates_at = activates_at;
	k.expires_at = expires_at;
	return k;
}
