#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The mutant sweep's own faults, in one real sweep on amd64 of four
# mutants: 01, the panicking one, an equivalent one (a comment changes)
# and 02.  The panic in the first boot comes after 01, so it is not blamed
# yet: 01 boots again with a control (boot 2), the panicking mutant boots
# first with the rest (boot 3) and is killed by its crash, and the last
# two run in boot 4.  The equivalent mutant survives, so the harness
# exits 1; 01 and 02 keep the verdicts they have alone.
#
#   test_mutant_sweep.sh [OUTDIR]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/mutant-sweep-test}
. "$top/scripts/tests/ktap_helpers.sh"
fx=$top/scripts/tests/fixtures/mutants

# verdict MUTANT: its verdict in the sweep's results.json; detail MUTANT: its amd64 line.
verdict() {
	python3 -c 'import json, sys
print(next(m["verdict"] for m in json.load(open(sys.argv[1]))["mutants"] if m["name"] == sys.argv[2]))' \
		"$out/results.json" "$1" 2>/dev/null
}
detail() {
	python3 -c 'import json, sys
m = next(m for m in json.load(open(sys.argv[1]))["mutants"] if m["name"] == sys.argv[2])
print(m["lanes"]["amd64"]["detail"])' "$out/results.json" "$1" 2>/dev/null
}
field() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out/results.json" "$1" 2>/dev/null
}

ktap_plan 6
rm -rf "$out"
"$top/scripts/mutate" --lane amd64 --out "$out" "$top/mutants/01-enable-counts-while-paused.patch" \
	"$fx/90-selftest-panics.patch" "$fx/91-selftest-equivalent.patch" \
	"$top/mutants/02-enable-pause-check-off-by-one.patch" > "$out.log" 2>&1
rc=$?
sed -n 's/^# killed/# killed/p' "$out.log"
# killed_by MUTANT CASE: killed, CASE among the cases that caught it.
killed_by() { [ "$(verdict "$1")" = killed ] && detail "$1" | grep -q "$2"; }
before_crash() {
	killed_by 01-enable-counts-while-paused calls_ignored_while_paused &&
		! detail 01-enable-counts-while-paused | grep -q guest:completed
}
four_boots() { [ "$(field boots)" = 4 ] && [ "$(verdict 91-selftest-equivalent)" = survived ]; }
parts_kept() {
	[ -s "$out/90-selftest-panics/amd64/console.log" ] &&
		[ -s "$out/02-enable-pause-check-off-by-one/amd64/results.json" ]
}
ktap_check "the harness exits 1: one mutant survived (got $rc)" [ "$rc" -eq 1 ]
ktap_check "the panicking mutant is killed by its crash" killed_by 90-selftest-panics guest:completed
ktap_check "the crash split the boot: 01 again, the crasher first, the rest after it (4 boots)" four_boots
ktap_check "the mutant before the crash is killed by its cases, not by the crash" before_crash
ktap_check "the mutant after the crash is killed by its cases" \
	killed_by 02-enable-pause-check-off-by-one calls_ignored_while_paused
ktap_check "each mutant keeps its part: console and verdict files" parts_kept
ktap_finish
