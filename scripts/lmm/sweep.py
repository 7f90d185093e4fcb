#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Header mutants, one boot per lane: prove that broken lazy MMU helpers
turn the suite red.

The helpers are static inlines in the kernel headers, so the test module
built against a mutated copy of the headers carries the broken helper while
the kernel stays unchanged.  A mutant is a unified diff for `patch -p1` in
the header tree's root, first line "Mutant: <what it breaks>"; an "Arch:"
line among the next ones restricts it to those Debian architectures (one
for none of the selected lanes, e.g. "Arch: powerpc", is reported as SKIP).

Per lane: every mutant's module is built against the headers with the
mutant laid over them for that build alone (build-modules --patch), under
its own module name, on all cores, or taken from the build cache when
the mutant, the sources, the headers, the flags and the module name (the
mutant's place in the list) are unchanged (build-modules --cache, keyed
by their contents); then one
guest loads them one after another, each in a part of the console of its
own (scripts/ktap-verdict --split), between the unmutated module run first
(the baseline: it must pass, or no kill means anything) and again last
(the control: a mutant that left the kernel in a bad state makes it fail,
and then every mutant of that boot is run again in a boot of its own).  A
mutant is killed when one of its cases fails, or when the guest crashes or
hangs in its part while it ran first in its boot (so that no earlier
mutant can have caused it): a crash after other mutants splits the boot,
those before it boot again with a control, the crasher boots first with
the ones after it.

Output (OUT, default out/mutate-<date>-<time>): OUT/<lane>/boot-N/ per boot
(console, the parts' verdicts), OUT/<mutant>/<lane> -> its part, and on
stdout KTAP, one line per mutant ("ok" = killed).  Exit 0 only if every
mutant run was killed; 1 if one survived, did not apply or did not build,
or a baseline failed; 2 usage.

  sweep.py [--lane NAME]... [--kernel pin|VER] [--out DIR] [--timeout SEC]
           [--jobs N] [--boot-each] [--no-module-cache] MUTANT_OR_DIR...

--boot-each gives every mutant a boot of its own (baseline, mutant,
control): the reference the sweep's verdicts and times are compared with
(scripts/bench).  --no-module-cache builds every module even when an
unchanged build is cached (the benchmark's figure for a sweep after an
edit).
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lmm import lanes, pipeline  # noqa: E402
from lmm.cli import die_of_sigint, log, output_dir  # noqa: E402
from lmm.pipeline import StepError  # noqa: E402

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_LANES = ("amd64", "arm64")
BOOT_SECS = 90          # a guest's boot, plus one module's run (the --timeout default)
PART_SECS = 30          # each further module of a sweep
# A sweep's modules (baseline and mutants alike) carry no debug
# information, which the guest never reads (mkinitramfs strips it anyway),
# and so no BTF, which pahole would make of it.
SWEEP_MAKE_ARGS = ("KCFLAGS=-g0", "CONFIG_DEBUG_INFO_BTF_MODULES=")


@dataclass
class Mutant:
    path: str
    name: str           # file name without .patch
    what: str           # its "Mutant:" line
    arches: List[str]   # its "Arch:" line, empty: every arch
    index: int          # 1-based, in the order given: the module is lmm_m<index>

    @property
    def module(self) -> str:
        return "lmm_m%02d" % self.index

    def runs_on(self, *names: str) -> bool:
        """Whether it runs where NAMES (a Debian arch, the kernel's
        arch/ directory) are: its Arch: line may name either."""
        return not self.arches or any(n in self.arches for n in names)


@dataclass
class Result:
    status: str         # killed, survived, error
    detail: str = ""
    part: Optional[str] = None      # directory of its verdict

    def line(self) -> str:
        return "%s%s" % (self.status, " " + self.detail if self.detail else "")


class UsageError(Exception):
    pass


def read_mutant(path: str, index: int) -> Mutant:
    with open(path, errors="replace") as f:
        head = [next(f, "") for _ in range(10)]
    if not head[0].startswith("Mutant: "):
        raise UsageError("%s: first line must be 'Mutant: <what it breaks>'" % path)
    arches = []
    for line in head[1:]:
        if line.startswith("Arch: "):
            arches = line[len("Arch: "):].split()
            break
    name = os.path.basename(path)[:-len(".patch")]
    return Mutant(os.path.abspath(path), name, head[0][len("Mutant: "):].strip(), arches, index)


def collect(inputs: List[str]) -> List[Mutant]:
    """The mutant files: each file given, and the *.patch directly in each directory."""
    paths = []
    for i in inputs:
        if os.path.isdir(i):
            paths += sorted(os.path.join(i, f) for f in os.listdir(i) if f.endswith(".patch"))
        elif os.path.isfile(i) and i.endswith(".patch"):
            paths.append(i)
        else:
            raise UsageError("no such mutant file (*.patch) or directory: %s" % i)
    if not paths:
        raise UsageError("no *.patch mutant found in: %s" % " ".join(inputs))
    mutants = [read_mutant(p, n) for n, p in enumerate(paths, 1)]
    names = [m.name for m in mutants]
    for m in mutants:
        if names.count(m.name) > 1 or m.name in ("baseline", "control"):
            raise UsageError("%s: its name (%s) is taken: every mutant needs a file name of its own"
                             " (and not baseline or control)" % (m.path, m.name))
        if not re.match(r"^[A-Za-z0-9_.+-]+$", m.name):
            raise UsageError("%s: a mutant's file name may hold only letters, digits and _.+-" % m.path)
    return mutants


def failing_cases(results: dict, keep_lane: bool = False) -> List[str]:
    """This suite's failing cases, without the module's name and (unless
    keep_lane) the lane's."""
    out = []
    for c in results.get("cases", []):
        if c.get("status") != "fail":
            continue
        lane, *parts = c.get("name", "?").split(":")
        if parts and re.match(r"^(lmm_m\d+|lmm_base|lazy_mmu_test|kunit)$", parts[0]):
            parts = parts[1:]
            if parts and parts[0] == "lazy_mmu_nesting":
                parts = parts[1:]
        out.append(":".join(([lane] if keep_lane else []) + parts))
    return sorted(set(out))


class LaneSweep:
    """The mutants of one lane: builds, then boots until each has a result."""

    def __init__(self, lane: lanes.Lane, args, root: str, out: str):
        self.lane, self.args, self.root = lane, args, root
        self.dir = os.path.join(out, lane.name)
        self.out = out
        self.boots = 0
        self.results: Dict[str, Result] = {}
        self.modules: Dict[str, str] = {}       # mutant name (or baseline) -> module path
        self.marks: Dict[str, str] = {"baseline": "baseline", "control": "control"}
        self.kernel: Dict[str, str] = {}
        self.xen: Optional[str] = None
        self.secs = {"build": 0.0, "boot": 0.0}

    # -- builds
    def build(self, name: str, module: str, kdir: str, patch: Optional[str] = None) -> str:
        out = os.path.join(self.dir, "build", name)
        shutil.rmtree(out, ignore_errors=True)
        kos = pipeline.build_modules(kdir, out, ["LMM_MODNAME=" + module] + list(SWEEP_MAKE_ARGS),
                                     cache=not self.args.no_module_cache, patch=patch)
        ko = os.path.join(out, module + ".ko")
        if ko not in kos:
            raise StepError("build modules", "no %s.ko built" % module, os.path.join(out, "build.log"))
        return ko

    def build_mutant(self, m: Mutant) -> None:
        """The mutant's module, built against the header tree with the
        mutant applied for that build alone (build-modules --patch)."""
        try:
            self.modules[m.name] = self.build(m.name, m.module, self.kernel["KDIR"], patch=m.path)
            self.marks[m.name] = m.module
        except StepError as e:
            if e.rc == pipeline.PATCH_DOES_NOT_APPLY:
                plog = os.path.join(self.dir, "build", m.name, "patch.log")
                with open(plog, errors="replace") as f:
                    first = f.readline().strip()
                self.results[m.name] = Result("error", "does not apply: " + first)
            else:
                self.results[m.name] = Result("error", str(e))

    def prepare(self, mutants: List[Mutant], pool) -> None:
        t0 = time.monotonic()
        arch = self.lane.arch.name
        kernel = self.args.kernel
        if kernel == "pin":
            kernel = "pin:" + self.lane.kernel.name
        self.kernel = pipeline.fetch_kernel(arch, kernel, os.path.join(self.dir, "fetch-kernel.log"))
        if self.lane.xen:
            self.xen = pipeline.fetch_xen(self.lane.xen.name, os.path.join(self.dir, "fetch-xen.log"))
        base = pool.submit(self.build, "baseline", "lmm_base", self.kernel["KDIR"])
        jobs = [pool.submit(self.build_mutant, m) for m in mutants]
        self.modules["baseline"] = base.result()
        for j in jobs:
            j.result()
        self.secs["build"] = time.monotonic() - t0

    # -- boots
    def boot(self, names: List[str]) -> dict:
        """One guest: baseline, the mutants' modules, control.  Each part
        is marked with its module's name (lmm_mNN: always a valid, unique
        mark).  The parts' verdicts by mutant name, in console order."""
        self.boots += 1
        d = os.path.join(self.dir, "boot-%d" % self.boots)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        order = ["baseline"] + names + ["control"]
        entries = []
        for name in order:
            ko = self.modules["baseline" if name == "control" else name]
            module = ko + (":duration_ms=%d" % self.args.walk_ms if self.args.walk_ms else "")
            entries += [("mark", self.marks[name]), ("taskstate", ko), ("module", module)]
        initrd = pipeline.initramfs(self.lane.arch.name, os.path.join(d, "initrd.gz"), entries,
                                    os.path.join(d, "initramfs.log"))
        timeout = self.args.timeout + PART_SECS * (len(order) - 1)
        t0 = time.monotonic()
        status = pipeline.boot(self.lane.name, self.kernel["KIMAGE"], initrd,
                               os.path.join(d, "console.log"), timeout=timeout, xen=self.xen,
                               log=os.path.join(d, "boot.log"))
        self.secs["boot"] += time.monotonic() - t0
        with open(os.path.join(d, "qemu-status"), "w") as f:
            f.write(status + "\n")
        args = ["--lane", self.lane.name, "--console", os.path.join(d, "console.log"),
                "--qemu-status", status, "--split", os.path.join(d, "parts"), "--quiet"]
        if self.lane.mmu:
            args += ["--mmu", self.lane.mmu]
        pipeline.verdict(d, args, os.path.join(d, "verdict.log"))
        index = pipeline.read_json(os.path.join(d, "parts", "sweep.json"))
        by_mark = {self.marks[n]: n for n in order}
        parts = {}
        for p in index["parts"]:
            name = by_mark.get(p["name"], "?" + p["name"])
            pdir = os.path.join(d, "parts", p["name"])
            parts[name] = dict(p, dir=pdir, results=pipeline.read_json(os.path.join(pdir, "results.json")))
        return {"dir": d, "status": status, "parts": parts}

    def run(self, names: List[str], alone: bool = False) -> None:
        """Boot until every mutant has a result (alone: one boot each).

        A boot's results stand only if its control, the unmutated module
        run last, passed; otherwise each of its mutants boots alone.  A
        mutant whose part the guest died in is killed by that only when it
        ran first in its boot, so that no earlier mutant can have caused
        the crash: otherwise the mutants before it boot again as a group
        (with a control), and it boots first with the ones after it."""
        queue = [[n] for n in names] if alone else ([list(names)] if names else [])
        while queue:
            group = queue.pop(0)
            b = self.boot(group)
            parts = b["parts"]
            base = parts.get("baseline")
            if not base or not base["finished"] or base["verdict"] == "fail":
                why = "the unmutated module failed" if base else "the guest never reached it"
                fails = ", ".join(failing_cases(base["results"])) if base else b["status"]
                raise StepError("baseline (%s)" % self.lane.name,
                                "%s (%s; see %s): a red baseline makes every kill meaningless"
                                % (why, fails, b["dir"]))
            # The parts that ran, in the boot's order: a prefix of the group.
            seen = [n for n in parts if n not in ("baseline", "control")]
            ran = 0
            while ran < len(group) and ran < len(seen) and seen[ran] == group[ran]:
                ran += 1
            if ran < len(seen):
                # Parts the boot did not ask for, or out of order: trust none.
                raise StepError("sweep (%s)" % self.lane.name, "unexpected parts %s in %s"
                                % (", ".join(seen), b["dir"]))
            if ran == 0:
                for m in group:
                    self.results[m] = Result("error", "no part of the boot ran (%s, %s)"
                                             % (b["status"], b["dir"]))
                continue
            last = parts[group[ran - 1]] if ran else None
            if ran < len(group) or not last["finished"]:
                crashed = ran - 1 if last is not None and not last["finished"] else None
                if crashed == 0:
                    self.record(group[0], parts[group[0]], b["status"])
                    rest = group[1:]
                    if rest:
                        queue.insert(0, rest)
                    continue
                # Not attributable yet: split the boot in two.
                cut = crashed if crashed is not None else ran
                queue[:0] = [g for g in (group[:cut], group[cut:]) if g]
                continue
            control = parts.get("control")
            if len(group) > 1 and not (control and control["finished"] and control["verdict"] != "fail"):
                # Some mutant left the kernel in a state that fails the
                # unmutated module: no part of this boot is trusted.
                why = ", ".join(failing_cases(control["results"])) if control else "it did not run"
                log("%s: the control failed after %d mutants (%s): each again in a boot of its own"
                    % (self.lane.name, len(group), why))
                queue[:0] = [[m] for m in group]
                continue
            for m in group:
                self.record(m, parts[m], b["status"])

    def record(self, m: str, p: dict, status: str) -> None:
        if p["verdict"] == "fail":
            why = ", ".join(failing_cases(p["results"]))
            if not p["finished"]:
                why = "the guest did not finish its part (%s): %s" % (status, why)
            self.results[m] = Result("killed", why, p["dir"])
        else:
            self.results[m] = Result("survived", "(part verdict %s)" % p["verdict"], p["dir"])


def parse_args(argv):
    p = argparse.ArgumentParser(prog="mutate", allow_abbrev=False,
                                description=__doc__.split("\n\n")[0].replace("\n", " "),
                                epilog="--tree modes: see scripts/mutate --tree")
    p.add_argument("--lane", "--arch", action="append", dest="lanes", metavar="LANE",
                   help="lane to run on (repeatable; default: %s)" % " ".join(DEFAULT_LANES))
    p.add_argument("--kernel", default="pin", help="pin (default: each lane's pin), newest, 7.3, ...")
    p.add_argument("--out", help="output directory (default out/mutate-<date>-<time>)")
    p.add_argument("--timeout", type=int, default=BOOT_SECS,
                   help="hard limit of a boot with one mutant (default %d); each further "
                        "module adds %d s" % (BOOT_SECS, PART_SECS))
    p.add_argument("--boot-each", action="store_true",
                   help="one boot per mutant (the reference the sweep is measured against)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                   help="module builds in parallel (default: the number of CPUs)")
    p.add_argument("--no-module-cache", action="store_true",
                   help="build every module, even one whose build is cached unchanged")
    p.add_argument("--walk-ms", type=int, default=0, metavar="MS",
                   help="concurrent_walks' duration (duration_ms=) in every part (default: the "
                        "module's, 1000): a stress case, a second net behind every mutant's "
                        "deterministic killer (mutants/README.md)")
    p.add_argument("mutants", nargs="+", metavar="MUTANT_OR_DIR")
    args = p.parse_args(argv)
    if args.timeout < 1 or not 1 <= args.jobs <= 64:
        p.error("--timeout must be >= 1 and --jobs 1..64")
    if args.walk_ms and not 1 <= args.walk_ms <= pipeline.WALK_MS_MAX:
        p.error("--walk-ms must be 1..%d" % pipeline.WALK_MS_MAX)
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    try:
        table = lanes.load()
        chosen = [table.lane(n) for n in (args.lanes or DEFAULT_LANES)]
        for lane in chosen:
            if lane.kind != "debian":
                raise UsageError("lane %s: header mutants need a Debian prebuilt kernel" % lane.name)
        mutants = collect(args.mutants)
    except KeyError as e:
        print("mutate: %s" % e.args[0], file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, lanes.TableError) as e:
        print("mutate: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    if os.geteuid() != 0:
        print("mutate: error: must run as root (the build root is a chroot)", file=sys.stderr)
        return EXIT_FAIL
    out = output_dir(args.out, os.path.join(pipeline.TOP, "out", "mutate-%Y%m%d-%H%M%S"))
    log("output: %s" % out)
    pipeline.stop_steps_on_sigterm()
    root = None
    pool = concurrent.futures.ThreadPoolExecutor(args.jobs)
    try:
        root = pipeline.build_root()
        sweeps = [LaneSweep(lane, args, root, out) for lane in chosen]
        for s in sweeps:
            s.prepare([m for m in mutants if m.runs_on(s.lane.arch.name)], pool)
        log("builds: %d modules in %.1f s" % (sum(len(s.modules) for s in sweeps),
                                               time.monotonic() - t0))
        # The lanes' guests side by side (each QEMU is one process).
        runs = [pool.submit(s.run, [m.name for m in mutants
                                    if m.runs_on(s.lane.arch.name) and m.name in s.modules],
                            args.boot_each)
                for s in sweeps]
        for r in runs:
            r.result()
        pool.shutdown()
    except StepError as e:
        pool.shutdown(cancel_futures=True)
        print("mutate: error: %s" % e, file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        # Nothing queued starts any more; what runs has seen the signal.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    for s in sweeps:
        log("lane %s: %d boot(s), builds %.1f s, guests %.1f s"
            % (s.lane.name, s.boots, s.secs["build"], s.secs["boot"]))
    return report(mutants, sweeps, out, time.monotonic() - t0)


def report(mutants: List[Mutant], sweeps: List[LaneSweep], out: str, secs: float) -> int:
    print("KTAP version 1")
    print("1..%d" % len(mutants))
    killed = errors = skipped = 0
    data = {"lanes": [s.lane.name for s in sweeps], "boots": sum(s.boots for s in sweeps),
            "seconds": round(secs, 1), "mutants": []}
    for n, m in enumerate(mutants, 1):
        lines, k, e = [], False, False
        entry = {"name": m.name, "what": m.what, "lanes": {}}
        data["mutants"].append(entry)
        for s in sweeps:
            if not m.runs_on(s.lane.arch.name):
                continue
            r = s.results.get(m.name, Result("error", "no result"))
            entry["lanes"][s.lane.name] = {"status": r.status, "detail": r.detail, "part": r.part}
            lines.append("%s: %s" % (s.lane.name, r.line()))
            k, e = k or r.status == "killed", e or r.status == "error"
            if r.part:
                link = os.path.join(out, m.name, s.lane.name)
                os.makedirs(os.path.dirname(link), exist_ok=True)
                if os.path.lexists(link):
                    os.remove(link) if os.path.islink(link) else shutil.rmtree(link)
                os.symlink(os.path.relpath(r.part, os.path.dirname(link)), link)
        print("# %s: %s" % (m.name, m.what))
        entry["verdict"] = ("skip" if not lines else "error" if e else
                            "killed" if k else "survived")
        if not lines:
            skipped += 1
            print("ok %d %s # SKIP Arch: %s is not among %s"
                  % (n, m.name, " ".join(m.arches), " ".join(s.lane.arch.name for s in sweeps)))
            continue
        for line in lines:
            print("#   " + line)
        if e:
            errors += 1
            print("not ok %d %s # error: mutant did not apply or build" % (n, m.name))
        elif k:
            killed += 1
            print("ok %d %s" % (n, m.name))
        else:
            print("not ok %d %s # survived" % (n, m.name))
    total = len(mutants) - skipped
    data.update(killed=killed, total=total, errors=errors, skipped=skipped)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print("# killed %d/%d mutants (errors: %d, skipped: %d) on %s in %.1f s, %d boot(s)"
          % (killed, total, errors, skipped, " ".join(s.lane.name for s in sweeps), secs,
             sum(s.boots for s in sweeps)))
    print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0" % (killed, total - killed, skipped))
    return EXIT_PASS if killed == total else EXIT_FAIL


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The builds and guests saw Ctrl-C too (or SIGTERM was passed on)
        # and are gone, the header copies removed: die of SIGINT.
        die_of_sigint()
