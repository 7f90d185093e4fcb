#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two checkouts sharing one cache and one kernel tree each see their own
# suite through the tree's graft, in the real build root (issue 20: the
# cached linux-source tree's lazy_mmu_nesting link named the checkout
# grafted last, so a kunit.py build of one checkout read the other's
# suite, or failed where the other was not bound in):
#   - kunit-graft's link names no checkout (/lmm-suite), from either;
#   - after the second checkout's graft, each checkout's build root, and
#     its sandbox, reads its own files through the tree's link;
#   - with LMM_SUITE (a kunit.py build directory's copy of the suite:
#     lmm/pipeline.py suite_copy_for), the build root and the sandbox
#     read that copy there instead.
# Two copies of this checkout's scripts play the two checkouts; a few
# seconds, nothing is built.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tests/ktap_helpers.sh"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

tree=$tmp/linux
mkdir -p "$tree" && printf '# Kbuild\n' > "$tree/Kbuild" && printf '# Kconfig\n' > "$tree/Kconfig" || exit 1
for c in one two; do
	mkdir "$tmp/$c" && cp -a "$top/scripts" "$top/lanes.json" "$top/kunit" "$top/kmod" "$tmp/$c/" &&
		echo "$c" > "$tmp/$c/kunit/.checkout" || exit 1
done

# sees CHECKOUT [SANDBOX [SUITE WANT]]: CHECKOUT's build root (its
# sandbox with SANDBOX=1) reads CHECKOUT's own marker through the tree's
# graft (with SUITE, LMM_SUITE=SUITE: the marker WANT of that copy).
sees() {
	local got
	got=$(LMM_BIND=$tree LMM_SANDBOX=${2:-} LMM_SUITE=${3:-} "$tmp/$1/scripts/buildroot" -- \
		cat "$tree/lazy_mmu_nesting/kunit/.checkout" 2>&1)
	[ "$got" = "${4:-$1}" ] && return 0
	echo "# $1${2:+ (sandbox)}${3:+ (LMM_SUITE=$3)} read: $got"
	return 1
}
# A build directory's copy of the suite (lmm/pipeline.py suite_copy_for).
mkdir -p "$tmp/copy/kunit" && echo copy > "$tmp/copy/kunit/.checkout" && chmod -R go+rX "$tmp/copy" || exit 1
link_is_fixed() {
	[ "$(readlink "$tree/lazy_mmu_nesting")" = /lmm-suite ] && return 0
	echo "# the link: $(readlink "$tree/lazy_mmu_nesting")"
	return 1
}
grafted_once() { [ "$(grep -c 'lazy_mmu_nesting/kunit/' "$tree/Kbuild")" = 1 ]; }

ktap_plan 9
ktap_check "first_graft" "$tmp/one/scripts/kunit-graft" "$tree"
ktap_check "second_graft_from_another_checkout" "$tmp/two/scripts/kunit-graft" "$tree"
ktap_check "link_names_no_checkout" link_is_fixed
ktap_check "kbuild_appended_once" grafted_once
ktap_check "first_checkout_sees_its_own_suite" sees one
ktap_check "second_checkout_sees_its_own_suite" sees two
ktap_check "sandbox_sees_its_own_suite" sees one 1
ktap_check "LMM_SUITE_shows_the_copy_instead" sees one "" "$tmp/copy" copy
ktap_check "LMM_SUITE_shows_the_copy_in_the_sandbox" sees two 1 "$tmp/copy" copy
ktap_finish
