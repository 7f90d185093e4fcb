#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The gate on a hostile series: a patch whose top-level Makefile runs a
# script at parse time, as soon as the series' kunit.py build starts
# make, which tries to
#   (a) write outside its tree (the build root, the checkout, the base
#       tree through a file hard-linked into its own, beside its tree),
#       and into its own tree (read-only while it builds);
#   (b) read host files (/etc/shadow, a root-only file of the cache's);
#   (c) plant files in the cache (its top, ccache, beside the kunit.py
#       builds and base sources, among the gate's series, the build
#       root's tools);
#   (d) reach the network, run with root's privileges, open a disk,
#       see the host's processes, push keystrokes into a terminal, make
#       a user namespace;
# and then stops the build ($(error)), so no kernel is built.  Each
# attempt must fail inside the sandbox (the script reports each), none
# may leave a trace on the host, and nothing of the cache but the
# series' own build directory may change (listings and checksums before
# and after).  Only its own build directory is writable: the script
# writes a file there, which must appear in the gate's copy and nowhere
# else.
#
#   test_hostile_series.sh [OUTDIR]
#
# Fast when the base lanes are cached (make check runs it after the xen
# fix gate, which runs the same x86_64 lanes on the same base); else the
# gate runs them first, and the checks of what the base lanes write (the
# ccache, the base build) SKIP.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/hostile-series-test}
. "$top/scripts/lib.sh"
. "$top/scripts/tests/ktap_helpers.sh"
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
chmod 755 "$out"

ksrc=$("$top/scripts/fetch-source" | kv KSRC) && [ -d "$ksrc" ] || { echo "# no base tree" >&2; exit 1; }
root=$("$top/scripts/buildroot") || exit 1

# --- The series: made from the base tree's own Makefile, so that it
# applies to whichever linux-source the lane table pins ---
s=$out/series
rm -rf "$s" "$out/a" "$out/b" && mkdir -p "$s" "$out/a" "$out/b" || exit 1
cp "$ksrc/Makefile" "$out/a/Makefile" || exit 1
# shellcheck disable=SC2016
{
	echo '# lazy-mmu-tests: a hostile series (scripts/tests/test_hostile_series.sh)'
	echo 'LMM_HOSTILE := $(shell sh "$(CURDIR)/lmm-hostile.sh" "$(abspath $(O))" "$(CURDIR)" >&2)'
	echo '$(error lmm-hostile: the build stops here)'
	cat "$out/a/Makefile"
} > "$out/b/Makefile"
cat > "$out/b/lmm-hostile.sh" <<'EOF'
#!/bin/sh
# A hostile series' build step: every attempt below must fail.
#   lmm-hostile.sh BUILD_DIR TREE
o=$1 tree=$2
cache=${o%/kunit-build/*}
# try ID WHAT CMD...: CMD succeeding is an escape.
try() {
	id=$1 what=$2
	shift 2
	if err=$("$@" 2>&1); then
		echo "LMM-HOSTILE $id ESCAPED: $what"
	else
		echo "LMM-HOSTILE $id blocked: $what: $(echo "$err" | tail -n 1)"
	fi
}
w() { echo hostile > "$1"; }
try a1 "write /etc of the build root" w /etc/lmm-hostile-a1
try a2 "write into the checkout" w "$tree/lazy_mmu_nesting/lmm-hostile-a2"
try a3 "append to a base file hard-linked into its tree" sh -c 'echo hostile >> "$1"' sh "$tree/README"
try a4 "write beside its tree" w "$tree/../lmm-hostile-a4"
try a5 "write its own tree while it builds" w "$tree/lmm-hostile-a5"
try a6 "write /root" w /root/lmm-hostile-a6
try b1 "read /etc/shadow" cat /etc/shadow
try b2 "read a root-only file of the cache" cat "$cache/.lmm-hostile-secret"
try c1 "plant a file in the cache" w "$cache/lmm-hostile-c1"
try c2 "plant a file in ccache" w "$cache/ccache/lmm-hostile-c2"
try c3 "plant a file beside the kunit.py builds" w "$cache/kunit-build/lmm-hostile-c3"
try c4 "plant a file beside the base sources" w "$cache/src/lmm-hostile-c4"
try c5 "plant a file among the gate's series and results" w "$cache/gate/lmm-hostile-c5"
try c6 "plant a tool in the build root" w /usr/local/bin/lmm-hostile-c6
try d1 "reach the network" python3 -c 'import socket; socket.create_connection(("192.0.2.1", 80), 3)'
try d2 "run as root or with a capability" sh -c \
	'[ "$(id -u)" = 0 ] || grep -Eq "^Cap(Eff|Prm):[[:space:]]*0*[1-9a-f]" /proc/self/status'
try d3 "open a disk or kernel memory" sh -c 'ls /dev | grep -E "^(vd|sd|nvme|mem$|kmem$|kmsg$)"'
# The gate runs on the host while this does ([g]: not this command's own line).
try d4 "see the host's processes" sh -c 'grep -l "scripts/[g]ate" /proc/[0-9]*/cmdline'
try d5 "open a terminal or push keystrokes into one" python3 -c '
import fcntl, os, termios
fds = [os.open("/dev/tty", os.O_RDWR)] if os.path.exists("/dev/tty") else []
for fd in fds + [0, 1, 2]:
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b" ")
        raise SystemExit(0)
    except OSError as e:
        err = e
raise SystemExit("no TIOCSTI: %s" % err)'
try d6 "make a user namespace" unshare -r true
if err=$(echo hostile 2>&1 > "$o/lmm-hostile-own"); then
	echo "LMM-HOSTILE own written: its own build directory"
else
	echo "LMM-HOSTILE own FAILED: its own build directory: $err"
fi
EOF
diff -u --label a/Makefile --label b/Makefile "$out/a/Makefile" "$out/b/Makefile" > "$s/0001-hostile.patch"
diff -u --label /dev/null --label b/lmm-hostile.sh /dev/null "$out/b/lmm-hostile.sh" >> "$s/0001-hostile.patch"
rm -rf "$out/a" "$out/b"

# --- The host before: a root-only secret to steal, listings to compare ---
secret=$LMM_CACHE/.lmm-hostile-secret
token=lmm-secret-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
( umask 077 && echo "$token" > "$secret" ) || exit 1
trap 'rm -f "$secret"' EXIT
# listing DIR [PRUNE...]: every file's path, type, size, mode, owner and
# mtime (a write shows), hashed; PRUNE: find predicates of what to leave
# out.
listing() {
	local d=$1
	shift
	[ $# -gt 0 ] || set -- -false
	(cd "$d" && find . \( "$@" \) -prune -o -printf '%p %y %s %m %u %T@\n' 2>/dev/null |
		LC_ALL=C sort | sha256sum | cut -c1-64)
}
# The build root's system directories, but for the QEMU wrappers kunit.py
# rewrites on every run and the bind mountpoints of the cache, the
# checkout and the output, should they be there.
sysdirs=()
for d in usr etc bin sbin lib lib64 var root; do [ -e "$root/$d" ] && sysdirs+=("./$d"); done
snapshot() {
	echo "base tree: $(listing "$ksrc") $(cat "$ksrc/README" "$ksrc/Makefile" | sha256sum | cut -c1-64)"
	echo "build root: $(cd "$root" && find "${sysdirs[@]}" \( -path ./usr/local/lmm-qemu -o \
		-path "./${LMM_CACHE#/}" -o -path "./${top#/}" -o -path "./${out#/}" \) -prune -o \
		-printf '%p %y %s %m %u %T@\n' 2>/dev/null | LC_ALL=C sort | sha256sum | cut -c1-64)"
	echo "checkout: $(cd "$top" && git status --porcelain | sha256sum | cut -c1-64) $(listing "$top" \
		-path ./.git -o -path ./out -o -name __pycache__)"
}
snapshot_base() {
	echo "ccache: $(listing "$LMM_CACHE/ccache")"
	echo "base build: $(listing "$LMM_CACHE/kunit-build/x86_64")"
}
snapshot > "$out/before.txt"
snapshot_base > "$out/before-base.txt"

# --- The gate, its real path: apply, base lanes, seed, series lanes ---
g=$out/gate
t0=$(date +%s)
"$top/scripts/gate" --arch x86_64 --out "$g" "$s" > "$g.log" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
grep -E '^ *# (gate|stage|lanes)' "$g.log" | grep -v '^ *# stage .* \.\.\.$'
klog=$g/series/kunit-x86_64/kunit.log
grep -h 'LMM-HOSTILE' "$klog" 2>/dev/null | sed 's/^.*LMM-HOSTILE/# LMM-HOSTILE/'

snapshot > "$out/after.txt"
snapshot_base > "$out/after-base.txt"

# The view itself, as the series' module build gets it: its writable
# directory under the checkout, which is bound twice (as the checkout and
# as the build's source tree).  A later bind of the checkout once covered
# the writable one, and the remount failed.
view=$out/view-rw
rm -rf "$view" && mkdir -p "$view" && sandbox_own "$view" || exit 1
# shellcheck disable=SC2016
LMM_SANDBOX=1 LMM_BIND="$view:$top:$out" LMM_RW=$view "$top/scripts/buildroot" -- /bin/sh -c '
	echo ok > "$1/written" || exit 1
	if (echo x > "$2/lmm-view-probe") 2>/dev/null; then exit 1; fi
	findmnt -rn -o OPTIONS --target "$2" | grep -q "^ro," || exit 1' view "$view" "$out" > "$out/view.log" 2>&1
view_rc=$?

ktap_plan 10

sees() {
	[ "$view_rc" -eq 0 ] && [ "$(cat "$view/written" 2>/dev/null)" = ok ] && [ ! -e "$out/lmm-view-probe" ] ||
		{ sed 's/^/# /' "$out/view.log"; return 1; }
}
ktap_check "the sandbox writes its own directory under the checkout bound twice, and not beside it" sees

stopped() {
	[ "$rc" -eq 1 ] && grep -q '^ *# stage series: kunit lanes' "$g.log" &&
		grep -q 'lmm-hostile: the build stops here' "$klog"
}
ktap_check "the gate ran the series' lanes, the hostile Makefile stopped its build (exit $rc, $secs s)" stopped

# blocked PREFIX N: the N attempts PREFIX1..PREFIXN each reported blocked.
blocked() {
	local i n=0
	for ((i = 1; i <= $2; i++)); do
		grep -q "LMM-HOSTILE $1$i blocked: " "$klog" && n=$((n + 1))
	done
	[ "$n" -eq "$2" ] && ! grep -q 'LMM-HOSTILE .* ESCAPED' "$klog"
}
ktap_check "(a) writes outside its tree (and into it) all failed" blocked a 6
ktap_check "(b) reads of host files all failed" blocked b 2
ktap_check "(c) files planted in the cache all failed" blocked c 6
ktap_check "(d) network, root's privileges, disks, host processes, terminals, user namespaces: none reached" blocked d 6

own() {
	grep -q 'LMM-HOSTILE own written' "$klog" &&
		[ "$(find "$LMM_CACHE/gate" -path '*/build-x86_64/lmm-hostile-own' | wc -l)" -ge 1 ]
}
ktap_check "its own build directory was writable, and is the gate's copy" own

traces() {
	local t
	t=$({
		find "$LMM_CACHE" "$top" -name 'lmm-hostile-*' ! -path "$LMM_CACHE/gate/*/build-x86_64/lmm-hostile-own" 2>/dev/null
		ls -d /tmp/lmm-hostile-* /etc/lmm-hostile-* /root/lmm-hostile-* 2>/dev/null
		grep -rl "$token" "$g" 2>/dev/null
	})
	[ -z "$t" ] || { echo "# traces on the host:"; printf '#   %s\n' "$t"; return 1; }
}
ktap_check "no trace on the host: no file planted, the secret in no output" traces

same() {
	diff "$1" "$2" > /dev/null && return 0
	diff "$1" "$2" | sed 's/^/# /'
	return 1
}
ktap_check "base tree, build root and checkout unchanged" same "$out/before.txt" "$out/after.txt"
if grep -q '^# base results cached' "$g.log"; then
	ktap_check "ccache and the base build unchanged" same "$out/before-base.txt" "$out/after-base.txt"
else
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n ccache and the base build unchanged # SKIP the base lanes ran in this gate (they write both)"
fi
ktap_finish
