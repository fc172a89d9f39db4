#ifndef SEKISHO_TEST_STORE_CONTRACT_H
#define SEKISHO_TEST_STORE_CONTRACT_H

/*
 * The backend the contract suite (store_contract.c) runs against, defined by
 * the program that links the suite: init gives a fixture whose conf_db opens
 * a fresh, empty store of that backend (fx_open then creates the schema);
 * cleanup removes it.
 */

#include "fixture.h"

struct contract_backend {
	const char *name;
	void (*init)(struct fx *);
	void (*cleanup)(struct fx *);
};

extern const struct contract_backend contract_backend;

#endif
