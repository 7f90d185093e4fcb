# SPDX-License-Identifier: GPL-2.0-only
"""make check: everything CI gates on, as one KTAP document.

  check [--out DIR] [--jobs N] [--only STEP]...

Installs what it needs (build root, kernels) on a fresh machine.  Every
kernel and package it tests is the one lanes.json pins: what it tests does
not depend on what the mirror lists that day (make check-newest does).

The steps are the table STEPS below.  Up to N of them run side by side
(default: one per two cores, DEFAULT_JOBS; so one at a time on the 2-core
machines CI runs on).  A step may keep two cores busy by itself (a 2-vCPU
TCG guest, a -j2 build); on 2 cores two steps at a time gained little
(the steps took twice as long each) and starved a TCG guest into RCU
stalls once.  What a step shares with another is data in its row:

  owns    caches it writes (a kunit.py build directory, the Debian amd64
          kernel that cache_repair breaks and mends): no step using or
          owning the same runs beside it;
  uses    caches it reads: any number of users run together;
  after   steps whose output it reads: it starts once they have ended;
  barrier it runs alone, after every step above it and before every step
          below it (the build root's creation).

Steps start in table order as far as that allows, and a step waiting for a
cache is not overtaken on that cache by a later one.  The KTAP lines come
in table order, each with its step's seconds.  Each step's output goes to
OUT/<step>.log, its name, exit status and seconds to OUT/steps.tsv
(scripts/bench reads it).  --jobs 1 runs the table one step at a time.
--only runs the steps named (with nothing of the rest: a step whose
`after` is left out finds no input and says so).

Exit 0 all passed, 1 otherwise, 2 on a usage error.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lmm import pipeline  # noqa: E402
from lmm.cli import Parser, die_of_sigint, log  # noqa: E402

DEFAULT_JOBS = max(1, min(8, (os.cpu_count() or 1) // 2))
T = os.path.join(pipeline.SCRIPTS, "tests")
S = pipeline.SCRIPTS
M = os.path.join(pipeline.TOP, "mutants")
# Summary lines of a step's log repeated under its KTAP line.
RE_SUMMARY = re.compile(r"^# (Totals|total:|lane |killed |kernel: |[a-z0-9.-]+: [0-9]+ passed)")
DEBIAN_AMD64 = "debian-amd64"       # the pinned Debian amd64 kernel in the cache
KUNIT_X86 = "kunit-x86_64"          # $LMM_CACHE/kunit-build/x86_64
KUNIT_ARM64 = "kunit-arm64"


@dataclass(frozen=True)
class Step:
    name: str
    argv: Tuple[str, ...]           # "{out}" stands for the output directory
    want: int = 0                   # the exit status that passes
    uses: Tuple[str, ...] = ()
    owns: Tuple[str, ...] = ()
    after: Tuple[str, ...] = ()
    barrier: bool = False

    def command(self, out: str) -> List[str]:
        return [a.replace("{out}", out) for a in self.argv]


def step(name, *argv, want=0, uses=(), owns=(), after=(), barrier=False) -> Step:
    return Step(name, tuple(argv), want, tuple(uses), tuple(owns), tuple(after), barrier)


def _mutants(*names: str) -> List[str]:
    return [os.path.join(M, n + ".patch") for n in names]


# Longest first, so that the two slots end together: the kunit.py builds
# (a kernel build each, cold), then the header mutant sweep; cache_repair
# early, while no other step holds the amd64 kernel.
STEPS: Tuple[Step, ...] = (
    step("lane_table_unittests", sys.executable, "-m", "unittest", "discover", "-v",
         "-s", os.path.join(S, "lmm", "tests"), "-t", S),
    step("mirror_fallback_and_pins", os.path.join(T, "test_mirror_fallback.sh"), "{out}/mirror-fallback"),
    step("ktap_verdict_selftest", os.path.join(S, "buildroot"), "--", "bash",
         os.path.join(T, "test_ktap_verdict.sh"), barrier=True),
    step("kunit_lane_x86_64", os.path.join(S, "kunit"), "--arch", "x86_64", "--out", "{out}/kunit",
         owns=[KUNIT_X86]),
    step("gate_arm64_breakage", os.path.join(T, "test_gate.sh"), "{out}/gate-arm64", "arm64-break",
         owns=[KUNIT_ARM64]),
    step("cache_repair", os.path.join(T, "test_cache_repair.sh"), "{out}/cache-repair", owns=[DEBIAN_AMD64]),
    step("mutants_all_killed", os.path.join(S, "mutate"), "--walk-ms", "100", "--out", "{out}/mutate", M,
         uses=[DEBIAN_AMD64]),
    step("build_w1_sparse_amd64", os.path.join(T, "test_build_clean.sh"), "amd64", "{out}/build-amd64",
         uses=[DEBIAN_AMD64]),
    step("build_w1_sparse_arm64", os.path.join(T, "test_build_clean.sh"), "arm64", "{out}/build-arm64"),
    step("build_w1_sparse_riscv64", os.path.join(T, "test_build_clean.sh"), "riscv64", "{out}/build-riscv64"),
    step("build_w1_sparse_s390x", os.path.join(T, "test_build_clean.sh"), "s390x", "{out}/build-s390x"),
    step("misuse_skips_where_a_warning_panics", os.path.join(T, "test_misuse_guard.sh"),
         "{out}/misuse-guard", uses=[KUNIT_X86]),
    step("mutants_on_debug_kernel_x86_64", os.path.join(S, "mutate"), "--tree", "x86_64",
         "--out", "{out}/mutate-tree",
         *_mutants("equivalent/71-enable-saturates-at-max", "equivalent/72-disable-saturates-at-zero",
                   "equivalent/73-resume-saturates-at-zero", "equivalent/74-enable-warns-one-level-early",
                   "28-task-active-ignores-pause"),
         uses=[KUNIT_X86]),
    step("kernel_mutants_rebuilt_x86_64", os.path.join(S, "mutate"), "--tree", "x86_64", "--rebuild",
         "--out", "{out}/mutate-kernel",
         *_mutants("kernel/102-apply-pte-range-section-ends-early",
                   "kernel/103-apply-pte-range-error-path-double-disable"),
         uses=[KUNIT_X86]),
    # The other architecture: arm64 defers, so a vmalloc path's section
    # dropped leaves TIF_LAZY_MMU_PENDING set (alloc_faults).
    step("kernel_mutants_rebuilt_arm64", os.path.join(S, "mutate"), "--tree", "arm64", "--rebuild",
         "--out", "{out}/mutate-kernel-arm64", *_mutants("kernel/101-vmalloc-pages-section-dropped"),
         uses=[KUNIT_ARM64], after=["gate_arm64_breakage"]),
    step("gate_xen_fix_and_no_apply", os.path.join(T, "test_gate.sh"), "{out}/gate", "xen-fix", "no-apply",
         owns=[KUNIT_X86]),
    # After the xen fix gate (the same base lanes, cached by then): a
    # series whose Makefile attacks the host from the sandbox.
    step("gate_hostile_series_sandboxed", os.path.join(T, "test_hostile_series.sh"), "{out}/hostile-series",
         owns=[KUNIT_X86]),
    step("api_generation_fixtures", os.path.join(T, "test_api_fixtures.sh"), "{out}/api-fixtures",
         uses=[DEBIAN_AMD64]),
    # The one run with concurrent_walks' full second (make run's is 100 ms).
    step("run_amd64_arm64", os.path.join(S, "run"), "--walk-ms", "0", "--out", "{out}/run", "amd64", "arm64",
         uses=[DEBIAN_AMD64]),
    step("run_ppc64el_link_safe", os.path.join(S, "run"), "--out", "{out}/run-ppc64el", "ppc64el", "ppc64el-hash"),
    step("skip_without_series_6.12", os.path.join(S, "run"), "--out", "{out}/run-6.12", "amd64-6.12", want=4,
         uses=[DEBIAN_AMD64]),
    step("skip_without_mode_riscv64_s390x", os.path.join(S, "run"), "--out", "{out}/run-no-mode",
         "riscv64", "s390x", want=4),
    step("xen_pv_catches_pause_count_bug", os.path.join(T, "test_xen_pause_count.sh"),
         "{out}/xen-pause-count", uses=[DEBIAN_AMD64]),
    step("init_mm_checked_before_use", os.path.join(T, "test_init_mm_check.sh"), "{out}/init-mm",
         uses=[DEBIAN_AMD64]),
    step("scripts_refuse_bad_options", os.path.join(T, "test_script_usage.sh")),
    step("graft_names_no_checkout", os.path.join(T, "test_graft_checkouts.sh")),
    step("unsafe_input_is_data_or_refused", os.path.join(T, "test_unsafe_input.sh")),
    step("no_stale_verdict_in_reused_out", os.path.join(T, "test_stale_verdict.sh"), "{out}/stale-verdict"),
    step("bad_module_params", os.path.join(T, "test_bad_params.sh"), "{out}/bad-params", uses=[DEBIAN_AMD64]),
    step("load_cycles_100", os.path.join(T, "test_load_cycles.sh"), "{out}/load-cycles", "amd64",
         uses=[DEBIAN_AMD64]),
    step("runner_faults", os.path.join(T, "test_runner_faults.sh"), "{out}/faults", uses=[DEBIAN_AMD64]),
    step("mutant_sweep_faults", os.path.join(T, "test_mutant_sweep.sh"), "{out}/mutant-sweep",
         uses=[DEBIAN_AMD64]),
    step("mutant_module_cache", os.path.join(T, "test_module_cache.sh"), "{out}/module-cache",
         uses=[DEBIAN_AMD64, KUNIT_X86], after=["kunit_lane_x86_64"]),
    step("deb_dkms_build_install", os.path.join(T, "test_dkms_deb.sh"), "{out}/dkms-deb",
         uses=[DEBIAN_AMD64, KUNIT_X86], after=["kunit_lane_x86_64"]),
    step("vm_runner_dkms_module_in_guest", os.path.join(T, "test_vm_runner.sh"), "{out}/vm-runner",
         "{out}/dkms-deb", "{out}/mutate", uses=[DEBIAN_AMD64],
         after=["deb_dkms_build_install", "mutants_all_killed"]),
    step("ci_outputs_consumers", os.path.join(T, "test_ci_outputs.py"), "{out}/run", "{out}/kunit",
         "{out}/faults/guest_panic_mid_run", after=["run_amd64_arm64", "kunit_lane_x86_64", "runner_faults"]),
    # A cache of its own, cold: two runs and a gate at once (about 1.5 min alone).
    step("concurrent_runs_cold_cache", os.path.join(T, "test_concurrent_runs.sh"), "{out}/concurrent"),
    step("checkpatch_no_tree", os.path.join(T, "test_checkpatch.sh")),
    step("shellcheck_clean", os.path.join(T, "test_shellcheck.sh")),
)


class Terminated(Exception):
    pass


def check_table(steps: Sequence[Step]) -> None:
    """Names unique; every `after` names a step above."""
    seen = set()
    for s in steps:
        if s.name in seen:
            raise ValueError(f"step {s.name} is in the table twice")
        for a in s.after:
            if a not in seen:
                raise ValueError(f"step {s.name}: after {a}, which is not a step above it")
        seen.add(s.name)


def conflicts(s: Step, owned: set, used: set) -> bool:
    """Whether S may not start beside steps owning OWNED and using USED."""
    return any(r in owned or r in used for r in s.owns) or any(r in owned for r in s.uses)


def next_step(pending: Sequence[Step], running: Sequence[Step], done: set) -> Optional[Step]:
    """The first pending step that may start now, or None.

    A step may start when the steps it comes after are done, nothing
    running is a barrier, it is a barrier only with nothing running and
    nothing pending above it, and no running step, and no step above it
    still waiting, holds a cache it needs (so a waiting step is not
    overtaken on that cache)."""
    if any(r.barrier for r in running):
        return None
    owned = {x for r in running for x in r.owns}
    used = {x for r in running for x in r.uses}
    for i, s in enumerate(pending):
        if s.barrier:
            return s if i == 0 and not running else None
        ready = all(a in done for a in s.after)
        if ready and not conflicts(s, owned, used):
            return s
        # Waiting: later steps may not take what it needs before it.
        owned |= set(s.owns)
        used |= set(s.uses)
    return None


def schedule(steps: Sequence[Step], jobs: int, start: Callable[[Step], object],
             poll: Callable[[object], Optional[int]], ended: Callable[[Step, int], None],
             wait: Callable[[], None] = lambda: time.sleep(0.25)) -> None:
    """Run STEPS, JOBS at a time: start(step) returns a handle, poll(handle)
    its exit status or None while it runs, ended(step, rc) is called once
    per step as it ends."""
    pending = list(steps)
    running: Dict[str, Tuple[Step, object]] = {}
    done: set = set()
    while pending or running:
        while len(running) < jobs:
            s = next_step(pending, [r for r, _ in running.values()], done)
            if s is None:
                break
            pending.remove(s)
            running[s.name] = (s, start(s))
        if not running:
            raise RuntimeError("no step can start: %s" % ", ".join(s.name for s in pending))
        finished = [(s, rc) for s, h in running.values() for rc in [poll(h)] if rc is not None]
        if not finished:
            wait()
            continue
        for s, rc in finished:
            del running[s.name]
            done.add(s.name)
            ended(s, rc)


def signal_group(pgid: int, sig: int) -> None:
    """SIG to the process group PGID, if any of it is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Runner:
    """The real steps: processes with their output in OUT/<step>.log, and
    the KTAP lines printed in table order as the steps end."""

    def __init__(self, steps: Sequence[Step], out: str):
        self.steps, self.out = list(steps), out
        self.t0: Dict[str, float] = {}
        self.results: Dict[str, Tuple[int, float]] = {}
        self.printed = 0
        self.files = {}
        self.procs: Dict[str, subprocess.Popen] = {}

    def start(self, s: Step):
        cmd = s.command(self.out)
        log(f"step {s.name}: {' '.join(cmd)}")
        self.t0[s.name] = time.monotonic()
        f = open(os.path.join(self.out, s.name + ".log"), "wb")
        self.files[s.name] = f
        try:
            # A process group of its own: a stop reaches everything the
            # step started (a gate's builds and guests), not only its shell.
            h = self.procs[s.name] = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                                      stdin=subprocess.DEVNULL, process_group=0)
            return h
        except OSError as e:
            f.write(f"check: cannot start {cmd[0]}: {e}\n".encode())
            return 127

    def stop(self, sig: int) -> None:
        """Pass SIG on to the process group of each step still running,
        wait for the step (60 s at most), then kill what is left of its
        group: nothing a stopped step started outlives it."""
        running = [h for h in self.procs.values() if h.poll() is None]
        for h in running:
            signal_group(h.pid, sig)
        for h in running:
            try:
                h.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
            signal_group(h.pid, signal.SIGKILL)
            h.wait()

    @staticmethod
    def poll(h) -> Optional[int]:
        return h if isinstance(h, int) else h.poll()

    def ended(self, s: Step, rc: int) -> None:
        secs = time.monotonic() - self.t0[s.name]
        self.files.pop(s.name).close()
        self.procs.pop(s.name, None)
        self.results[s.name] = (rc, secs)
        with open(os.path.join(self.out, "steps.tsv"), "a") as f:
            f.write("%s\t%d\t%.1f\n" % (s.name, rc, secs))
        log("step %s: exit %d in %.1f s" % (s.name, rc, secs))
        while self.printed < len(self.steps) and self.steps[self.printed].name in self.results:
            self.emit(self.printed + 1, self.steps[self.printed])
            self.printed += 1

    def emit(self, n: int, s: Step) -> None:
        rc, secs = self.results[s.name]
        path = os.path.join(self.out, s.name + ".log")
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        if rc == s.want:
            print("ok %d %s # %.1f s" % (n, s.name, secs))
        else:
            print("# %s: exit %d, expected %d; last lines of %s:" % (s.name, rc, s.want, path))
            for line in lines[-25:]:
                print("#   " + line)
            print("not ok %d %s # %.1f s" % (n, s.name, secs))
        for line in lines:
            if RE_SUMMARY.match(line):
                print("#   %s: %s" % (s.name, line[2:]))
        sys.stdout.flush()


def main(argv=None) -> int:
    p = Parser(prog="check", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--out", default=os.path.join(pipeline.TOP, "out", "check"))
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                   help="steps side by side (default %d: one per two cores)" % DEFAULT_JOBS)
    p.add_argument("--only", action="append", default=[], metavar="STEP")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not 1 <= args.jobs <= 8:
        p.error("--jobs must be 1..8")
    names = [s.name for s in STEPS]
    for n in args.only:
        if n not in names:
            p.error(f"no step {n} (steps: {' '.join(names)})")
    steps = [s for s in STEPS if not args.only or s.name in args.only]
    if args.only:
        done = {s.name for s in steps}
        steps = [Step(s.name, s.argv, s.want, s.uses, s.owns, tuple(a for a in s.after if a in done),
                      s.barrier) for s in steps]
    if os.geteuid() != 0:
        print("check: error: must run as root (apt-get, mmdebstrap, chroot)", file=sys.stderr)
        return 1
    out = os.path.abspath(args.out)
    # One make check per output directory: a second one would wipe the
    # first's logs and outputs while its steps read them.
    try:
        held = pipeline.lock(out + ".lock", wait=False)
    except pipeline.Locked:
        print("check: error: another check is running in %s (--out DIR for another)" % out,
              file=sys.stderr)
        return 1
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t0 = time.monotonic()
    print("KTAP version 1")
    print("1..%d" % len(steps), flush=True)
    runner = Runner(steps, out)
    runner.held = held          # the lock, for as long as the steps run

    def terminated(sig, frame):
        raise Terminated()
    signal.signal(signal.SIGTERM, terminated)
    try:
        schedule(steps, args.jobs, runner.start, runner.poll, runner.ended)
    except KeyboardInterrupt:
        # The steps run in groups of their own: Ctrl-C reaches them from here.
        runner.stop(signal.SIGINT)
        die_of_sigint()
    except Terminated:
        runner.stop(signal.SIGTERM)
        log("check: terminated")
        return 128 + signal.SIGTERM
    passed = sum(1 for s in steps if runner.results[s.name][0] == s.want)
    failed = len(steps) - passed
    print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0" % (passed, failed))
    print("# check: %.1f s (%d steps, %d at a time)" % (time.monotonic() - t0, len(steps), args.jobs))
    print("check: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


check_table(STEPS)
