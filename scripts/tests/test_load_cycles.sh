#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# 100 load/run/unload cycles of the plain module in one boot: every load
# passes and unloads (a held module reference would make the next load
# fail), every run starts from E = P = 0 (initial_state and each case's
# precondition), no warning, and after a warm-up of 10 cycles
# MemAvailable falls by less than MAX_LEAK_KB per cycle (the module's
# largest allocation, its 256 KiB result buffer, leaked once per cycle
# would exceed the default 128).

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/out/load-cycles}
arch=${2:-amd64}
cycles=${CYCLES:-100}
max_leak_kb=${MAX_LEAK_KB:-128}
warmup=10

mkdir -p "$out"
env=$("$top/scripts/fetch-kernel" --arch "$arch" 2> "$out/fetch.log") || { cat "$out/fetch.log"; exit 1; }
eval "$env"
"$top/scripts/build-modules" --kdir "$KDIR" --out "$out/build" || exit 1
mods=()
for _ in $(seq "$cycles"); do
	mods+=(--module "$out/build/lazy_mmu_test.ko:cases=initial_state,documented_sequence,pause_nesting,nested_kernel_paths walk_steps=200")
done
"$top/scripts/mkinitramfs" --arch "$arch" --out "$out/initrd.gz" "${mods[@]}" || exit 1
t0=$EPOCHREALTIME
"$top/scripts/boot" --arch "$arch" --kernel "$KIMAGE" --initrd "$out/initrd.gz" \
	--console "$out/console.log" --timeout 900 > "$out/qemu-status" || exit 1
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
c=$out/console.log

loaded=$(grep -c 'LMM-END lazy_mmu_test rc=0' "$c")
passed=$(tr -d '\r' < "$c" | grep -c '^\[[ 0-9.]*\] ok 1 lazy_mmu_nesting$')
mem() { sed -n "s/.*LMM-COUNTERS $1 .*mem_kb=\([0-9]*\).*/\1/p" "$c"; }
warn() { sed -n "s/.*LMM-COUNTERS $1 warn=\([0-9]*\).*/\1/p" "$c"; }
before=$(mem before) after=$(mem after)
# MemAvailable after each unload.
ends=($(sed -n 's/.*LMM-END lazy_mmu_test rc=0 mem_kb=\([0-9]*\).*/\1/p' "$c"))
slope=NA
if [ ${#ends[@]} -gt $((warmup + 1)) ]; then
	slope=$(( (ends[warmup - 1] - ends[${#ends[@]} - 1]) / (${#ends[@]} - warmup) ))
fi

. "$top/scripts/tests/ktap_helpers.sh"
ktap_plan 4
ktap_check "$cycles loads ran and unloaded ($loaded with rc=0, $passed suites passed, $secs s)" \
	'[ "$loaded" -eq "$cycles" ] && [ "$passed" -eq "$cycles" ]'
ktap_check "guest finished" 'grep -q LMM-DONE "$c"'
ktap_check "no warning (warn_count $(warn before) -> $(warn after))" \
	'[ -n "$(warn after)" ] && [ "$(warn before)" = "$(warn after)" ]'
ktap_check "MemAvailable falls $slope kB per cycle after $warmup cycles (limit $max_leak_kb; whole run $before -> $after kB)" \
	'[ "$slope" != NA ] && [ "$slope" -le "$max_leak_kb" ]'
ktap_finish
