#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.pl --no-tree over the suite's C sources, with the checkpatch
# of the kernel tree the kunit.py lane uses (Debian's linux-source: the
# kbuild packages do not ship it).  Any warning or error fails.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
env=$("$top/scripts/fetch-source" 2>/dev/null) || { echo "cannot fetch linux-source"; exit 1; }
ksrc=$(sed -n 's/^KSRC=//p' <<< "$env")
files=$(cd "$top" && { git ls-files '*.c' '*.h' 2>/dev/null || find kmod kunit scenarios scripts -name '*.[ch]'; } |
	sed "s|^|$top/|")
[ -n "$files" ] || { echo "no C sources found"; exit 1; }
# shellcheck disable=SC2086
out=$(LMM_BIND=$ksrc "$top/scripts/buildroot" -- \
	perl "$ksrc/scripts/checkpatch.pl" --no-tree --terse --show-types -f $files 2>&1)
n=$(wc -w <<< "$files")
if grep -qE '(ERROR|WARNING|CHECK):' <<< "$out"; then
	echo "$out"
	echo "# checkpatch: findings in the $n C files above"
	exit 1
fi
echo "# checkpatch --no-tree: $n C files clean"
