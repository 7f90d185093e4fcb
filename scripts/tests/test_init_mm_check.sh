#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The module checks the init_mm that kallsyms gives it before any case
# walks, or through apply_to_page_range() allocates, page tables from it
# (issue 20, item 8): its pgd must be the kernel's top-level table.  One
# amd64 boot, two loads of the cases that use init_mm:
#   1. as shipped: they run and pass (the check accepts the real init_mm);
#   2. with init_mm_symbol=init_task (a kernel object that is no mm):
#      every one of them skips, saying why, and the kernel log stays clean
#      (nothing was walked or written through the wrong pointer).
# About 30 s warm.
#
#   test_init_mm_check.sh OUT

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tests/ktap_helpers.sh"
[ $# -eq 1 ] || { echo "usage: ${0##*/} OUT" >&2; exit 2; }
out=$1
cases=kernel_sections,pte_visibility,nested_kernel_paths
"$top/scripts/run" --quiet --out "$out" --load "cases=$cases" \
	--load "cases=$cases init_mm_symbol=init_task" amd64 > "$out.log" 2>&1
rc=$?
flat=$(ktap_flat < "$out/results.ktap") || exit 1

# passes LOAD CASE: CASE passed in that load, without a skip.
passes() { grep -qx "ok [0-9]* amd64:$1:lazy_mmu_nesting:$2" <<< "$flat"; }
# refused CASE: CASE skipped in the second load because of the check.
refused() {
	grep -qx "ok [0-9]* amd64:lazy_mmu_test_2:lazy_mmu_nesting:$1 # SKIP .*not init_mm, not used" <<< "$flat"
}
ktap_plan 6
ktap_check "boot passes, nothing failed (exit $rc)" [ "$rc" = 0 ]
ktap_check "real init_mm accepted: kernel_sections passes" passes lazy_mmu_test kernel_sections
ktap_check "real init_mm accepted: pte_visibility passes" passes lazy_mmu_test pte_visibility
ktap_check "init_task refused: kernel_sections skips, saying why" refused kernel_sections
ktap_check "init_task refused: pte_visibility skips, saying why" refused pte_visibility
ktap_check "the kernel log stays clean" grep -qx "ok [0-9]* amd64:kernel:log_clean" <<< "$flat"
ktap_finish
