#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# misuse=1 never brings a kernel down: on the kunit.py x86_64 debug
# kernel (DEBUG_VM, where the misuse cases really warn), booted with
# panic_on_taint covering TAINT_WARN (0x200), the plain module's
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

ktap_plan 3
"$top/scripts/run" --quiet --kernel "$out/kernel.env" --out "$out/run" --cases misuse_warnings \
	--module-args misuse=1 --append "kunit.enable=0 lmm.exit=reboot panic_on_taint=0x200" amd64 \
	> "$out/run.log" 2>&1
rc=$?
flat=$out/run.flat
ktap_flat < "$out/run/results.ktap" > "$flat" 2>/dev/null
reason='panic_on_taint includes TAINT_WARN: not provoking warnings'
all_skipped() { [ "$(grep -c "misuse_warnings:.* # SKIP $reason" "$flat")" = 4 ]; }
ktap_check "every misuse parameter skips: $reason" all_skipped
ktap_check "the guest completed, no panic" grep -q "^ok .*amd64:guest:completed" "$flat"
ktap_check "exit 4, everything skipped (exit $rc)" [ "$rc" = 4 ]
ktap_finish
