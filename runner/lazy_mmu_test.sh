#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Run the lazy MMU nesting test module on the machine this runs on, the
# kselftest way: load lazy_mmu_test for the running kernel with the
# module parameters given, print the KTAP it reports, unload it, exit
# with the kselftest codes.  POSIX sh: runs under dash, bash and
# busybox ash.
#
# The module runs its cases at load time and prints KTAP to the kernel
# log.  Loaded, it keeps that KTAP in debugfs (.../lazy_mmu_test/results),
# which is what is printed; when a case fails, insmod fails (EINVAL) and
# the module is not loaded, so the results are read from the kernel log
# after a marker written to /dev/kmsg.
#
# Exit status (KSFT): 0 every case passed or skipped and one passed;
# 1 a case failed, the module could not run, or a usage error (never 2,
# which kselftest reads as XFAIL); 4 every case skipped, or a
# prerequisite is missing (not root, no debugfs, no module).

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

prog=${0##*/}
name=lazy_mmu_test
debugfs=/sys/kernel/debug

usage() {
	cat <<EOF
usage: $prog [--module FILE] [--list] [-h|--help] [PARAM=VALUE...]
Load the lazy MMU nesting test module ($name) for the running kernel,
print its KTAP results, unload it.

  PARAM=VALUE    module parameters (modinfo $name): cases=a,b:N, seed=,
                 walk_steps=, threads=, duration_ms=, misuse=1
  --module FILE  the module to load (default: the one installed for
                 \`uname -r\`: modinfo -n $name, else the first
                 $name.ko* under /lib/modules/<release>/ updates/dkms,
                 updates, extra)
  --list         print the module's cases (and case:N with the
                 description of each parameter, as cases= takes them);
                 runs nothing
  -h, --help     this text

Needs root and debugfs (mounted when it is not).  Refuses to run when
the module is already loaded.  Exit status (kselftest): 0 passed, 1 a
case failed, the module could not run, or a usage error, 4 every case
skipped or a prerequisite missing.
Environment: LAZY_MMU_TEST_INSMOD, the program that loads the module
(default insmod).
EOF
}

usage_error() {
	echo "$prog: $1" >&2
	usage >&2
	exit $KSFT_FAIL
}

msg() { echo "$prog: $*" >&2; }

# skip REASON: a KTAP document that skips, exit 4.
skip() {
	msg "SKIP: $1"
	echo "KTAP version 1"
	echo "1..0 # SKIP $1"
	exit $KSFT_SKIP
}

# bail REASON [DIAGNOSTICS]: the run broke before any result, exit 1.
bail() {
	msg "error: $1"
	echo "KTAP version 1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
	echo "Bail out! $1"
	exit $KSFT_FAIL
}

module='' list=0 params=''
while [ $# -gt 0 ]; do
	case $1 in
	--module) [ $# -ge 2 ] || usage_error "--module needs a value"; module=$2; shift ;;
	--module=*) module=${1#--module=} ;;
	--list) list=1 ;;
	-h|--help) usage; exit $KSFT_PASS ;;
	--) shift; break ;;
	-*) usage_error "unknown option: $1" ;;
	*=*)
		# One word per parameter: kernel parameter values with blanks
		# are not supported here.
		case $1 in
		*[[:space:]]*) usage_error "blanks in a module parameter: '$1'" ;;
		[A-Za-z_]*) params="$params $1" ;;
		*) usage_error "not a module parameter: '$1'" ;;
		esac ;;
	*) usage_error "not a module parameter (PARAM=VALUE): '$1'" ;;
	esac
	shift
done
[ $# -eq 0 ] || usage_error "unexpected argument: '$1'"
[ -z "$module" ] || [ -f "$module" ] || usage_error "no such module file: $module"

[ "$(id -u)" = 0 ] || skip "must run as root (loads a kernel module)"

if ! grep -qs "^[^ ]* $debugfs debugfs " /proc/mounts; then
	mount -t debugfs debugfs "$debugfs" 2>/dev/null ||
		skip "debugfs is not mounted on $debugfs and cannot be mounted"
fi

# find_module: the module installed for the running kernel.
find_module() {
	rel=$(uname -r)
	f=$(modinfo -n "$name" 2>/dev/null)
	if [ -n "$f" ] && [ -f "$f" ]; then
		echo "$f"
		return 0
	fi
	for d in updates/dkms updates extra; do
		[ -d "/lib/modules/$rel/$d" ] || continue
		f=$(find "/lib/modules/$rel/$d" -name "$name.ko*" 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

if [ -z "$module" ]; then
	module=$(find_module) ||
		skip "no $name module for $(uname -r) (install it: dkms or make dkms-install; or --module FILE)"
fi
# The module's own name (a renamed build names its debugfs directory so).
mod=${module##*/}
mod=${mod%%.ko*}
[ ! -d "/sys/module/$mod" ] ||
	bail "$mod is already loaded: unload it first (rmmod $mod)"
insmod=${LAZY_MMU_TEST_INSMOD:-insmod}

unload() {
	[ -d "/sys/module/$mod" ] || return 0
	rmmod "$mod" || bail "cannot unload $mod"
}

# Parameters are single words (checked above): split them, never glob.
set -f
if [ $list = 1 ]; then
	# run=0: the cases are listed without running any.
	# shellcheck disable=SC2086
	out=$("$insmod" "$module" run=0 2>&1) || bail "cannot load $module" "$out"
	cases=$(cat "$debugfs/$mod/cases" 2>/dev/null)
	unload
	[ -n "$cases" ] || bail "$module lists no cases ($debugfs/$mod/cases)"
	printf '%s\n' "$cases"
	exit $KSFT_PASS
fi

msg "module $module,${params:- no} parameters"
marker="$prog: run $$ $(cat /proc/sys/kernel/random/uuid 2>/dev/null || date +%s)"
echo "$marker" > /dev/kmsg || bail "cannot write to /dev/kmsg"
# shellcheck disable=SC2086
out=$("$insmod" "$module" $params 2>&1)
rc=$?
# The kernel log after the marker, without timestamps and levels.
after=$(dmesg | awk -v m="$marker" '
	{
		sub(/^<[0-9]+>/, "")
		sub(/^\[ *[0-9]+\.[0-9]+\] ?/, "")
		sub(/^\[ *[TC][0-9]+\] ?/, "")
	}
	on { print }
	$0 == m { on = 1 }')
# The module's KTAP: the copy it keeps in debugfs when it loaded (every
# case passed or skipped: its exact document, whatever else the kernel
# logged meanwhile and however far the log wrapped); else, refused
# because a case failed, its document in the kernel log, from its
# version line to its totals.
ktap=
if [ $rc -eq 0 ] && [ -r "$debugfs/$mod/results" ]; then
	ktap=$(cat "$debugfs/$mod/results")
fi
if [ -z "$ktap" ]; then
	ktap=$(printf '%s\n' "$after" | awk '
		!doc && $0 == "KTAP version 1" { doc = 1 }
		doc == 1 { print; if ($0 ~ /^# Totals: /) doc = 2 }')
fi
unload
if [ -z "$ktap" ]; then
	# Refused before any case ran (a bad parameter): say why.
	bail "$mod reported no results (insmod exit $rc)" "$(printf '%s\n%s\n' "$out" "$after" | grep -v '^$')"
fi
printf '%s\n' "$ktap"
totals=$(printf '%s\n' "$ktap" | sed -n 's/^# Totals: //p' | tail -n 1)
[ -n "$totals" ] || { msg "error: the KTAP output has no totals (cut short?)"; exit $KSFT_FAIL; }
count() { printf ' %s\n' "$totals" | sed -n "s/.* $1:\\([0-9]*\\).*/\\1/p"; }
pass=$(count pass) fail=$(count fail) skipped=$(count skip)
msg "pass:${pass:-?} fail:${fail:-?} skip:${skipped:-?}, insmod exit $rc"
if [ "${fail:-1}" != 0 ] || [ -z "$pass" ]; then
	exit $KSFT_FAIL
fi
if [ $rc -ne 0 ]; then
	msg "error: insmod failed (exit $rc) although no case failed: $out"
	exit $KSFT_FAIL
fi
[ "$pass" != 0 ] || exit $KSFT_SKIP
exit $KSFT_PASS
