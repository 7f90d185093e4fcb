#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# misuse=1 never brings a kernel down: on the kunit.py x86_64 debug
# kernel (DEBUG_VM, where the misuse cases really warn), booted with
# panic_on_taint covering TAINT_WARN (0x200), and again with a
# kernel.warn_limit the four warnings would reach, the plain module's
# misuse_warnings skip every parameter with the reason and the guest
# completes.  (panic_on_warn is refused the same way; the x86_64 kunit.py
# lane runs the cases themselves.)  Needs that kernel: scripts/kunit
# --arch x86_64 (make check builds it first).
#
#   test_misuse_guard.sh [OUT]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
. "$top/scripts/tests/ktap_helpers.sh"
out=${1:-$top/out/misuse-guard}
need_root
rm -rf "$out" && mkdir -p "$out" || die "cannot create $out"
bdir=$LMM_CACHE/kunit-build/x86_64
[ -s "$bdir/arch/x86/boot/bzImage" ] || die "no kunit.py x86_64 kernel in $bdir (scripts/kunit --arch x86_64)" 4
printf 'KREL=%s\nKIMAGE=%s\nKDIR=%s\n' "$(cat "$bdir/include/config/kernel.release")" \
	"$bdir/arch/x86/boot/bzImage" "$bdir" > "$out/kernel.env"

# guarded NAME APPEND REASON: one boot with APPEND; every misuse
# parameter skips with REASON, the guest completes, the run exits 4.
guarded() {
	local name=$1 append=$2 reason=$3 rc flat=$out/$1.flat
	"$top/scripts/run" --quiet --kernel "$out/kernel.env" --out "$out/$name" --cases misuse_warnings \
		--module-args misuse=1 --append "kunit.enable=0 lmm.exit=reboot $append" amd64 \
		> "$out/$name.log" 2>&1
	rc=$?
	ktap_flat < "$out/$name/results.ktap" > "$flat" 2>/dev/null
	echo "# $append: exit $rc, $(grep -c "misuse_warnings:.* # SKIP $reason" "$flat") parameter(s) skipped"
	[ "$(grep -c "misuse_warnings:.* # SKIP $reason" "$flat")" = 4 ] &&
		grep -q "^ok .*amd64:guest:completed" "$flat" && [ "$rc" = 4 ]
}
ktap_plan 2
ktap_check "panic_on_taint=0x200: every misuse parameter skips, the guest completes" \
	guarded taint panic_on_taint=0x200 "panic_on_taint includes TAINT_WARN: not provoking warnings"
ktap_check "kernel.warn_limit=3: every misuse parameter skips, the guest completes" \
	guarded limit sysctl.kernel.warn_limit=3 "kernel.warn_limit would be reached: not provoking warnings"
ktap_finish
