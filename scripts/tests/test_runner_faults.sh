#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The runner never loses a verdict: a guest that panics or hangs gives
# exit 1 within a bounded time, with the console log kept.  Uses the
# lmm.selftest= hook of scripts/guest/init on the amd64 default kernel.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/runner-faults}
n=0 fail=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1"; shift; printf '# %s\n' "$@"; }

# expect NAME APPEND TIMEOUT PATTERN: run, want rc 1 and PATTERN in the verdict.
expect() {
	local name=$1 append=$2 timeout=$3 pattern=$4 rc t0=$EPOCHREALTIME secs
	"$top/scripts/run" --quiet --out "$out/$name" --append "$append" \
		--timeout "$timeout" amd64 > "$out/$name.log" 2>&1
	rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	if [ $rc -ne 1 ]; then
		notok "$name" "expected exit 1, got $rc" "log: $out/$name.log"
	elif ! grep -q "$pattern" "$out/$name/results.ktap"; then
		notok "$name" "verdict lacks '$pattern'" "log: $out/$name.log"
	elif [ ! -s "$out/$name/amd64/console.log" ]; then
		notok "$name" "console log not kept"
	else
		ok "$name ($secs s, console kept)"
	fi
}

mkdir -p "$out"
echo "KTAP version 1"
echo "1..2"
expect guest_panic lmm.selftest=panic 120 "kernel panic"
expect guest_hang lmm.selftest=hang 20 "guest hung"
echo "# Totals: pass:$((n - fail)) fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
