#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The runner never loses a verdict: a guest that panics (before or in the
# middle of the module's KTAP) or hangs gives exit 1 within a bounded
# time, with the console log and the results printed so far kept; an
# interrupted run (SIGINT to its process group, as Ctrl-C sends) stops
# its QEMU and leaves no mount behind.  Uses the lmm.selftest= hook of
# scripts/guest/init on the amd64 default kernel.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/runner-faults}
. "$top/scripts/tests/ktap_helpers.sh"
n=0 fail=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1"; shift; printf '# %s\n' "$@"; }

# expect NAME APPEND TIMEOUT PATTERN [MODULE_ARGS [KEPT [CONSOLE]]]: run,
# want rc 1 and PATTERN (and KEPT, a result from before the failure) in
# the verdict, and CONSOLE in the guest's console (the fault was the
# one asked for, not a slow boot).
expect() {
	local name=$1 append=$2 timeout=$3 pattern=$4 margs=${5:-} kept=${6:-} cpat=${7:-} rc t0=$EPOCHREALTIME secs
	"$top/scripts/run" --quiet --out "$out/$name" --append "$append" \
		${margs:+--module-args "$margs"} --timeout "$timeout" amd64 > "$out/$name.log" 2>&1
	rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	if [ $rc -ne 1 ]; then
		notok "$name" "expected exit 1, got $rc" "log: $out/$name.log"
	elif ! grep -q "$pattern" "$out/$name/results.ktap"; then
		notok "$name" "verdict lacks '$pattern'" "log: $out/$name.log"
	elif [ -n "$kept" ] && ! ktap_flat < "$out/$name/results.ktap" | grep -q "$kept"; then
		notok "$name" "the results from before the failure were not kept: no '$kept'"
	elif [ ! -s "$out/$name/amd64/console.log" ]; then
		notok "$name" "console log not kept"
	elif [ -n "$cpat" ] && ! grep -q "$cpat" "$out/$name/amd64/console.log"; then
		notok "$name" "the console lacks '$cpat': the guest timed out before the fault"
	else
		ok "$name ($secs s, console${kept:+ and earlier results} kept)"
	fi
}

# interrupted: SIGINT to a run's process group while its guest boots.
interrupted() {
	local dir=$out/interrupted rc i t0 secs left
	rm -rf "$dir"
	setsid "$top/scripts/run" --quiet --out "$dir" --timeout 120 \
		--module-args duration_ms=60000 amd64 > "$dir.log" 2>&1 &
	local pid=$!
	for i in $(seq 120); do
		pgrep -f "qemu-system-x86_64 .*$dir/amd64/initrd.gz" > /dev/null && break
		sleep 1
	done
	sleep 2
	t0=$EPOCHREALTIME
	kill -INT -- -"$pid" 2> /dev/null
	wait "$pid"
	rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	sleep 1
	left=$(pgrep -f "qemu-system-x86_64 .*$dir/amd64/initrd.gz")
	if [ "$i" = 120 ]; then
		notok interrupted "the guest never started (log: $dir.log)"
	elif [ $rc -eq 0 ] || [ "$secs" -gt 15 ]; then
		notok interrupted "expected a non-zero exit within 15 s, got $rc after $secs s"
	elif [ -n "$left" ]; then
		notok interrupted "QEMU still running after the interrupt: PID $left"
		# shellcheck disable=SC2086  # a list of PIDs
		kill $left 2> /dev/null
	elif grep -qF "$dir" /proc/mounts; then
		notok interrupted "a mount of the run is left behind"
	else
		ok "interrupted (exit $rc, $secs s after SIGINT; QEMU gone, no mount left)"
	fi
}

mkdir -p "$out"
echo "KTAP version 1"
echo "1..5"
expect guest_panic lmm.selftest=panic 120 "kernel panic"
expect guest_hang lmm.selftest=hang 10 "guest hung" "" "" "LMM: selftest: hanging"
# Partial KTAP: the cases done before the crash keep their results.
# insmod killed during concurrent_walks (60 s long): the module's waits
# are killable, it stops its walkers and returns well within the timeout.
expect insmod_killed lmm.selftest=kill-mid 50 "the test task was killed" duration_ms=60000 \
	'^ok [0-9]* amd64:lazy_mmu_test:lazy_mmu_nesting:initial_state$'
expect guest_panic_mid_run lmm.selftest=panic-mid 120 "kernel panic" duration_ms=30000 \
	'^ok [0-9]* amd64:lazy_mmu_test:lazy_mmu_nesting:initial_state$'
interrupted
echo "# Totals: pass:$((n - fail)) fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
