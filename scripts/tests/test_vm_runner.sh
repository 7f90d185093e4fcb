#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The on-VM runner (runner/lazy_mmu_test.sh) in the amd64 guest, one
# boot, one part per mark (ktap-verdict --split): the built-in loader
# runs the module, then the runner finds the module under
# /lib/modules/<release>/extra and runs it; both must give the same
# pass/fail/skip counts.  Then the runner's exit codes: 4 when every case
# skips, 1 when the module refuses its parameters, 1 (not 2) on a usage
# error; --list names the cases the module ran; and the kernel's own
# run_kselftest.sh runs it from its kselftest layout.  Last, a module
# whose cases really fail (a header mutant's, from a mutant sweep): the
# runner takes its KTAP from the kernel log although insmod refused it,
# and exits 1.
#
#   test_vm_runner.sh [OUT [DKMS_OUT [MUTATE_OUT]]]
#
# DKMS_OUT: test_dkms_deb.sh's output; the runner then loads its
# DKMS-built module, and run_kselftest.sh uses the package's layout
# (the DKMS module boots and passes); without it, build-modules' module
# and `make install`'s layout.  MUTATE_OUT: scripts/mutate's output for
# lane amd64 with mutant 01 among its mutants (make check's sweep); the
# failing-case check SKIPs without it.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
. "$top/scripts/tests/ktap_helpers.sh"
out=${1:-$top/out/vm-runner}
dkms=${2:-}
mutate=${3:-}
mko=
[ -z "$mutate" ] || mko=$(ls "$mutate"/amd64/build/01-enable-counts-while-paused/lmm_m*.ko 2>/dev/null | head -n1)
need_root
rm -rf "$out" && mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
ktap_plan 11

# The runner outside a guest, under each shell it supports: usage
# errors exit 1 (kselftest reads 2 as XFAIL), --help 0.
bb=$(ls "$LMM_CACHE"/busybox/amd64-*/busybox 2>/dev/null | head -n1)
shells() {
	local sh rc
	for sh in dash bash ${bb:+"$bb sh"}; do
		# shellcheck disable=SC2086
		$sh "$top/runner/lazy_mmu_test.sh" --no-such-option > /dev/null 2>&1
		rc=$?
		# shellcheck disable=SC2086
		$sh "$top/runner/lazy_mmu_test.sh" --help > /dev/null 2>&1 || { echo "# $sh: --help failed"; return 1; }
		echo "# ${sh##*/}: usage error exit $rc"
		[ $rc = 1 ] || return 1
	done
}
ktap_check "usage error exits 1, --help 0, under dash, bash and busybox sh" shells

lane=$("$top/scripts/fetch-kernel" --arch amd64 2> "$out/fetch-kernel.log") || { cat "$out/fetch-kernel.log"; exit 1; }
"$top/scripts/build-modules" --kdir "$(kv KDIR <<< "$lane")" --out "$out/build" --cache > "$out/build-modules.log" 2>&1 ||
	{ cat "$out/build-modules.log"; exit 1; }
ko=$out/build/lazy_mmu_test.ko rko=$ko
ksft=$out/kselftest
if [ -n "$dkms" ]; then
	rko=$dkms/dkms/lazy_mmu_test.ko
	[ -s "$rko" ] && [ -d "$dkms/kselftest" ] || die "no DKMS module or kselftest layout in $dkms (test_dkms_deb.sh failed?)"
	cp -a "$dkms/kselftest" "$ksft"
else
	make -s -C "$top" install DESTDIR="$out/inst" PREFIX=/usr > /dev/null &&
		cp -a "$out/inst/usr/lib/lazy-mmu-tests/kselftest" "$ksft" || die "make install failed"
fi
# The kernel's kselftest runner beside the layout (as in a kselftest install).
ksrc=$(kv KSRC < <("$top/scripts/fetch-source" 2> "$out/fetch-source.log")) || exit 1
cp "$ksrc/tools/testing/selftests/run_kselftest.sh" "$ksft/" &&
	cp -r "$ksrc/tools/testing/selftests/kselftest" "$ksft/" || die "no run_kselftest.sh in $ksrc"

# One boot through scripts/run's own steps (lmm.pipeline).
echo "# runner loads $rko"
if ! python3 - "$top/scripts" "$out" "$(kv KIMAGE <<< "$lane")" "$ko" "$rko" "$ksft" "$mko" "$(kv KREL <<< "$lane")" <<'EOF' > "$out/boot.log" 2>&1
import sys
sys.path.insert(0, sys.argv[1])
from lmm import pipeline
out, kimage, ko, rko, ksft, mko, krel = sys.argv[2:]
entries = [("mark", "builtin"), ("module", ko),
           ("mark", "runner"), ("runner", rko),
           ("mark", "runner-skip"), ("runner", rko + ":cases=arm64_pending_barriers"),
           ("mark", "runner-fail"), ("runner", rko + ":cases=no_such_case"),
           ("mark", "runner-usage"), ("runner", rko + ":--no-such-option"),
           ("mark", "runner-list"), ("runner", rko + ":--list"),
           ("mark", "kselftest"), ("kselftest", ksft + ":cases=initial_state")]
if mko:     # last: a failing module may leave the task's state behind
    name = mko.rsplit("/", 1)[-1]
    entries += [("mark", "runner-mutant"),
                ("runner", "%s:--module /lib/modules/%s/extra/%s" % (mko, krel, name))]
pipeline.initramfs("amd64", out + "/initrd.gz", entries)
status = pipeline.boot("amd64", kimage, out + "/initrd.gz", out + "/console.log", timeout=300)
print("qemu-status", status)
pipeline.verdict(out, ["--lane", "amd64", "--console", out + "/console.log",
                       "--qemu-status", status, "--split", out + "/parts"])
EOF
then
	tail -n 20 "$out/boot.log"
	exit 1
fi
parts=$out/parts

# part_exit PART: the runner's (or run_kselftest.sh's) exit status in PART.
part_exit() { sed -n 's/^.*LMM: \(runner [^ ]*\|kselftest\) exit \([0-9]*\).*/\2/p' "$parts/$1/console.log" | tail -n1; }
# totals PART: pass fail skip of the part's verdict.
totals() {
	python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["totals"]; print(t["pass"], t["fail"], t["skip"])' \
		"$parts/$1/results.json" 2>/dev/null
}
in_part() { grep -qE -- "$2" "$parts/$1/console.log"; }
verdict_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["verdict"])' "$parts/$1/results.json" 2>/dev/null; }

b=$(totals builtin) r=$(totals runner)
echo "# built-in loader: pass fail skip = $b; runner: $r (exit $(part_exit runner))"
same_counts() { [ -n "$b" ] && [ "$b" = "$r" ] && [ "$(part_exit runner)" = 0 ] && [ "$(cut -d' ' -f2 <<< "$b")" = 0 ]; }
ktap_check "the runner gives the built-in loader's counts ($b), exit 0" same_counts
ktap_check "every case skipped (cases=arm64_pending_barriers): exit 4 and a skip verdict" \
	test "$(part_exit runner-skip)" = 4 -a "$(verdict_of runner-skip)" = skip
ktap_check "a parameter the module refuses (cases=no_such_case): exit 1, the kernel's reason" \
	test "$(part_exit runner-fail)" = 1 -a -n "$(grep -F "unknown case 'no_such_case'" "$parts/runner-fail/console.log")"
ktap_check "a usage error in the guest (busybox ash): exit 1, not 2" \
	test "$(part_exit runner-usage)" = 1 -a -n "$(grep -F 'unknown option: --no-such-option' "$parts/runner-usage/console.log")"

# --list: the names of the cases the module ran (from the verdict).
listed() {
	local want got
	want=$(python3 -c 'import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["module"] == "lazy_mmu_test" and c["case"]:
        print(c["case"])' "$parts/builtin/results.json" | sort)
	got=$(sed -n '/LMM-BEGIN/,/LMM-END/p' "$parts/runner-list/console.log" | grep -E '^[a-z0-9_]+$' | sort)
	echo "# --list: $(wc -l <<< "$got") cases, $(grep -c ':' < <(sed -n '/LMM-BEGIN/,/LMM-END/p' "$parts/runner-list/console.log" | grep -E '^[a-z0-9_]+:[0-9]+ ')) parameters"
	[ "$(part_exit runner-list)" = 0 ] && [ -n "$got" ] && [ "$want" = "$got" ]
}
ktap_check "--list names exactly the cases the module runs" listed
ktap_check "run_kselftest.sh runs lazy_mmu:lazy_mmu_test.sh from its kselftest layout: ok, exit 0" \
	test "$(part_exit kselftest)" = 0 -a -n "$(grep -E '^ok 1 selftests: lazy_mmu: lazy_mmu_test.sh' "$parts/kselftest/console.log")"
ktap_check "run_kselftest.sh passed the runner its arguments (cases=initial_state)" in_part kselftest "^# +ok 1 initial_state$"
ktap_check "the guest finished" in_part kselftest LMM-DONE
ktap_check "the runner's part judged pass" test "$(verdict_of runner)" = pass
# A module whose cases fail: insmod refuses it (EINVAL), the runner still
# has its KTAP from the kernel log, names the failing case and exits 1.
mutant_fails() {
	[ "$(part_exit runner-mutant)" = 1 ] && in_part runner-mutant "not ok [0-9]+ calls_ignored_while_paused" &&
		[ "$(verdict_of runner-mutant)" = fail ]
}
if [ -n "$mko" ]; then
	ktap_check "a module whose cases fail (mutant 01, $(basename "$mko")): its KTAP from the kernel log, exit 1" mutant_fails
else
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n a module whose cases fail # SKIP no mutant 01 module in '${mutate:-}' (MUTATE_OUT)"
fi
ktap_finish
