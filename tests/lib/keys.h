#ifndef SEKISHO_TEST_KEYS_H
#define SEKISHO_TEST_KEYS_H

/* Ring keys for token tests and fuzz targets (no test framework needed). */

#include <stdint.h>

#include "store.h"

/*
 * Key kid whose secret is the byte fill repeated; it signs from activates_at
 * (also its creation time) and verifies until expires_at.
 */
struct store_key test_key(uint32_t kid, uint8_t fill, int64_t activates_at, int64_t expires_at);

#endif
