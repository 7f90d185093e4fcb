# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# KTAP output for the shell tests in this directory (source it), after
# tools/testing/selftests/kselftest/ktap_helpers.sh.

ktap_n=0
ktap_fail=0

# ktap_plan N: the document header.
ktap_plan() {
	echo "KTAP version 1"
	echo "1..$1"
}

# ktap_check NAME CMD [ARG...]: one result line, ok when CMD succeeds.
# CMD runs as given, never eval'd: a compound check is a function of the
# test's own.
ktap_check() {
	local name=$1
	shift
	ktap_n=$((ktap_n + 1))
	if "$@"; then
		echo "ok $ktap_n $name"
	else
		ktap_fail=$((ktap_fail + 1))
		echo "not ok $ktap_n $name"
	fi
}

# ktap_not CMD [ARG...]: succeeds when CMD fails.
ktap_not() { ! "$@"; }

# ktap_rc_and WANT CMD [ARG...]: the test's $rc is WANT and CMD succeeds.
ktap_rc_and() {
	local want=$1
	shift
	[ "${rc:-}" = "$want" ] && "$@"
}

# ktap_finish: the totals; returns 0 when nothing failed.
ktap_finish() {
	echo "# Totals: pass:$((ktap_n - ktap_fail)) fail:$ktap_fail xfail:0 xpass:0 skip:0 error:0"
	[ $ktap_fail -eq 0 ]
}
