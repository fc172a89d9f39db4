/*
 * The store contract suite (store_contract.c) on PostgreSQL: a private
 * cluster for this program (tests/lib/pgcluster.c), a fresh database per test.
 */

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "pgcluster.h"
#include "store_contract.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set) { (void)set; pgc_hook_start(); }
ReportHook(POST_ALL)(struct criterion_global_stats *st) { (void)st; pgc_hook_stop(); }

const struct contract_backend contract_backend = {
	.name = "postgresql", .init = fx_init_pg, .cleanup = fx_cleanup,
};
