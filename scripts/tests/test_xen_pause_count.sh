#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Known-bug pin (SERIES.md section 5): under Xen PV, Debian's 7.3.4 kernel
# starts new tasks with a wrapped pause count, so the mode never turns on.
# The suite must catch it: the Xen PV lane fails, and says why.  When the
# kernel under test is fixed this check fails too, saying so: then drop
# or move the pin.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/xen-pause-count}
kernel=${2:-pin}	# the amd64 pin of lanes.json, 7.3.4+deb13

"$top/scripts/run" --quiet --kernel "$kernel" --out "$out" amd64-xen > "$out.log" 2>&1
rc=$?
k=$out/results.ktap
. "$top/scripts/tests/ktap_helpers.sh"
ktap_plan 3
names_wrap() {
	grep -A1 "guest:task_state: fresh tasks do not start at E=0 P=0" "$k" | grep -q "wrapped below 0" ||
		grep -q "guest:task_state: .*wrapped below 0" "$k"
}
p_near_255() {
	grep -q "new kthread starts with E=0 P=25[0-9].*Xen PV" "$k" &&
		grep -q "precondition: task .* starts with E=0 P=25[0-9].*Xen PV" "$k"
}
ktap_check "xen lane fails on $kernel (exit $rc)" [ "$rc" -eq 1 ]
ktap_check "guest:task_state names the wrapped pause count" names_wrap
ktap_check "fresh_kthread_state and initial_state report P near 255 under Xen PV" p_near_255
if ktap_flat < "$k" 2>/dev/null | grep -q '^ok .*guest:task_state'; then
	echo "# fresh tasks start at E=0 P=0 under Xen PV on $kernel: the bug is fixed, update this pin"
fi
grep -E '^# amd64-xen: ' "$k" 2>/dev/null
ktap_finish
