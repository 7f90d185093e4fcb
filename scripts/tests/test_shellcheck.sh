#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every shell script of the suite checked by the build root's copy of
# ShellCheck, with the settings of .shellcheckrc: any finding fails.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
mapfile -t files < <(cd "$top" && git ls-files scripts runner .ci 2>/dev/null |
	while read -r f; do
		head -n1 "$f" | grep -qE '^#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh|/bin/busybox sh)' && echo "$top/$f"
	done)
# Sourced helpers have no shebang.
files+=("$top/scripts/lib.sh" "$top/scripts/tests/ktap_helpers.sh")
[ ${#files[@]} -gt 2 ] || { echo "no shell scripts found"; exit 1; }
# From the top of the tree: "$top/scripts/lib.sh" is followed as scripts/lib.sh.
# shellcheck disable=SC2016
if ! out=$("$top/scripts/buildroot" -- /bin/sh -c 'cd "$1" && shift && exec shellcheck "$@"' \
	shellcheck "$top" "${files[@]}" 2>&1); then
	echo "$out"
	echo "# shellcheck: findings in the ${#files[@]} scripts above"
	exit 1
fi
echo "# shellcheck: ${#files[@]} scripts clean"
