#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A corrupt or partial cache is detected and repaired on the next run.
# Works on the real cache (what a user's next run would meet), for the
# amd64 kernel: it downloads the kernel image package once more (14 MB).
#   1. an empty extracted image (a run killed while copying it): the next
#      fetch re-extracts it, without downloading;
#   2. a run interrupted after a corrupt image package landed and before
#      the kernel was extracted: the package is detected,
#      downloaded again, and the kernel boots.  (dpkg-deb --info alone
#      passed a truncated package: the check is against the index's SHA256.)
#
#   test_cache_repair.sh [OUTDIR]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
out=${1:-$top/out/cache-repair}
mkdir -p "$out"
. "$top/scripts/tests/ktap_helpers.sh"

env=$("$top/scripts/fetch-kernel" --arch amd64 2> /dev/null) || die "cannot fetch the amd64 kernel"
KREL=$(kv KREL <<< "$env") KIMAGE=$(kv KIMAGE <<< "$env") KDIR=$(kv KDIR <<< "$env")
ROOT=$("$top/scripts/buildroot") || exit 1
deb=$(ls "$LMM_CACHE"/debs/linux-binary-unsigned-"$KREL"_*.deb "$LMM_CACHE"/debs/linux-image-"$KREL"-unsigned_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "no cached image package for $KREL"

ktap_plan 5

# The real cache is broken only under the kernel's exclusive lock: no
# run is using it meanwhile (runs hold it shared: lmm.pipeline
# kernel_store_lock), and one that fetched it before checks it again
# once it holds the lock.
store_lock="${KIMAGE%/*}.lock"
flock "$store_lock" truncate -s 0 "$KIMAGE" || die "cannot empty $KIMAGE"
t0=$EPOCHREALTIME
"$top/scripts/fetch-kernel" --arch amd64 > /dev/null 2> "$out/1.log"
rc=$?
repaired_in_place() { [ "$rc" -eq 0 ] && [ -s "$KIMAGE" ] && ! grep -q "^# downloading" "$out/1.log"; }
ktap_check "empty kernel image: fetch-kernel repairs it without downloading ($(secs_since "$t0") s)" \
	repaired_in_place

# shellcheck disable=SC2016
flock "$store_lock" sh -c 'truncate -s 1M "$1" && shift && rm -f "$@"' break \
	"$deb" "$KIMAGE" "$LMM_CACHE"/kernels/.resolved-amd64-* "$ROOT$KDIR/.lmm-complete" ||
	die "cannot break the cached kernel"
t0=$EPOCHREALTIME
"$top/scripts/fetch-kernel" --arch amd64 > /dev/null 2> "$out/2.log"
rc=$?
whole_again() {
	dpkg-deb --info "$(ls "$LMM_CACHE"/debs/"$(basename "${deb%%_*}")"_*.deb | head -n1)" > /dev/null &&
		[ -s "$KIMAGE" ]
}
ktap_check "corrupt image package: fetch-kernel succeeds ($(secs_since "$t0") s)" [ "$rc" -eq 0 ]
ktap_check "the corrupt package was detected and downloaded again" \
	grep -q "^# downloading linux-" "$out/2.log"
ktap_check "the package is whole again and the kernel extracted" whole_again
"$top/scripts/run" --quiet --out "$out/run" --cases initial_state amd64 > "$out/run.log" 2>&1
rc=$?
ktap_check "the repaired kernel boots and the suite passes (exit $rc)" [ "$rc" -eq 0 ]
ktap_finish
