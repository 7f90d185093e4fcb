#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Self-test for scripts/ktap-verdict: run it on the console logs in
# fixtures/ and check exit codes and key output lines.  Prints KTAP;
# exits 0 when every check passes, 1 otherwise.
#
#   PYTHON=python3.9 scripts/tests/test_ktap_verdict.sh   # another interpreter

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tool=$here/../ktap-verdict
fx=$here/fixtures
PYTHON=${PYTHON:-python3}
. "$here/ktap_helpers.sh"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0 npass=0 nfail=0
report=()

# record NAME [REASON...]: one KTAP result; any REASON makes it "not ok".
record() {
	local name=$1 line
	shift
	n=$((n + 1))
	if [ $# -eq 0 ]; then
		npass=$((npass + 1))
		report+=("ok $n $name")
		return
	fi
	nfail=$((nfail + 1))
	for line in "$@"; do
		line=${line//$'\t'/ }
		report+=("# ${line//$'\n'/ }")
	done
	report+=("not ok $n $name")
}

# tc NAME RC [PATTERN...] -- ARGS...: run the tool with ARGS, expect exit
# status RC and, for each extended regex PATTERN, a whole stdout line that
# matches it (a leading ! means: no line may match), in stdout read as
# ktap_flat lists it: results named by their path, lines unindented.  Stdout is kept in
# $tmp/NAME.out for later checks.
tc() {
	local name=$1 want=$2 pats=() p rc why=() out
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pats+=("$1"); shift; done
	shift
	out=$tmp/$name.out
	"$PYTHON" "$tool" "$@" >"$out" 2>"$tmp/$name.err"
	rc=$?
	[ "$rc" = "$want" ] || why+=("exit status $rc, expected $want")
	ktap_flat < "$out" > "$out.flat"
	for p in ${pats[@]+"${pats[@]}"}; do
		if [ "${p:0:1}" = '!' ]; then
			grep -Eqx -- "${p:1}" "$out.flat" && why+=("unexpected line matching: ${p:1}")
		else
			grep -Eqx -- "$p" "$out.flat" || why+=("no line matching: $p")
		fi
	done
	if [ ${#why[@]} -gt 0 ] && [ -s "$tmp/$name.err" ]; then
		why+=("stderr: $(head -c 300 "$tmp/$name.err" | tr '\n' ' ')")
	fi
	record "$name" ${why[@]+"${why[@]}"}
}

# ck NAME CMD...: a check that passes when CMD succeeds.
ck() {
	local name=$1
	shift
	if "$@" >"$tmp/$name.ck" 2>&1; then
		record "$name"
	else
		record "$name" "failed: $*" "$(head -c 300 "$tmp/$name.ck" | tr '\n' ' ')"
	fi
}

N='[0-9]+'
A=amd64
R='arm64-7\.3\.4\+deb13'

header_ok() {
	[ -x "$tool" ] &&
	[ "$(head -n2 "$tool")" = $'#!/usr/bin/env python3\n# SPDX-License-Identifier: GPL-2.0-only' ]
}
ck tool_header header_ok

tc pass_run 0 \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:enter_leave" \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:nest_depth" \
	"ok $N $A:lazy_mmu_test:lazy_mmu_nesting:nest_in_irq_disabled" \
	"ok $N $A:lazy_mmu_test:lazy_mmu_pte_batch:set_ptes_batch # SKIP no contiguous PTE support on this CPU" \
	"ok $N $A:kernel:log_clean" "ok $N $A:kernel:counters" "ok $N $A:guest:completed" \
	"# $A: 8 passed, 0 failed, 1 skipped" \
	"# Totals: pass:11 fail:0 xfail:0 xpass:0 skip:1 error:0" \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:nest_depth:depth=17" \
	'!not ok.*' \
	-- --lane $A --console "$fx/pass.log" --outdir "$tmp/lane-pass"
ck pass_ktap_file cmp "$tmp/pass_run.out" "$tmp/lane-pass/results.ktap"
# results.json and junit.xml as data: scripts/lmm/tests/test_verdict_files.py.

tc param_fail 1 \
	"not ok $N $R:lazy_mmu_kunit:lazy_mmu_basic:nest_depth" \
	"# $R:lazy_mmu_kunit:lazy_mmu_basic:nest_depth: 1 of 4 subtest\(s\) failed: depth=17" \
	"not ok $N $R:lazy_mmu_kunit:lazy_mmu_basic:nest_depth:depth=17" \
	"# $R:lazy_mmu_kunit:lazy_mmu_basic:nest_depth\[depth=17\]: nest_depth: EXPECTATION FAILED at lazy_mmu_kunit.c:87" \
	"# Expected is_lazy_mmu_mode_active\(\) to be true, but is false" \
	"ok $N $R:lazy_mmu_kunit:lazy_mmu_basic:pte_batch" \
	"ok $N $R:kernel:log_clean" \
	'!.*hrtimer.*' '!not ok .*depth=8' \
	"# Totals: pass:8 fail:1 xfail:0 xpass:0 skip:0 error:0" \
	-- --lane "arm64-7.3.4+deb13" --console "$fx/param_fail.log" --outdir "$tmp/lane-fail"

tc all_skip 4 \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:nest_depth # SKIP kernel lacks the lazy MMU nesting series" \
	"ok $N $A:lazy_mmu_test:lazy_mmu_nesting # SKIP kernel lacks the lazy MMU nesting series" \
	"ok $N $A:guest:completed" '!not ok.*' \
	"# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:3 error:0" \
	"ok 1 $A # SKIP every test case skipped" \
	-- --lane $A --console "$fx/all_skip.log" --outdir "$tmp/lane-skip"

# An architecture without the mode (Debian's riscv64): every case and the
# task-state check skip with the reason, none passes.
tc no_lazy_mmu 4 \
	"ok $N riscv64:lazy_mmu_test:lazy_mmu_nesting:initial_state # SKIP architecture has no lazy MMU mode \(ARCH_HAS_LAZY_MMU_MODE not set\)" \
	"ok $N riscv64:guest:task_state # SKIP architecture has no lazy MMU mode \(ARCH_HAS_LAZY_MMU_MODE not set\)" \
	'!ok [0-9]+ riscv64:lazy_mmu_test:[^#]*' '!not ok.*' \
	"# Totals: pass:3 fail:0 xfail:0 xpass:0 skip:68 error:0" \
	-- --lane riscv64 --console "$fx/no_lazy_mmu_riscv64.log"

# The guest hangs inside the second insmod: /init never prints its block.
tc hung_timeout 1 \
	"# $A:guest:completed: guest hung: no LMM-DONE before the runner's timeout" \
	"not ok $N $A:guest:completed" \
	"# last 17 console lines:" "# LMM-END lazy_mmu_kunit rc=0" \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:pte_batch" \
	"ok $N $A:kernel:counters # SKIP counters not available" \
	"ok $N $A:kernel:log_clean" \
	"# $A: 3 passed, 1 failed, 1 skipped" \
	-- --lane $A --console "$fx/hung.log" --qemu-status timeout

# Console output cut off inside a module's block (no LMM-END).
tc unterminated 1 \
	"# $A:guest:completed: guest stopped early \(qemu error:2\)" \
	"ok $N $A:lazy_mmu_test:lazy_mmu_nesting:nest_simple" \
	"not ok $N $A:lazy_mmu_test:lazy_mmu_nesting:incomplete" \
	"# lazy_mmu_nesting: no result line for the suite" \
	"# lazy_mmu_nesting: plan 1\.\.3, but test\(s\) 3 never reported" \
	"# lazy_mmu_test: plan 1\.\.2, but test\(s\) 2 never reported" \
	-- --lane $A --console "$fx/unterminated.log" --qemu-status error:2

tc panic 1 \
	"# $A:guest:completed: kernel panic: Kernel panic - not syncing: Fatal exception" \
	"not ok $N $A:kernel:log_clean" \
	"# $A:kernel:log_clean: kernel log: BUG:, Call Trace:, Kernel panic, Oops" \
	"#   BUG: unable to handle page fault for address: ffffc90000a3f000" \
	"#   line 26: Kernel panic - not syncing: Fatal exception" \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:enter_leave" \
	"# $A: 1 passed, 2 failed, 1 skipped" \
	-- --lane $A --console "$fx/panic.log"

tc warning_allowed 0 \
	"# $A:kernel:log_clean: 1 expected WARNING\(s\) seen" \
	"ok $N $A:kernel:log_clean" "ok $N $A:kernel:counters" \
	"ok $N $A:lazy_mmu_misuse:lazy_mmu_misuse:leave_without_enter_warns" '!not ok.*' \
	-- --lane $A --console "$fx/warning.log" --allow-warnings 1

tc warning_unexpected 1 \
	"# $A:kernel:log_clean: kernel log: WARNING: \(1 WARNING\(s\), 0 expected\)" \
	"# first problem, line 5:" '!#   line .*' \
	"#   WARNING: CPU: 0 PID: 63 at include/linux/pgtable.h:235 .*" \
	"#   Call Trace:" \
	"# $A:kernel:counters: warn count rose by 1 \(allowed 0\)" \
	"# taint: 0 -> 12800 \(WOE\)" \
	"not ok $N $A:kernel:counters" \
	-- --lane $A --console "$fx/warning.log"

tc warning_missing 1 \
	"# $A:kernel:log_clean: expected 2 warnings, saw 1" \
	"ok $N $A:kernel:counters" \
	-- --lane $A --console "$fx/warning.log" --allow-warnings 2

tc truncated 1 \
	"ok $N $A:lazy_mmu_test:lazy_mmu_nesting:nest_simple" \
	"ok $N $A:lazy_mmu_test:lazy_mmu_pte_batch:set_ptes_batch" \
	"not ok $N $A:lazy_mmu_test:lazy_mmu_pte_batch:incomplete" \
	"# lazy_mmu_pte_batch: no result line for the suite" \
	"# lazy_mmu_pte_batch: plan 1\.\.3, but test\(s\) 2, 3 never reported" \
	"not ok $N $A:lazy_mmu_test:incomplete" \
	"ok $N $A:guest:completed" \
	-- --lane $A --console "$fx/truncated.log"

tc load_failure 1 \
	"# $A:lazy_mmu_test:load: insmod exited with rc=1" \
	"# lazy_mmu_test: Unknown symbol lazy_mmu_mode_enable \(err -2\)" \
	"# insmod: can't insert '/lmm/lazy_mmu_test.ko': unknown symbol in module, or unknown parameter" \
	"not ok $N $A:lazy_mmu_test:load" \
	"# $A:lazy_mmu_quiet:ktap: no KTAP output" \
	"not ok $N $A:lazy_mmu_quiet:ktap" \
	"ok $N $A:kernel:counters # SKIP counters not available" \
	-- --lane $A --console "$fx/load_fail.log"

# powerpc lanes: the guest names the MMU the kernel ran on (--mmu).
P=ppc64el-hash
tc mmu_match 0 \
	"ok $N $P:lazy_mmu_test:lazy_mmu_nesting:kernel_sections" \
	"# $P:guest:mmu: Hash MMU" "ok $N $P:guest:mmu" '!not ok.*' \
	"# Totals: pass:6 fail:0 xfail:0 xpass:0 skip:3 error:0" \
	-- --lane $P --console "$fx/ppc64el_hash.log" --mmu Hash
tc mmu_mismatch 1 \
	"# $P:guest:mmu: the kernel ran on the Hash MMU, not Radix" "not ok $N $P:guest:mmu" \
	"ok $N $P:guest:completed" \
	-- --lane $P --console "$fx/ppc64el_hash.log" --mmu Radix
tc mmu_unnamed 1 \
	"# $A:guest:mmu: the guest did not say which MMU the kernel ran on \(Radix expected\)" \
	"not ok $N $A:guest:mmu" \
	-- --lane $A --console "$fx/pass.log" --mmu Radix
tc mmu_not_asked 0 '!.*:guest:mmu.*' \
	-- --lane $P --console "$fx/ppc64el_hash.log"

tc no_modules 1 \
	"# $A:guest:modules: no test module ran" "not ok $N $A:guest:modules" \
	-- --lane $A --console "$fx/no_modules.log"

tc quiet 1 '!.*' \
	-- --lane $A --console "$fx/no_modules.log" --quiet

tc merge_pass_skip 0 \
	"ok $N $A:lazy_mmu_kunit:lazy_mmu_basic:nest_depth" \
	"# $A: 8 passed, 0 failed, 1 skipped" "# ${A}_2: 3 passed, 0 failed, 3 skipped" \
	"# Totals: pass:14 fail:0 xfail:0 xpass:0 skip:4 error:0" "1\.\.2" \
	-- --merge "$tmp/merged" "$tmp/lane-pass" "$tmp/lane-skip"
tc merge_all_skip 4 "# Totals: pass:6 fail:0 xfail:0 xpass:0 skip:6 error:0" \
	-- --merge "$tmp/merged2" "$tmp/lane-skip" "$tmp/lane-skip"
tc merge_fail 1 \
	"not ok $N $R:lazy_mmu_kunit:lazy_mmu_basic:nest_depth" \
	"# $R: 5 passed, 1 failed, 0 skipped" \
	-- --merge "$tmp/merged3" "$tmp/lane-pass" "$tmp/lane-fail"
tc merge_missing_lane 1 "not ok $N lane-gone:results" \
	-- --merge "$tmp/merged4" "$tmp/lane-pass" "$tmp/lane-gone"

tc usage_no_args 2 --
tc usage_bad_status 2 -- --lane $A --console "$fx/pass.log" --qemu-status crashed
tc unreadable_console 2 -- --lane $A --console "$tmp/does-not-exist.log"

echo "KTAP version 1"
echo "1..$n"
printf '%s\n' "${report[@]}"
echo "# Totals: pass:$npass fail:$nfail xfail:0 xpass:0 skip:0 error:0"
[ "$nfail" -eq 0 ]
