/* The store contract suite (store_contract.c) on SQLite: a fresh file per test. */

#include "store_contract.h"

const struct contract_backend contract_backend = {
	.name = "sqlite", .init = fx_init, .cleanup = fx_cleanup,
};
