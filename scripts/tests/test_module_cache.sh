#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The build cache keeps a header mutant's module by its inputs, the
# mutant among them (build-modules --patch --cache), on amd64:
#   - a mutant never built before is built; the same again is a hit, and
#     the hit's module is the built one, byte for byte;
#   - another mutant under the same module name is another key: never
#     the first one's module;
#   - a mutant that does not apply exits 4 each time (nothing kept);
#   - fetch-kernel's marker touched, as it is at every install of the
#     headers (a repaired cache installs the same ones again), still hits;
#   - the header tree is untouched.
# The first mutant is mutants/01 with a line of its own before the diff
# (patch reads past it, the key does not): a new key on every run.
#
#   test_module_cache.sh [OUTDIR]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/module-cache-test}
. "$top/scripts/tests/ktap_helpers.sh"
rm -rf "$out" && mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
env=$("$top/scripts/fetch-kernel" --arch amd64) || exit 1
kdir=$(sed -n 's/^KDIR=//p' <<< "$env")
args=(-- LMM_MODNAME=lmm_cachetest KCFLAGS=-g0 CONFIG_DEBUG_INFO_BTF_MODULES=)

{
	head -n 1 "$top/mutants/01-enable-counts-while-paused.patch"
	echo "Cache-test: $(date +%s.%N) $$"
	tail -n +2 "$top/mutants/01-enable-counts-while-paused.patch"
} > "$out/new.patch"
sed '/^---/!s/^-\(.*\)$/-\1 no such line/' "$top/mutants/02-enable-pause-check-off-by-one.patch" > "$out/bad.patch"

# build NAME PATCH: build-modules into OUT/NAME; its exit status.
build() {
	"$top/scripts/build-modules" --kdir "$kdir" --out "$out/$1" --patch "$2" --cache "${args[@]}" \
		> "$out/$1.log" 2>&1
}
hit() { grep -q 'modules unchanged since an earlier build' "$out/$1.log"; }
built_then_hit() {
	build first "$out/new.patch" && ! hit first &&
		build again "$out/new.patch" && hit again &&
		cmp -s "$out/first/lmm_cachetest.ko" "$out/again/lmm_cachetest.ko"
}
other_key() {
	build other "$top/mutants/02-enable-pause-check-off-by-one.patch" &&
		! cmp -s "$out/first/lmm_cachetest.ko" "$out/other/lmm_cachetest.ko"
}
never_kept() {
	local rc1 rc2
	build bad1 "$out/bad.patch"; rc1=$?
	build bad2 "$out/bad.patch"; rc2=$?
	[ $rc1 = 4 ] && [ $rc2 = 4 ] && ! hit bad2 && [ ! -e "$out/bad2/lmm_cachetest.ko" ]
}
marker_hits() {
	touch "$root$kdir/.lmm-complete" && build marker "$out/new.patch" && hit marker
}
sums() {
	local common
	common=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$root$kdir/Makefile")
	md5sum "$root$common/include/linux/pgtable.h"
}
root=$("$top/scripts/buildroot") || exit 1
before=$(sums) && [ -n "$before" ] || { echo "cannot read the header tree's pgtable.h" >&2; exit 1; }

ktap_plan 5
ktap_check "a new mutant is built, the same again is a hit with the same module" built_then_hit
ktap_check "another mutant under the same module name is another key" other_key
ktap_check "a mutant that does not apply exits 4 each time, nothing kept" never_kept
ktap_check "fetch-kernel's marker touched (an install of the same headers) still hits" marker_hits
ktap_check "the header tree is untouched" [ "$(sums)" = "$before" ]
ktap_finish
