#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Values that would become shell syntax, split a list or hand root a
# cache someone else controls are data or a clear refusal (issue 20,
# items 6 and 10), before any work:
#   - make's command-line values reach the scripts as one word each,
#     whatever they hold (make -n, its commands split as sh would);
#     a checkout path with a space stays one M= word;
#   - a ':' in the cache's path or in --out is refused with a message
#     naming it (':' separates the directories bound into the build root);
#   - root refuses a cache that another user owns or can write;
#   - LMM_ENV values (one NAME=VALUE a line) reach the build root whole;
#   - a sandboxed command inherits no open file of its caller's;
#   - no shell file under scripts/ runs eval or sources anything but
#     lib.sh and ktap_helpers.sh (memo files, outputs: read as data).
# A few seconds; nothing is built or booted (the refusals are asked of
# `fetch-xen --help`, which without them only prints its usage).

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/tests/ktap_helpers.sh"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# words WANT... < COMMAND-LINE: the line splits, as sh splits it, into WANT.
words() {
	python3 -c 'import shlex, sys; got = shlex.split(sys.stdin.read()); want = sys.argv[1:]
if got != want:
    print("# got %r" % got); sys.exit(1)' "$@"
}
# refused WHAT CMD...: CMD fails, its error names WHAT, and it made nothing.
refused() {
	local what=$1 err rc
	shift
	err=$("$@" 2>&1 > /dev/null)
	rc=$?
	[ $rc -ne 0 ] && grep -qF -- "$what" <<< "$err" && return 0
	echo "# exit $rc: $(head -n 2 <<< "$err")"
	return 1
}

ktap_plan 12
ktap_check "make_run_kernel_is_one_word" words scripts/run --kernel 'x;touch PWNED' amd64 'arm64;id' \
	< <(make -s -n -C "$top" run KERNEL='x;touch PWNED' LANE='amd64 arm64;id' 2>&1)
ktap_check "make_gate_series_is_one_word" words scripts/gate --kernel pin "a'b;c\`id\`" \
	< <(make -s -n -C "$top" gate SERIES="a'b;c\`id\`" 2>&1)
ktap_check "make_check_jobs_is_one_word" words scripts/check --jobs '1;id' \
	< <(make -s -n -C "$top" check CHECK_JOBS='1;id' 2>&1)
mkdir "$tmp/a b" && cp "$top/Makefile" "$tmp/a b/" || exit 1
ktap_check "make_modules_path_with_space" words make -C '/k dir' "M=$tmp/a b" W=1 modules \
	< <(make -s -n -C "$tmp/a b" modules KDIR='/k dir' W=1 MAKE=make 2>&1 | head -n1)

ktap_check "cache_with_colon_refused" refused "no ':' allowed" \
	env LMM_CACHE="$tmp/a:b" "$top/scripts/fetch-xen" --help
ktap_check "run_out_with_colon_refused" refused "--out: no ':' allowed" \
	"$top/scripts/run" --out "$tmp/o:ut" amd64
ktap_check "run_out_with_colon_made_nothing" [ ! -e "$tmp/o:ut" ]

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$tmp/home/.cache" && chown -R 65534 "$tmp/home" || exit 1
	ktap_check "cache_owned_by_another_user_refused" refused "belongs to uid 65534, not root" \
		env LMM_CACHE="$tmp/home/.cache/lazy-mmu-tests" "$top/scripts/fetch-xen" --help
	mkdir -p "$tmp/shared/c" && chmod 777 "$tmp/shared" || exit 1
	ktap_check "cache_writable_by_others_refused" refused "writable by its group or others" \
		env XDG_CACHE_HOME="$tmp/shared/c" LMM_CACHE= "$top/scripts/fetch-xen" --help
else
	echo "ok 8 cache_owned_by_another_user_refused # SKIP needs root"
	echo "ok 9 cache_writable_by_others_refused # SKIP needs root"
	ktap_n=$((ktap_n + 2))
fi
# no_eval: no eval, and no '.'/source of a file but the two helpers,
# in any shell file under scripts/ (comment lines apart).
no_eval() {
	python3 - "$top/scripts" <<'EOP'
import os, re, sys
bad = []
for d, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(d, name)
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines or not (re.match(r"#!.*\b(ba)?sh\b", lines[0]) or
                             any("shellcheck shell=" in l for l in lines[:5])):
            continue
        for n, line in enumerate(lines, 1):
            code = line.strip()
            if code.startswith("#"):
                continue
            m = re.match(r"(?:.*[;&|(]\s*)?(eval|source|\.)\s+(.+)$", code)
            if m and (m.group(1) != "." or not re.search(r"/(lib|ktap_helpers)\.sh\"?(\s*\|\|.*)?$", m.group(2))):
                bad.append("%s:%d: %s" % (os.path.relpath(path, sys.argv[1]), n, code))
for b in bad[:5]:
    print("# " + b)
sys.exit(1 if bad else 0)
EOP
}
ktap_check "no eval or sourced data in scripts/" no_eval
# env_value_is_one_word: a LMM_ENV value with spaces and a glob reaches
# the command as it is (a cache path with a space in CCACHE_DIR=).
env_value_is_one_word() {
	# shellcheck disable=SC2016
	[ "$(LMM_ENV=$'LMM_T=a b *\nLMM_U=c' "$top/scripts/buildroot" -- sh -c 'echo "$LMM_T|$LMM_U"')" = 'a b *|c' ]
}
ktap_check "LMM_ENV values stay whole in the build root" env_value_is_one_word
# sandbox_fds: a sandboxed command holds no descriptor of its caller's
# (here a file the caller opened for writing), and the build root's
# lock (7) only read-only.
sandbox_fds() {
	local got
	# shellcheck disable=SC2016
	got=$( { LMM_SANDBOX=1 "$top/scripts/buildroot" -- sh -c \
		'for f in /proc/self/fd/*; do echo "${f##*/} $(readlink "$f")"; done; [ -w /proc/self/fd/7 ] && echo "7 writable"' \
		< /dev/null; } 5>> "$tmp/open-for-writing" 2>&1)
	if grep -q -e open-for-writing -e '^7 writable' -e '^5 ' <<< "$got" || ! grep -q '^7 .*\.lock$' <<< "$got"; then
		echo "# sandbox descriptors: $(paste -sd' ' <<< "$got")"
		return 1
	fi
}
ktap_check "the sandbox inherits only stdio and a read-only lock" sandbox_fds
ktap_finish
