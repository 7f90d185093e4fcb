#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every script refuses a bad option with a usage message and exit 2, and
# answers --help with exit 0, before doing any work.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
scripts=(buildroot fetch-kernel fetch-xen fetch-source build-modules mkinitramfs lanes check-newest
	 boot run check mutate kunit kunit-graft in-overlay ktap-verdict gate gate-report bench)
echo "KTAP version 1"
echo "1..$((2 * ${#scripts[@]}))"
n=0 fail=0
for s in "${scripts[@]}"; do
	err=$(timeout 20 "$top/scripts/$s" --no-such-option < /dev/null 2>&1 >/dev/null)
	rc=$?
	n=$((n + 1))
	if [ $rc -eq 2 ] && grep -qi usage <<< "$err"; then
		echo "ok $n $s --no-such-option: exit 2 with usage"
	else
		fail=$((fail + 1))
		echo "# got exit $rc: $(head -n 2 <<< "$err")"
		echo "not ok $n $s --no-such-option: exit 2 with usage"
	fi
	timeout 20 "$top/scripts/$s" --help < /dev/null > /dev/null 2>&1
	rc=$?
	n=$((n + 1))
	if [ $rc -eq 0 ]; then
		echo "ok $n $s --help: exit 0"
	else
		fail=$((fail + 1))
		echo "not ok $n $s --help: exit $rc"
	fi
done
echo "# Totals: pass:$((n - fail)) fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
