#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Two runs at once (issue 20, item 4): two `make run`s of the amd64 lane
# and one gate start together on a cold cache (a new LMM_CACHE: no build
# root, no kernel, no apt indexes, no linux-source), so every cache
# writer meets another: the private apt setup and its indexes, the build
# root's creation, the kernel and busybox downloads, lmm-insmod, the
# module and initramfs caches, linux-source and the graft.  The gate's
# series does not apply (series/xen-pv-lazy-mmu.mbox with one context
# line changed), so it builds no kernel.  Then:
#   - both runs pass and the gate reports that the series does not apply
#     (each verdict is its own: separate output directories);
#   - nothing in the cache is corrupt or half-written: every cached .deb
#     is whole, no temporary file is left;
#   - a third run on the same cache passes without downloading anything.
# Expensive: a cold build root and downloads, about 1.5 minutes on 2
# cores.  The cache is removed at the end (KEEP=1 keeps it).
#
#   test_concurrent_runs.sh OUT

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tests/ktap_helpers.sh"
[ $# -eq 1 ] || { echo "usage: ${0##*/} OUT" >&2; exit 2; }
out=$1
rm -rf "$out" && mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
export LMM_CACHE=$out/cache
mkdir -p "$LMM_CACHE" && chmod 755 "$LMM_CACHE" || exit 1
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$LMM_CACHE"; }
trap cleanup EXIT

mkdir -p "$out/bad.series" || exit 1
sed 's/^ \tp->thread.io_bitmap = NULL;$/ \tp->thread.io_bitmap = (void *)0;/' \
	"$top/series/xen-pv-lazy-mmu.mbox" > "$out/bad.series/0001-bad.patch" || exit 1

t0=$(date +%s)
"$top/scripts/run" --quiet --out "$out/run-a" amd64 > "$out/run-a.ktap" 2> "$out/run-a.log" &
pa=$!
"$top/scripts/run" --quiet --out "$out/run-b" amd64 > "$out/run-b.ktap" 2> "$out/run-b.log" &
pb=$!
"$top/scripts/gate" --out "$out/gate" "$out/bad.series" > "$out/gate.ktap" 2> "$out/gate.log" &
pg=$!
wait $pa; rca=$?
wait $pb; rcb=$?
wait $pg; rcg=$?
echo "# all three at once: $(($(date +%s) - t0)) s; exits $rca, $rcb, $rcg"

# verdict_is WANT FILE: FILE's verdict field is WANT.
verdict_is() {
	python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[2]))["verdict"] != sys.argv[1])' "$@"
}
debs_whole() {
	local d n=0
	for d in "$LMM_CACHE"/debs/*.deb; do
		[ -e "$d" ] || continue
		dpkg-deb --info "$d" > /dev/null 2>&1 || { echo "# broken: $d"; return 1; }
		n=$((n + 1))
	done
	echo "# $n cached packages whole"
	[ $n -gt 0 ]
}
no_temporaries() {
	local left
	left=$(find "$LMM_CACHE" -maxdepth 3 \( -name '*.tmp' -o -name '*.tmp.*' -o -name '.img.*' \
		-o -name '.busybox*.??????' -o -name '.lmm-insmod.*' -o -name '.new.*' \) -print | head -n 5)
	[ -z "$left" ] || { echo "# left: $left"; return 1; }
}

ktap_plan 6
rc=$rca
ktap_check "first run passes (exit $rca)" ktap_rc_and 0 verdict_is pass "$out/run-a/results.json"
rc=$rcb
ktap_check "second run passes (exit $rcb)" ktap_rc_and 0 verdict_is pass "$out/run-b/results.json"
rc=$rcg
ktap_check "the gate at the same time: the series does not apply (exit $rcg)" \
	ktap_rc_and 1 grep -q "does not apply" "$out/gate.log"
ktap_check "every cached package is whole" debs_whole
ktap_check "no temporary file left in the cache" no_temporaries
"$top/scripts/run" --quiet --out "$out/run-c" amd64 > "$out/run-c.ktap" 2> "$out/run-c.log"
rc=$?
rerun_clean() { [ $rc = 0 ] && ! grep -q "^# downloading" "$out/run-c.log"; }
ktap_check "a third run on that cache passes without downloading (exit $rc)" rerun_clean
ktap_finish
