#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.pl --no-tree over the suite's C sources and over the kernel
# patches in series/ (each patch of an mbox on its own), with the
# checkpatch of the kernel tree the kunit.py lane uses (Debian's
# linux-source: the kbuild packages do not ship it).  Any warning or
# error fails.  The patches' commit ids cannot be looked up (no kernel
# git tree here): UNKNOWN_COMMIT_ID is the one check left out for them.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
env=$("$top/scripts/fetch-source" 2>/dev/null) || { echo "cannot fetch linux-source"; exit 1; }
ksrc=$(sed -n 's/^KSRC=//p' <<< "$env")
files=$(cd "$top" && { git ls-files '*.c' '*.h' 2>/dev/null || find kmod kunit scenarios scripts -name '*.[ch]'; } |
	sed "s|^|$top/|")
[ -n "$files" ] || { echo "no C sources found"; exit 1; }

# checkpatch WHAT BINDS ARGS...: fail on any finding in ARGS' files.
checkpatch() {
	local what=$1 binds=$2 out
	shift 2
	out=$(LMM_BIND=$binds "$top/scripts/buildroot" -- \
		perl "$ksrc/scripts/checkpatch.pl" --no-tree --terse --show-types "$@" 2>&1)
	if grep -qE '(ERROR|WARNING|CHECK):' <<< "$out"; then
		echo "$out"
		echo "# checkpatch: findings in the $what above"
		exit 1
	fi
	echo "# checkpatch --no-tree: $what clean"
}

# shellcheck disable=SC2086
checkpatch "$(wc -w <<< "$files") C files" "$ksrc" -f $files

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for f in "$top"/series/*.mbox; do
	[ -f "$f" ] || continue
	d=$tmp/$(basename "$f" .mbox)
	mkdir "$d" && git mailsplit -o"$d" "$f" > /dev/null ||
		{ echo "not an mbox: $f"; exit 1; }
done
find "$top/series" -name '*.patch' -exec cp -t "$tmp" {} +
patches=$(find "$tmp" -type f | sort)
[ -n "$patches" ] || { echo "no patches in $top/series"; exit 1; }
# shellcheck disable=SC2086
checkpatch "$(wc -w <<< "$patches") series patches" "$ksrc:$tmp" --ignore UNKNOWN_COMMIT_ID $patches
