#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test_api_fixtures.sh [OUTDIR]: the suite builds, W=1-clean, against every
# generation of the lazy MMU nesting API and detects which one it got.
#
# Each fixtures/api/<gen>.patch turns Debian's newest 7.x header tree
# (mainline, generation 7) into what the helpers, the task state and the
# predicate looked like in <gen>.  For each fixture and the unpatched tree,
# on amd64 and arm64: build the modules with W=1 against the headers with
# the fixture applied (build-modules --patch: an overlay of the tree, the
# tree untouched), check the generated lmm_api.h names the generation.
# The builds are kept by their inputs (build-modules --cache: the fixture,
# the suite's sources, detect-api among them): an unchanged one is not
# redone, and its log and lmm_api.h are the ones it made.  One case,
# FRESH, is built every time, so that the overlay, a W=1 build and
# detect-api run (and the pristine check has something to check).
# Then detect-api's link-safety test (powerpc hash, no KUnit exports).
# Output: KTAP.  Exit 0 if everything passed, 1 otherwise.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
out=${1:-$top/out/api-fixtures}
fixtures=$top/fixtures/api
arches=(amd64 arm64)
# case:expected LMM_API_GEN ("mainline" is the unpatched tree).
cases=(mainline:7 none:0 v3:3 v4:4 v5:5 v6:6)
FRESH=v5-amd64

if ! rm -rf "$out" || ! mkdir -p "$out"; then
	echo "cannot create $out" >&2
	exit 1
fi
out=$(cd "$out" && pwd)
ROOT=$("$top/scripts/buildroot") || exit 1

declare -A KDIR
for a in "${arches[@]}"; do
	env=$("$top/scripts/fetch-kernel" --arch "$a") || exit 1
	KDIR[$a]=$(sed -n 's/^KDIR=//p' <<< "$env")
	[ -n "${KDIR[$a]}" ] || { echo "fetch-kernel --arch $a printed no KDIR" >&2; exit 1; }
done

# Checksums of the pristine files the fixtures touch, to prove that the
# fixtures never reach the tree itself.
pristine_sums() {
	local arch common f
	for arch in "${arches[@]}"; do
		common=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$ROOT${KDIR[$arch]}/Makefile")
		echo "$ROOT${KDIR[$arch]}/Makefile"
		sed -n 's|^+++ b/||p' "$fixtures"/*.patch | sort -u |
			while read -r f; do echo "$ROOT$common/$f"; done
	done | sort -u | xargs md5sum 2>&1
}
sums_before=$(pristine_sums)

ntests=$(( ${#cases[@]} * ${#arches[@]} + 1 + 3 ))
echo "KTAP version 1"
echo "1..$ntests"
n=0 pass=0 fail=0

ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
notok() {
	n=$((n + 1)); fail=$((fail + 1))
	local name=$1; shift
	printf '# %s\n' "$@"
	echo "not ok $n $name"
}

# run_case CASE WANT ARCH: prints its diagnostics, returns 0 on success.
run_case() {
	local c=$1 want=$2 a=$3
	local dir=$out/$c-$a fix hdr got noise f rc cached cache=() patch=()
	mkdir -p "$dir"
	if [ "$c" != mainline ]; then
		fix=$fixtures/$c.patch
		[ -r "$fix" ] || { echo "no fixture $fix"; return 1; }
		head -n1 "$fix" | grep -q '^Fixture: ' || { echo "$fix: first line is not 'Fixture: ...'"; return 1; }
		patch=(--patch "$fix")
	fi
	cache=(--cache)
	[ "$c-$a" != "$FRESH" ] || cache=()
	"$top/scripts/build-modules" --kdir "${KDIR[$a]}" --out "$dir" "${patch[@]}" "${cache[@]}" -- W=1 \
		> "$dir/build-modules.log" 2>&1
	rc=$?
	if [ $rc -eq 4 ]; then
		echo "$c.patch does not apply:"
		head -n 5 "$dir/patch.log"
		return 1
	elif [ $rc -ne 0 ]; then
		echo "build failed (log: $dir/build.log):"
		grep -E 'error|warning' "$dir/build.log" 2>/dev/null | head -n 8
		return 1
	fi
	noise=$(grep -vE '^make(\[[0-9]+\])?: (Entering|Leaving)|^  (CC|LD|AR|MODPOST|BTF|UPD|CHECK|CC \[M\]|LD \[M\])|^make -C ' "$dir/build.log")
	if [ -n "$noise" ]; then
		echo "build not W=1 clean (log: $dir/build.log):"
		head -n 8 <<< "$noise"
		return 1
	fi
	for f in kmod kunit; do
		hdr=$dir/$f.lmm_api.h
		[ -e "$hdr" ] || { [ $f = kunit ] && continue; echo "no $hdr"; return 1; }
		got=$(sed -n 's/^#define LMM_API_GEN \([0-9]*\)$/\1/p' "$hdr")
		if [ "$got" != "$want" ]; then
			echo "$f/lmm_api.h says LMM_API_GEN ${got:-<none>}, expected $want:"
			grep '^#define' "$hdr"
			return 1
		fi
	done
	cached=", built"
	grep -q 'modules unchanged since an earlier build' "$dir/build-modules.log" && cached=", cached"
	echo "$(sed -n 's/^#define LMM_API_NAME //p' "$dir/kmod.lmm_api.h"), gen $want, modules: $(find "$dir" -maxdepth 1 -name '*.ko' -printf '%f\n' | sort | paste -sd' ' -)$cached"
	return 0
}

# The builds run side by side, one per CPU (each is one make, mostly one
# compiler at a time); the results are printed in order afterwards.
njobs=$(nproc 2>/dev/null || echo 1)
running=0
for entry in "${cases[@]}"; do
	c=${entry%%:*} want=${entry#*:}
	for a in "${arches[@]}"; do
		if [ $running -ge "$njobs" ]; then
			wait -n
			running=$((running - 1))
		fi
		(
			t0=$EPOCHREALTIME
			run_case "$c" "$want" "$a" > "$out/$c-$a.msg" 2>&1
			echo $? > "$out/$c-$a.rc"
			awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f\n", b - a }' > "$out/$c-$a.secs"
		) &
		running=$((running + 1))
	done
done
wait
for entry in "${cases[@]}"; do
	c=${entry%%:*} want=${entry#*:}
	for a in "${arches[@]}"; do
		msg=$(cat "$out/$c-$a.msg" 2>/dev/null)
		rc=$(cat "$out/$c-$a.rc" 2>/dev/null || echo 1)
		secs=$(cat "$out/$c-$a.secs" 2>/dev/null)
		if [ "$rc" = 0 ]; then
			echo "# $c-$a: $msg"
			ok "$c-$a # ${secs} s"
		else
			mapfile -t lines <<< "$msg"
			notok "$c-$a" "${lines[@]}"
		fi
	done
done

if [ "$(pristine_sums)" = "$sums_before" ]; then
	ok "pristine_headers_untouched"
else
	notok "pristine_headers_untouched" "a file of the pristine header trees changed:" \
		"$(diff <(echo "$sums_before") <(pristine_sums) | head -n 5)"
fi

# Link safety (powerpc hash): detect-api reads the object tree's config and
# Module.symvers; a fake object tree beside the amd64 headers stands for
# Debian's ppc64el one (no KUnit exports) and a KUnit kernel's.
obj=$out/linksafe-obj
mkdir -p "$obj/include/config"
common=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$ROOT${KDIR[amd64]}/Makefile")
linksafe() {	# linksafe CONFIG SYMBOLS...: does detect-api say unexported?
	local sym
	echo "$1" > "$obj/include/config/auto.conf"
	shift
	printf '0x00000000\tvmalloc\tvmlinux\tEXPORT_SYMBOL\t\n' > "$obj/Module.symvers"
	for sym in "$@"; do
		printf '0x00000000\t%s\tvmlinux\tEXPORT_SYMBOL\tEXPORTED_FOR_KUNIT_TESTING\n' "$sym" >> "$obj/Module.symvers"
	done
	sh "$top/scripts/detect-api" "$ROOT$common" "$obj" | grep -q '^#define LMM_PPC_BATCH_UNEXPORTED 1$'
}
for t in "hash_without_kunit_exports|0|CONFIG_PPC_64S_HASH_MMU=y" \
	 "hash_with_kunit_exports|1|CONFIG_PPC_64S_HASH_MMU=y ppc64_tlb_batch __flush_tlb_pending" \
	 "not_hash|1|CONFIG_X86_64=y"; do
	IFS='|' read -r name want args <<< "$t"
	# shellcheck disable=SC2086
	linksafe $args
	if [ $? = "$want" ]; then
		ok "linksafe_$name"
	else
		notok "linksafe_$name" "detect-api: LMM_PPC_BATCH_UNEXPORTED $([ "$want" = 0 ] && echo missing || echo "set wrongly")"
	fi
done

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
