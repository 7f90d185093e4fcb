#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bad module parameters are refused at load time with a clear message and
# nothing runs: boots the lane's kernel once (default amd64), loads the
# module with each bad value in turn, then once with a good one.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
out=${1:-$top/out/bad-params}
arch=${2:-amd64}

# "parameters|message the kernel log must show"
bad=(
	"walk_steps=0|invalid walk_steps=0"
	"walk_steps=1000001|invalid walk_steps=1000001"
	"walk_steps=-1|invalid for parameter"
	"seed=banana|invalid seed='banana'"
	"seed=0x1ffffffffffffffff|invalid seed="
	"cases=no_such_case|unknown case 'no_such_case'"
	"cases=nesting_depth:99|index 99 is out of range"
	"cases=nesting_depth:x|invalid case parameter index"
	"cases=nesting_depth:-1|invalid case parameter index"
	"cases=initial_state:0|has 0 parameters"
	"threads=65|invalid threads=65"
	"duration_ms=0|invalid duration_ms=0"
	"duration_ms=60001|invalid duration_ms=60001"
	"run=maybe|invalid for parameter"
)

# One boot (scripts/run's pipeline): a load per bad value, then a good one.
# Its verdict fails (the refused loads): the checks below read the console.
mkdir -p "$out"
loads=()
for b in "${bad[@]}"; do
	loads+=(--load "${b%%|*}")
done
loads+=(--load cases=initial_state)
"$top/scripts/run" --quiet --out "$out/run" --timeout 120 "${loads[@]}" "$arch" > "$out/run.log" 2>&1
console=$out/run/$arch/console.log
[ -s "$console" ] || { tail -n 20 "$out/run.log"; exit 1; }

# block N: the console between the N-th LMM-BEGIN and its LMM-END.
block() {
	awk -v n="$1" '/LMM-BEGIN/ { i++ } i == n { print } /LMM-END/ && i == n { exit }' "$console"
}

echo "KTAP version 1"
echo "1..$((${#bad[@]} + 1))"
n=0 fail=0
for b in "${bad[@]}"; do
	n=$((n + 1))
	args=${b%%|*} msg=${b#*|}
	blk=$(block $n)
	if ! grep -q 'LMM-END lazy_mmu_test rc=[1-9]' <<< "$blk"; then
		fail=$((fail + 1)); echo "not ok $n refused $args # insmod did not fail"
	elif ! grep -qF "$msg" <<< "$blk"; then
		fail=$((fail + 1)); echo "not ok $n refused $args # no '$msg' in the kernel log"
	elif grep -q 'KTAP version' <<< "$blk"; then
		fail=$((fail + 1)); echo "not ok $n refused $args # cases ran anyway"
	else
		echo "ok $n refused $args: $(grep -F "$msg" <<< "$blk" | head -n1 | sed 's/^\[[^]]*\] //')"
	fi
done
n=$((n + 1))
blk=$(block $n)
if grep -q 'LMM-END lazy_mmu_test rc=0' <<< "$blk" && grep -q 'ok 1 initial_state' <<< "$blk"; then
	echo "ok $n good parameters still run after the refusals"
else
	fail=$((fail + 1)); echo "not ok $n good parameters still run after the refusals"
fi
grep -q LMM-DONE "$console" || { fail=$((fail + 1)); echo "# guest did not finish: $console"; }
echo "# Totals: pass:$((n - fail)) fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
