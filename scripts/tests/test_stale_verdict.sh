#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# No stale verdicts (issue 20, item 2): runs that fail before their guest
# runs, into a reused output directory that holds an earlier run's
# passing verdict, report the failure, and nothing of the old verdict is
# left to be read:
#   - scripts/run with a kernel version the mirror does not have: exit 1,
#     `not ok` for the lane and the merged verdict;
#   - scripts/gate with a series that does not exist: exit 1, no verdict
#     file left (a gate that stops before its report writes none).
# About 20 s warm (the build root and the apt indexes exist).
#
#   test_stale_verdict.sh OUT

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tests/ktap_helpers.sh"
[ $# -eq 1 ] || { echo "usage: ${0##*/} OUT" >&2; exit 2; }
out=$1
rm -rf "$out" && mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)

# seed DIR LANE: an earlier run's passing verdict in DIR (lane and merged).
seed() {
	python3 "$top/scripts/ktap-verdict" --lane "$2" --console "$top/scripts/tests/fixtures/pass.log" \
		--outdir "$1/$2" --quiet &&
		python3 "$top/scripts/ktap-verdict" --merge "$1" "$1/$2" > /dev/null &&
		verdict_is pass "$1/results.json"
}
# verdict_is WANT FILE: FILE's verdict field is WANT.
verdict_is() {
	python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[2]))["verdict"] != sys.argv[1])' "$@"
}
no_verdict_files() {
	local f
	for f in results.ktap results.json junit.xml results.kcidb.json; do
		[ ! -e "$1/$f" ] || { echo "# $1/$f is left" >&2; return 1; }
	done
}

ktap_plan 5
seed "$out/run" amd64 || { echo "# cannot seed $out/run" >&2; exit 1; }
"$top/scripts/run" --out "$out/run" --kernel 9.9.9 amd64 > "$out/run.ktap" 2> "$out/run.log"
rc=$?
echo "# scripts/run --kernel 9.9.9 into a passing output directory: exit $rc"
ktap_check "run_bad_kernel_exits_1" [ $rc = 1 ]
ktap_check "run_bad_kernel_lane_not_ok" grep -qx 'not ok 1 amd64' "$out/run/results.ktap"
ktap_check "run_bad_kernel_merged_json_fails" ktap_rc_and 1 verdict_is fail "$out/run/results.json"

seed "$out/gate" amd64 || { echo "# cannot seed $out/gate" >&2; exit 1; }
"$top/scripts/gate" --out "$out/gate" "$out/no-such-series" > "$out/gate.ktap" 2> "$out/gate.log"
rc=$?
echo "# scripts/gate on a missing series into a passing output directory: exit $rc"
ktap_check "gate_missing_series_exits_1" [ $rc = 1 ]
ktap_check "gate_missing_series_leaves_no_verdict" no_verdict_files "$out/gate"
ktap_finish
