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

# ktap_flat: a nested KTAP document (stdin) with each result line named
# by its path ("ok 3 amd64:kernel:log_clean # SKIP ...") and every line
# unindented: what a grep for one case of one lane needs.  A reader of
# its own, apart from the writer (scripts/lmm/report.py).
ktap_flat() {
	awk '{
		match($0, /^ */)
		depth = int(RLENGTH / 4)
		text = substr($0, RLENGTH + 1)
	}
	text ~ /^# Subtest: / { name[depth] = substr(text, 12) }
	text ~ /^(not )?ok [0-9]+ / {
		mark = text ~ /^not / ? "not ok" : "ok"
		rest = substr(text, length(mark) + 2)
		match(rest, /^[0-9]+ /)
		path = ""
		for (i = 1; i <= depth; i++)
			path = path name[i] ":"
		print mark " " substr(rest, 1, RLENGTH) path substr(rest, RLENGTH + 1)
		next
	}
	{ print text }'
}
