#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A mirror that lists what it cannot serve (issue: make check was red
# when trixie-backports' index named a ppc64el headers package its pool
# answered 404 for).  fake_mirror.py serves, on loopback, an index with
# three uploads of a kernel, newest first: 7.9.3 (image package
# truncated: size and hash differ), 7.9.2 (headers package 404), 7.9.1
# (whole).  fetch-kernel --download-only runs against it in a private
# cache and a private lane table:
#   - newest skips 7.9.3 and 7.9.2, one line each naming the package and
#     the reason, and takes 7.9.1;
#   - a pin of 7.9.2 fails with the package and the 404, and nothing else
#     is tried in its place;
#   - a pin of 7.9.1 is fetched; a pin the index does not list fails;
#   - a request whose only candidate is broken fails with a clear error;
#   - a second suite whose Release file expired (as a snapshot mirror
#     serves sid's) is accepted for that suite alone, with a line saying
#     so; every other suite keeps apt's validity check.
#
#   test_mirror_fallback.sh [OUTDIR]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/mirror-fallback}
rm -rf "$out" && mkdir -p "$out" || exit 1
. "$top/scripts/tests/ktap_helpers.sh"

python3 "$top/scripts/tests/fake_mirror.py" build "$out/repo" || exit 1
python3 "$top/scripts/tests/fake_mirror.py" serve "$out/repo" "$out/port" 2> "$out/http.log" &
server=$!
trap 'kill "$server" 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { echo "# the fake mirror did not start"; exit 1; }

# lanes ABI VERSION: a lane table pinning kernel-amd64 to ABI/VERSION.
lanes() {
	cat <<EOJ
{"arches": {"amd64": {"flavour": "amd64", "unsigned": true, "image": "vmlinuz",
   "cross": "x86_64-linux-gnu-", "gcc": "gcc-14", "packages": [], "busybox": "busybox-amd64",
   "qemu": "qemu-system-x86_64", "machine": "pc", "cpu": "max", "console": "ttyS0",
   "mem": 1024, "lazy_mmu": "test"}},
 "pins": {"kernel-amd64": {"arch": "amd64", "abi": "$1", "version": "$2", "suite": "lmmtest"},
   "busybox-amd64": {"package": "busybox-static", "arch": "amd64", "version": "1:1.0-1", "suite": "lmmtest"}},
 "lanes": [{"name": "amd64", "kind": "debian", "arch": "amd64", "kernel": "kernel-amd64"}]}
EOJ
}

# fetch NAME ABI VERSION KERNEL: fetch-kernel --kernel KERNEL with
# kernel-amd64 pinned to ABI/VERSION; output in $out/NAME.{out,err}, rc in $rc.
fetch() {
	lanes "$2" "$3" > "$out/$1.json"
	LMM_CACHE=$out/cache LMM_TEST_MIRROR="http://127.0.0.1:$(cat "$out/port")" \
	LMM_SUITES="lmmtest lmmold" LMM_APT_ARCHES=amd64 LMM_LANES=$out/$1.json \
		"$top/scripts/fetch-kernel" --arch amd64 --kernel "$4" --download-only \
		> "$out/$1.out" 2> "$out/$1.err"
	rc=$?
	sed "s/^/# $1: /" "$out/$1.err"
}

ktap_plan 11

fetch newest 7.9.1+deb13 7.9.1-1 newest
ktap_check "an expired Release file (suite lmmold) is accepted for that suite alone, and said so" \
	grep -q "^# apt: the mirror's lmmold Release file is expired (invalid since .*): accepted for lmmold only" \
	"$out/newest.err"
# The sources: lmmtest checked for its validity date, lmmold not.
valid_until_scope() {
	local src=$out/cache/apt/etc/sources.d/debian.sources
	[ "$(grep -c '^Check-Valid-Until: no$' "$src")" = 1 ] &&
		awk '/^Suites:/ { s = $2 } /^Check-Valid-Until: no/ { print s }' "$src" | grep -qx lmmold &&
		! grep -rq 'Check-Valid-Until' "$out/cache/apt/etc/apt.conf"
}
ktap_check "Check-Valid-Until is off for the expired suite only, never globally" valid_until_scope
ktap_check "newest falls back past the broken uploads to 7.9.1 (exit $rc)" \
	ktap_rc_and 0 grep -qx "KVER=7.9.1-1" "$out/newest.out"
ktap_check "newest says why 7.9.3 was skipped: the image package, truncated" \
	grep -q "^# skipping linux 7.9.3+deb13 (Debian 7.9.3-1): linux-binary-unsigned-7.9.3+deb13-amd64:amd64 7.9.3-1: .*\(size\|Hash\|hash\)" "$out/newest.err"
ktap_check "newest says why 7.9.2 was skipped: the headers package, 404" \
	grep -q "^# skipping linux 7.9.2+deb13 (Debian 7.9.2-1): linux-headers-7.9.2+deb13-amd64:amd64 7.9.2-1: .*404" "$out/newest.err"
ktap_check "the reasons do not name the mirror's address" \
	ktap_not grep -q "127.0.0.1" "$out/newest.err"

fetch pin-broken 7.9.2+deb13 7.9.2-1 pin
never_replaced() { ! grep -q "^KVER=" "$out/pin-broken.out" && ! grep -q "7.9.1" "$out/pin-broken.err"; }
ktap_check "a pin the mirror cannot serve fails, naming the package and the 404 (exit $rc)" \
	ktap_rc_and 1 grep -q "error: pin kernel-amd64 (linux 7.9.2+deb13, Debian 7.9.2-1) cannot be fetched: linux-headers-7.9.2+deb13-amd64:amd64 7.9.2-1: .*404" "$out/pin-broken.err"
ktap_check "a failed pin is never replaced by another version" never_replaced

fetch pin-whole 7.9.1+deb13 7.9.1-1 pin
pin_fetched() {
	[ "$rc" -eq 0 ] && grep -qx "KVER=7.9.1-1" "$out/pin-whole.out" &&
		[ -s "$(sed -n "s/^DEB_IMAGE=//p" "$out/pin-whole.out")" ]
}
ktap_check "a pin the mirror serves is fetched (exit $rc)" pin_fetched

fetch pin-unlisted 7.9.0+deb13 7.9.0-1 pin
ktap_check "a pin the index does not list fails with that reason (exit $rc)" \
	ktap_rc_and 1 grep -q "no image package of that version in the mirror.s index" "$out/pin-unlisted.err"

fetch none-left 7.9.1+deb13 7.9.1-1 7.9.3+deb13
ktap_check "no fetchable candidate left: a clear error (exit $rc)" \
	ktap_rc_and 1 grep -q "error: no Debian kernel matching .7.9.3+deb13. for amd64 can be fetched: all 1 candidates failed" "$out/none-left.err"
ktap_finish
