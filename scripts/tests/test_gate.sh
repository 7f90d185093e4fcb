#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The series gate on its two kept examples (series/) and on a series that
# does not apply:
#   1. xen-pv-lazy-mmu.mbox fixes the Xen PV pause-count bug:
#      exit 0, the Xen lane's state cases newly passing, nothing newly failing.
#   2. arm64-update-range-prot-unnested/ re-breaks arm64 update_range_prot():
#      exit 1, the linear-map cases newly failing in the arm64 lanes, and
#      failing again when the gate runs the series' lanes a second time.
#   3. a patch that does not apply: exit 1 before anything is built.
#
#   test_gate.sh [OUTDIR [PART...]]
#
# PART: xen-fix, arm64-break, no-apply (default all three).  make check
# runs the two examples as steps of their own: each holds one kunit.py
# build (x86_64, arm64), and apart they run side by side.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/gate-test}
shift $(($# > 0 ? 1 : 0))
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(xen-fix arm64-break no-apply)
declare -A checks=([xen-fix]=5 [arm64-break]=4 [no-apply]=1)
plan=0
for p in "${parts[@]}"; do
	[ -n "${checks[$p]:-}" ] || { echo "test_gate.sh: no part '$p' (xen-fix, arm64-break, no-apply)" >&2; exit 2; }
	plan=$((plan + checks[$p]))
done
mkdir -p "$out"
. "$top/scripts/tests/ktap_helpers.sh"

# change LANE CASE: the change the gate reported for a case.
change() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(c["change"] for c in d["cases"] if c["lane"] == sys.argv[2] and c["case"].endswith(sys.argv[3])))
' "$g/results.json" "$1" "$2" 2>/dev/null
}

# gate NAME SERIES: run the gate into $out/NAME; sets g and rc.  Every
# newly failing case is printed with its reason, so that a failing check
# explains itself in the step's log.
gate() {
	g=$out/$1
	"$top/scripts/gate" --out "$g" "$2" > "$g.log" 2>&1
	rc=$?
	grep -E '^# (gate|stage|kunit-kernel|kunit-)' "$g.log" | grep -v '^# stage .* \.\.\.$'
	python3 -c '
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["change"] == "regression":
        print("# newly failing: %s %s: %s" % (c["lane"], c["case"], c.get("why") or c.get("reason") or ""))
' "$g/results.json" 2>/dev/null
}

ktap_plan $plan

# changed LANE CASE CHANGE: the gate reported CHANGE for that case.
changed() { [ "$(change "$1" "$2")" = "$3" ]; }
xen_cases_fixed() {
	changed kunit-kernel-x86_64-xen :xen_pte_deferral fixed &&
		changed kunit-kernel-x86_64-xen :initial_state fixed
}

part_xen_fix() {
	gate xen-fix "$top/series/xen-pv-lazy-mmu.mbox"
	ktap_check "xen fix: gate exit 0 (got $rc)" [ "$rc" -eq 0 ]
	ktap_check "xen fix: only the x86_64 lanes run (the patch touches arch/x86 only)" \
		grep -q "lanes for: x86_64$" "$g.log"
	ktap_check "xen fix: guest:task_state newly passing under Xen PV" \
		changed kunit-kernel-x86_64-xen guest:task_state fixed
	ktap_check "xen fix: xen_pte_deferral and initial_state newly passing under Xen PV" xen_cases_fixed
	ktap_check "xen fix: the report names the patch" \
		grep -qi "^# patch 1: x86/xen: start new tasks paused once" "$g/results.ktap"
}

part_arm64_break() {
	gate arm64-break "$top/series/arm64-update-range-prot-unnested"
	ktap_check "arm64 breakage: gate exit 1 (got $rc)" [ "$rc" -eq 1 ]
	ktap_check "arm64 breakage: linear_map_debug_pagealloc newly failing (plain module lane)" \
		changed kunit-kernel-arm64-kmod :linear_map_debug_pagealloc regression
	ktap_check "arm64 breakage: the gate verdict says REGRESSION" \
		grep -q "^# gate verdict: REGRESSION" "$g/results.ktap"
	ktap_check "arm64 breakage: the regression failed again when the series' lanes ran a second time" \
		grep -q "linear_map_debug_pagealloc: .*again when run a second time" "$g/results.ktap"
}

part_no_apply() {
	g=$out/no-apply
	mkdir -p "$g.series"
	sed 's/^ \tp->thread.io_bitmap = NULL;$/ \tp->thread.io_bitmap = (void *)0;/' \
		"$top/series/xen-pv-lazy-mmu.mbox" > "$g.series/0001-bad.patch"
	t0=$(date +%s)
	"$top/scripts/gate" --out "$g" "$g.series" > "$g.log" 2>&1
	rc=$?
	refused_early() { [ "$rc" -eq 1 ] && grep -q "patch 0001.patch does not apply" "$g.log" && ! grep -q "stage base" "$g.log"; }
	ktap_check "a patch that does not apply: exit 1 with the patch named, nothing built ($(($(date +%s) - t0)) s)" \
		refused_early
}

for p in "${parts[@]}"; do "part_${p//-/_}"; done
ktap_finish
