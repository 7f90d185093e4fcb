#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# 100 load/run/unload cycles of the plain module in one boot:
#   - every load passes and every unload leaves no module loaded (a
#     reference the module kept would make rmmod fail);
#   - every run starts from E = P = 0: initial_state and each case's
#     precondition, in the new insmod task of each cycle; no warning;
#   - nothing leaks: after a warm-up of 10 cycles, neither the kernel's
#     allocations grow nor its free memory falls by more than MAX_LEAK_KB
#     (16) kB per cycle.
# The cases run each cycle include the ones that fork kthreads
# (fresh_kthread_state, per_task_state) and the ones that allocate pages,
# vmalloc, vmap and kmalloc (pte_visibility, nested_kernel_paths).
#
#   test_load_cycles.sh [OUTDIR] [amd64|arm64]      (CYCLES=, MAX_LEAK_KB=)
#
# Why not MemAvailable: it follows MemFree, and MemFree does not count the
# pages parked on the per-CPU free lists, which the page allocator lets
# grow as tasks exit and modules unload.  On Debian 7.3.4 amd64 (1 GiB,
# 2 CPUs) MemFree falls in 4 MiB steps, one per refill of a list, and
# comes back in a lump (18 MiB) when they are drained: between cycles 10
# and 100 of eleven healthy runs MemAvailable moved by -13.9 to +1.3 MB
# (-155 to +14 kB per cycle), and the lists by the opposite amount within
# 0.6 MB.  A trivial module (empty init and exit) and this one with
# initial_state alone drift the same.  So the test records, after each
# unload (scripts/guest/init, LMM-END lines):
#   kernel = SUnreclaim + VmallocUsed + KernelStack + PageTables + Percpu,
#            what a module's kmalloc (slab and kmalloc_large pages),
#            vmalloc, kthreads and percpu allocations move;
#   free   = MemFree + the pages on the per-CPU lists: any page that stays
#            allocated, whoever holds it (alloc_pages() too);
# and takes the Theil-Sen slope of each (the median of the slopes between
# all pairs of cycles): a step of a few MB (a list refilled, a lazy vmap
# purge) barely moves it, a steady leak moves it by the leak's size.
# Healthy, kernel grows 1-3 kB per cycle and free falls 1.5-4.5 kB: slab
# caches filling up to the working set of the shell's short-lived tasks
# (sighand, files, dentries, proc inodes; 0.3 kB per cycle after 100
# cycles of a trivial module), not the module.  A 64 KiB kmalloc() leaked
# per load moves both by 67 kB per cycle, 64 KiB of alloc_pages() moves
# free by 67.  A leak below the limit goes unnoticed (kmemleak would see
# it: Debian's kernels lack it).
# The slab caches and vmalloc callers that grew most between the warm-up
# and the end are printed as diagnostics.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
out=${1:-$top/out/load-cycles}
arch=${2:-amd64}
cycles=${CYCLES:-100}
max_leak_kb=${MAX_LEAK_KB:-16}
warmup=10
cases=initial_state,fresh_kthread_state,documented_sequence,pause_nesting,per_task_state,pte_visibility,nested_kernel_paths

# One boot (scripts/run's pipeline), one load per cycle.
mkdir -p "$out"
loads=()
for _ in $(seq "$cycles"); do
	loads+=(--load "cases=$cases")
done
t0=$EPOCHREALTIME
"$top/scripts/run" --quiet --out "$out/run" --timeout 900 --append "lmm.memdump=$warmup" \
	"${loads[@]}" "$arch" > "$out/run.log" 2>&1
[ -s "$out/run/$arch/console.log" ] || { tail -n 20 "$out/run.log"; exit 1; }
secs=$(secs_since "$t0")
c=$out/console.txt
tr -d '\r' < "$out/run/$arch/console.log" > "$c"

loaded=$(grep -c 'LMM-END lazy_mmu_test rc=0 ' "$c")
unloaded=$(grep -c 'LMM-END lazy_mmu_test rc=0 .* modules=0$' "$c")
passed=$(grep -c '^\[[ 0-9.]*\] ok 1 lazy_mmu_nesting$' "$c")
initial=$(grep -c '^\[[ 0-9.]*\]  *ok 1 initial_state$' "$c")
warn() { sed -n "s/^LMM-COUNTERS $1 warn=\([0-9]*\).*/\1/p" "$c"; }

# series EXPR: EXPR of the LMM-END fields, one line per passing cycle.
series() {
	awk '/LMM-END lazy_mmu_test rc=0 / {
		sub(/.*LMM-END lazy_mmu_test rc=0 /, "")
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		print '"$1"' }' "$c"
}

# slope: Theil-Sen slope (kB per cycle) of stdin's values after the warm-up.
slope() {
	awk -v w="$warmup" 'NR > w { y[++n] = $1 }
		END { for (i = 1; i < n; i++) for (j = i + 1; j <= n; j++)
			print (y[j] - y[i]) / (j - i) }' |
		sort -g |
		awk '{ s[++n] = $1 }
		     END { if (n < 3) { print "NA"; exit }
			   printf "%.1f\n", n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }'
}

# at_most VALUE LIMIT: VALUE is a number no greater than LIMIT.
at_most() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v != "NA" && v + 0 <= l + 0) }'; }

kernel=$(series 'f["SUnreclaim"] + f["VmallocUsed"] + f["KernelStack"] + f["PageTables"] + f["Percpu"]' | slope)
free=$(series 'f["MemFree"] + f["pcp"]' | slope)
fall=$(awk -v s="$free" 'BEGIN { if (s == "NA") print s; else printf "%.1f\n", -s }')

# drift EXPR: EXPR's value at the end of the warm-up and at the last cycle.
drift() { series "$1" | awk -v w="$warmup" 'NR == w { a = $1 } END { printf "%d -> %d kB", a, $1 }'; }

. "$top/scripts/tests/ktap_helpers.sh"
ktap_plan 6
all_cycles() { [ "$loaded" -eq "$cycles" ] && [ "$passed" -eq "$cycles" ] && [ "$unloaded" -eq "$cycles" ]; }
no_warning() { [ -n "$(warn after)" ] && [ "$(warn before)" = "$(warn after)" ]; }
ktap_check "$cycles loads ran and unloaded ($loaded with rc=0, $passed suites passed, $unloaded left no module loaded; $secs s)" \
	all_cycles
ktap_check "every run started at E=0 P=0 ($initial initial_state passed)" [ "$initial" -eq "$cycles" ]
ktap_check "guest finished" grep -q LMM-DONE "$c"
ktap_check "no warning (warn_count $(warn before) -> $(warn after))" no_warning
ktap_check "kernel allocations grow $kernel kB per cycle after $warmup cycles (limit $max_leak_kb)" \
	at_most "$kernel" "$max_leak_kb"
ktap_check "free memory with the per-CPU lists falls $fall kB per cycle after $warmup cycles (limit $max_leak_kb)" \
	at_most "$fall" "$max_leak_kb"

# Diagnostics: cycle $warmup -> the last one.
echo "# SUnreclaim $(drift 'f["SUnreclaim"]'), VmallocUsed $(drift 'f["VmallocUsed"]'), KernelStack $(drift 'f["KernelStack"]'), PageTables $(drift 'f["PageTables"]')"
echo "# MemAvailable $(drift 'f["mem_kb"]') (slope $(series 'f["mem_kb"]' | slope) kB per cycle), MemFree $(drift 'f["MemFree"]'), per-CPU free lists $(drift 'f["pcp"]')"
awk -v w="$warmup" '$1 == "LMM-SLABINFO" && $3 != "slabinfo" && $3 != "#" {
		kb = $5 * $6 / 1024; if ($2 == w) a[$3] = kb; else b[$3] = kb }
	END { for (k in b) if (b[k] != a[k]) printf "%+.0f %s\n", b[k] - a[k], k }' "$c" |
	sort -k1,1gr | head -n 5 | awk '{ s = s sep $2 " " $1 " kB"; sep = ", " } END { print "# slab caches grown most: " (s ? s : "none") }'
awk -v w="$warmup" '$1 == "LMM-VMALLOCINFO" {
		k = $5 == "unpurged" ? "unpurged_vm_area" : $5
		sub(/\+.*/, "", k); if ($2 == w) a[k] += $4; else b[k] += $4 }
	END { for (k in b) a[k] += 0; for (k in a) if (b[k] != a[k]) printf "%+.0f %s\n", (b[k] - a[k]) / 1024, k }' "$c" |
	sort -k1,1gr | head -n 3 | awk '{ s = s sep $2 " " $1 " kB"; sep = ", " } END { print "# vmalloc callers grown most: " (s ? s : "none") }'
ktap_finish
