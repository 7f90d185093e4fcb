# SPDX-License-Identifier: GPL-2.0-only
# KTAP output for the shell tests in this directory (source it), after
# tools/testing/selftests/kselftest/ktap_helpers.sh.

ktap_n=0
ktap_fail=0

# ktap_plan N: the document header.
ktap_plan() {
	echo "KTAP version 1"
	echo "1..$1"
}

# ktap_check NAME EXPR: one result line, ok when EXPR (eval'd) succeeds.
ktap_check() {
	ktap_n=$((ktap_n + 1))
	if eval "$2"; then
		echo "ok $ktap_n $1"
	else
		ktap_fail=$((ktap_fail + 1))
		echo "not ok $ktap_n $1"
	fi
}

# ktap_finish: the totals; returns 0 when nothing failed.
ktap_finish() {
	echo "# Totals: pass:$((ktap_n - ktap_fail)) fail:$ktap_fail xfail:0 xpass:0 skip:0 error:0"
	[ $ktap_fail -eq 0 ]
}
