#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test_build_clean.sh ARCH OUTDIR: the modules build against the Debian
# 7.x headers lanes.json pins for ARCH with W=1 and sparse (C=1) without a single
# warning.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
arch=${1:?usage: test_build_clean.sh ARCH OUTDIR}
out=${2:?usage: test_build_clean.sh ARCH OUTDIR}

env=$("$top/scripts/fetch-kernel" --arch "$arch") || exit 1
KREL=$(kv KREL <<< "$env") KDIR=$(kv KDIR <<< "$env")
"$top/scripts/build-modules" --kdir "$KDIR" --out "$out" -- W=1 C=1 || exit 1
# Anything that is not one of kbuild's progress lines is a diagnostic.
noise=$(grep -vE '^make(\[[0-9]+\])?: (Entering|Leaving)|^  (CC|LD|AR|MODPOST|BTF|UPD|CHECK|CC \[M\]|LD \[M\])|^make -C ' "$out/build.log")
if [ -n "$noise" ]; then
	echo "$noise"
	echo "# $arch: build against $KREL is not W=1/sparse clean"
	exit 1
fi
grep -c '  CHECK' "$out/build.log" | xargs printf '# %s: %s files checked by sparse, no warning\n' "$arch"
