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
# And against the kunit.py build directory of x86_64 (a tree rebuilt and
# mutated in place, keyed by the contents of what a module build reads;
# a make variable of its own makes the key new on every run):
#   - built, then a hit with the same module;
#   - the source tree with a .c file changed (mm/memory.c, as a
#     kernel-code mutant changes it; in-overlay) still hits;
#   - the source tree with a header changed (include/linux/pgtable.h)
#     is built again;
#   - the kernel relinked (utsversion.h's build number and date new, as
#     every link writes them) still hits.
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

. "$top/scripts/lib.sh"
bdir=$LMM_CACHE/kunit-build/x86_64
ksrc=$(readlink -f "$bdir/source") && [ -e "$bdir/Module.symvers" ] ||
	{ echo "no kunit.py build of x86_64 in $bdir: run scripts/kunit --arch x86_64 first" >&2; exit 1; }
targs=(-- CC="ccache gcc-14" HOSTCC=gcc-14 LMM_CACHETEST="$(date +%s.%N)-$$")
# tbuild NAME [PATCH]: build-modules against the build directory into
# OUT/NAME (with the source tree as PATCH leaves it); its exit status.
tbuild() {
	local wrap=()
	[ $# -lt 2 ] || wrap=("$top/scripts/in-overlay" "$ksrc" "$out/$1.ovl" "$2" --)
	"${wrap[@]}" "$top/scripts/build-modules" --kdir "$bdir" --out "$out/$1" --cache "${targs[@]}" \
		> "$out/$1.log" 2>&1
}
# comment_patch FILE NAME: OUT/NAME.patch, a comment added at FILE's end.
comment_patch() {
	mkdir -p "$out/$2.p/a/${1%/*}" "$out/$2.p/b/${1%/*}" &&
		cp "$ksrc/$1" "$out/$2.p/a/$1" && { cat "$ksrc/$1"; echo "/* cache test */"; } > "$out/$2.p/b/$1" &&
		(cd "$out/$2.p" && diff -u "a/$1" "b/$1" > "$out/$2.patch"; [ $? = 1 ])
}
comment_patch mm/memory.c c-changed && comment_patch include/linux/pgtable.h h-changed ||
	{ echo "cannot write the patches of the source tree" >&2; exit 1; }
tree_built_then_hit() {
	tbuild tfirst && ! hit tfirst && tbuild tagain && hit tagain &&
		cmp -s "$out/tfirst/lazy_mmu_test.ko" "$out/tagain/lazy_mmu_test.ko"
}
c_change_hits() { tbuild tc "$out/c-changed.patch" && hit tc; }
header_change_builds() { tbuild th "$out/h-changed.patch" && ! hit th; }
# The build directory's utsversion.h as a link leaves it, for one build,
# under the directory's lock (no kunit.py builds there meanwhile); then
# its own content and time again, also when the test is killed (so make
# rebuilds nothing for it).
relinked_hits() {
	(
		u=$bdir/include/generated/utsversion.h
		flock 9 && cp -p "$u" "$out/utsversion.h.orig" || exit 1
		trap 'cp -p "$out/utsversion.h.orig" "$u"' EXIT
		trap 'exit 1' INT TERM
		sed -i 's/"#[0-9]* /"#999 /; s/UTC/GMT/' "$u" && tbuild tu && hit tu
	) 9>> "$bdir.lock"
}

ktap_plan 9
ktap_check "a new mutant is built, the same again is a hit with the same module" built_then_hit
ktap_check "another mutant under the same module name is another key" other_key
ktap_check "a mutant that does not apply exits 4 each time, nothing kept" never_kept
ktap_check "fetch-kernel's marker touched (an install of the same headers) still hits" marker_hits
ktap_check "the header tree is untouched" [ "$(sums)" = "$before" ]
ktap_check "kunit.py build directory: built, then a hit with the same module" tree_built_then_hit
ktap_check "kunit.py build directory: a .c file of the source tree changed still hits" c_change_hits
ktap_check "kunit.py build directory: a header of the source tree changed is built again" header_change_builds
ktap_check "kunit.py build directory: the kernel relinked (a new utsversion.h) still hits" relinked_hits
ktap_finish
