# SPDX-License-Identifier: GPL-2.0-only
"""Mutants of a kunit.py build's kernel tree (scripts/mutate --tree BUILD),
each judged by this suite beside upstream's lazy_mmu_mode test.

A mutant goes into an overlay of the source tree mounted at the tree's own
path (scripts/in-overlay), so the tree itself never changes.  The build's
row of the lane table (lanes.json, "mutate") says how it is tested:

  modules   the kernel stays as scripts/kunit built it; the plain module
            (with its misuse cases: DEBUG_VM, exactly four warnings) and
            upstream's mm/tests/lazy_mmu_mode_kunit.c, built as a module
            with its suite renamed, are rebuilt against the mutated tree
            and boot on the build's kernel through its kunit-kmod lane
            (with --xen its Xen PV dom0 lane).  Only header code reaches
            them: this is for mutants of inline code, and needs an arch
            where a module can change kernel PTEs (x86_64, arm64).
  rebuild   the kernel itself is rebuilt per mutant (--rebuild, and always
            on powerpc, where a module cannot change kernel PTEs), in a
            copy of the build directory: every file any mutant of the run
            changes is touched in each overlay, so no object of another
            mutant survives, and only what they reach recompiles.  Then
            every lane of the build runs (--lane: those named; --xen: its
            Xen PV lanes too): the kunit.py boots with upstream's built-in
            suite beside ours, and the plain-module boots.  One mutant at
            a time, each timed.

A mutant with a "Series: NAME" header line is a diff against the tree
with series/NAME (an mbox or a directory of patches) applied first: the
series goes into the overlay before the mutant, and the baseline is the
series alone.  --series NAME applies it for a run of mutants that do not
need it (they apply either way); mutants naming another series are refused.

The unmutated tree runs first and must pass (--known-failures: a baseline
whose only failures are cases of a guest that completed is accepted, and
those cases are not counted as kills).  Output as the header sweep's: KTAP,
one line per mutant ("ok" = killed, by which cases; and whether upstream's
test killed it), OUT/results.json; exit 0 only if every mutant was killed.
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lmm import lanes, pipeline, sweep  # noqa: E402
from lmm.cli import Parser, log, start  # noqa: E402
from lmm.pipeline import StepError  # noqa: E402
from lmm.sweep import Mutant, Result  # noqa: E402

# The plain module's boot, as the kunit-kmod lanes boot it, with
# upstream's module run alone among the KUnit suites.
APPEND = "kunit.filter_glob=upstream_lazy_mmu_mode debug_pagealloc=on"
MISUSE_WARNINGS = 4
UPSTREAM_SUITES = ("lazy_mmu_mode", "upstream_lazy_mmu_mode")
IN_OVERLAY_NO_PATCH = 4     # scripts/in-overlay: the patch does not apply
SERIES_DIR = os.path.join(pipeline.TOP, "series")


def mutant_series(path: str) -> str:
    """A mutant's "Series:" header line ("" for none)."""
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                break
            if line.startswith("Series: "):
                return line[len("Series: "):].strip()
    return ""


def series_patches(name: str) -> List[str]:
    """The patch files of series/NAME, in order."""
    path = os.path.join(SERIES_DIR, name)
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".patch"))
    else:
        files = [path] if os.path.isfile(path) else []
    if not files:
        raise sweep.UsageError("no such series: series/%s" % name)
    return files


def combined(patches: Sequence[str], out: str) -> str:
    """PATCHES one after another in the file OUT (patch -p1 applies each
    diff of it in turn); OUT."""
    with open(out, "w") as f:
        for p in patches:
            with open(p, errors="replace") as g:
                f.write(g.read().rstrip("\n") + "\n\n")
    return out


def upstream(case: dict) -> bool:
    return case.get("suite") in UPSTREAM_SUITES


def judge(results: dict, known: Sequence[str] = (), keep_lane: bool = False) -> Result:
    """A run's result: killed by which of this suite's cases (without
    the KNOWN ones; keep_lane: named with their lane), and what
    upstream's test did."""
    cases = results.get("cases", [])
    up = [c for c in cases if upstream(c)]
    if any(c.get("status") == "fail" for c in up):
        what = "upstream killed it"
    elif up:
        what = "upstream missed it"
    else:
        what = "upstream did not run"
    ours = [c for c in sweep.failing_cases({"cases": [c for c in cases if not upstream(c)]},
                                           keep_lane) if c not in known]
    if ours:
        return Result("killed", "%s; %s" % (", ".join(ours), what))
    return Result("survived", "; " + what)


def line(r: Result) -> str:
    return r.status + (" " if r.status != "survived" else "") + r.detail


class Harness:
    def __init__(self, args, table: lanes.Table, build: lanes.Build, out: str):
        self.args, self.table, self.build, self.out = args, table, build, out
        self.native = lanes.host_arch() == build.arch.name
        self.base = base = args.build or os.path.join(pipeline.cache_dir(), "kunit-build")
        self.bdir = os.path.abspath(os.path.join(base, build.name))
        # The tree that build was made from (kunit.py's build directory
        # links it): under scripts/gate, the series' tree mounted there.
        src = os.path.join(self.bdir, "source")
        if not os.path.islink(src):
            raise StepError("mutate --tree", "no kunit.py build for %s in %s: run scripts/kunit "
                            "--arch %s first" % (build.name, base, build.name))
        self.ksrc = os.path.realpath(src)
        self.known: List[str] = []
        self.boots = 0
        self.series = series_patches(args.series) if args.series else []
        self.seconds: dict = {}

    def patch_of(self, m: Optional[Mutant], d: str) -> str:
        """What goes into the overlay for M (None: the baseline): the
        run's series, then the mutant (together in the file D); "-" for
        nothing."""
        patches = list(self.series) + ([m.path] if m else [])
        if not patches:
            return "-"
        if len(patches) == 1:
            return patches[0]
        os.makedirs(os.path.dirname(d), exist_ok=True)
        return combined(patches, d)

    def overlay(self, m: Optional[Mutant], d: str, touch: Sequence[str] = (),
                bind: Sequence[str] = ()) -> List[str]:
        argv = [pipeline.script("in-overlay"), self.ksrc, d, self.patch_of(m, d + ".patch")]
        for f in touch:
            argv += ["--touch", f]
        if bind:
            argv += ["--bind"] + list(bind)
        return argv + ["--"]


class Modules(Harness):
    """Modules rebuilt against the unchanged kernel, booted on it."""

    def __init__(self, *a):
        super().__init__(*a)
        kmods = [l for l in self.table.build_lanes(self.build.name, xen=True)
                 if l.kind == "kunit-kmod" and bool(l.xen) == self.args.xen]
        if not kmods:
            raise sweep.UsageError("build %s has no %splain-module lane" %
                                   (self.build.name, "Xen " if self.args.xen else ""))
        self.lane = kmods[0]
        self.image = os.path.join(self.bdir, self.build.arch.kunit.image)
        if not (os.path.isfile(self.image) and os.path.isfile(os.path.join(self.bdir, "Module.symvers"))):
            raise StepError("mutate --tree", "no kunit.py build for %s: run scripts/kunit --arch %s first"
                            % (self.build.name, self.build.name))
        self.xen = pipeline.fetch_xen(self.lane.xen.name) if self.lane.xen else None
        self.upsrc = upstream_source(self.ksrc, os.path.join(self.out, "upstream-src"))

    def where(self) -> str:
        return "the kunit.py debug kernel of %s (lane %s)" % (self.build.name, self.lane.name)

    def one(self, m: Optional[Mutant], d: str) -> Result:
        fresh(d)
        make = self.build.toolchain(self.native)[1]
        ovl = os.path.join(d, "ovl")
        try:
            # The mutant is applied by the first build; the second sees
            # the same overlay (its changes stay in ovl/u).
            # Keyed by the headers as the mutant leaves them (build-modules
            # --cache, in the overlay's view): an unchanged mutant is not
            # built again.
            pipeline.build_modules(self.bdir, os.path.join(d, "build"), make, cache=True,
                                   wrap=self.overlay(m, ovl) if m else ())
            pipeline.build_modules(self.bdir, os.path.join(d, "upstream"), make, src=self.upsrc,
                                   cache=True, wrap=self.overlay(None, ovl) if m else ())
        except StepError as e:
            if e.rc == IN_OVERLAY_NO_PATCH:
                return Result("error", "does not apply (%s)" % os.path.join(ovl, "patch.log"))
            return Result("error", "build failed (log: %s)" % e.log)
        finally:
            drop_overlay(ovl)
        ko = os.path.join(d, "build", "lazy_mmu_test.ko")
        up = os.path.join(d, "upstream", "upstream_lazy_mmu_mode_kunit.ko")
        try:
            initrd = pipeline.initramfs(self.build.arch.name, os.path.join(d, "initrd.gz"),
                                        [("taskstate", ko), ("module", ko + ":misuse=1"),
                                         ("module", up)], log=os.path.join(d, "initramfs.log"))
            console = os.path.join(d, "console.log")
            self.boots += 1
            status = pipeline.boot(self.lane.name, self.image, initrd, console,
                                   append="%s %s" % (APPEND, self.build.arch.kunit.exit_arg),
                                   timeout=self.args.timeout or self.lane.timeout or 300,
                                   xen=self.xen, log=os.path.join(d, "boot.log"))
            pipeline.verdict(d, ["--lane", self.lane.name, "--console", console, "--outdir", d,
                                 "--allow-warnings", str(MISUSE_WARNINGS), "--qemu-status", status,
                                 "--quiet"])
            return judge(pipeline.read_json(os.path.join(d, "results.json")), self.known)
        except (StepError, OSError, ValueError) as e:
            return Result("error", str(e))


class Rebuild(Harness):
    """The kernel rebuilt per mutant, all the build's kunit lanes run."""

    seeded = False      # nothing built in the mutants' build directory since it was seeded

    def __init__(self, *a):
        super().__init__(*a)
        if not os.path.isfile(os.path.join(self.bdir, ".config")):
            raise StepError("mutate --tree", "no kunit.py build for %s: run scripts/kunit --arch %s first"
                            % (self.build.name, self.build.name))
        # The mutants' build directory, seeded from the lane's on every
        # run (cp -a keeps the mtimes: only what the touched files reach
        # is rebuilt), so no object of an earlier run's mutant, nor of
        # another tree (under scripts/gate), survives.
        # Each run shows the copy at the lane's own path (in-overlay
        # --bind), as the gate shows a series' build: kbuild records
        # paths, and at another path it rebuilds objtool and every
        # object whose command names one, and relinks.
        self.mbd = os.path.abspath(self.base).rstrip("/") + "-mutants"
        shutil.rmtree(os.path.join(self.mbd, self.build.name), ignore_errors=True)
        os.makedirs(self.mbd, exist_ok=True)
        # Under the lane's lock: never a copy of a build half done.
        with pipeline.lock(self.bdir + ".lock", why="a kunit.py build of %s" % self.build.name):
            subprocess.run(["cp", "-a", "--reflink=auto", self.bdir, self.mbd + "/"], check=True)
        # Nothing built there since: the baseline, first, needs no file
        # touched (the objects are the lane's, of the unmutated tree),
        # so its build is make's no-op.
        self.seeded = True
        # The plain-module lanes load upstream's test too (as a module:
        # with their KUnit suites off, the built-in one does not run).
        self.upsrc = upstream_source(self.ksrc, os.path.join(self.out, "upstream-src"))
        self.touch = sorted({f for p in [m.path for m in self.args.mutants] + self.series
                             for f in touched(p)})

    def where(self) -> str:
        return "the kunit.py kernel of %s, rebuilt per mutant" % self.build.name

    def one(self, m: Optional[Mutant], d: str) -> Result:
        ovl = d + ".ovl"
        fresh(d, ovl)
        touch = () if m is None and self.seeded else self.touch
        self.seeded = False
        argv = self.overlay(m, ovl, touch, bind=(os.path.join(self.mbd, self.build.name), self.bdir))
        argv += [pipeline.script("kunit")] + (self.args.lane or ["--arch", self.build.name])
        argv += (["--xen"] if self.args.xen and not self.args.lane else []) + [
            "--kernel", self.ksrc, "--build", os.path.dirname(self.bdir), "--out", d,
            "--kmod-upstream", self.upsrc]
        if self.args.timeout:
            argv += ["--timeout", str(self.args.timeout)]
        t0 = time.monotonic()
        try:
            rc = pipeline._run("kunit (%s)" % (m.name if m else "baseline"), argv,
                               ok=None, output=d + ".log")[0]
        finally:
            drop_overlay(ovl)
        self.seconds[m.name if m else "baseline"] = round(time.monotonic() - t0, 1)
        self.boots += 1
        if rc == IN_OVERLAY_NO_PATCH:
            return Result("error", "does not apply (%s)" % os.path.join(ovl, "patch.log"))
        try:
            results = pipeline.read_json(os.path.join(d, "results.json"))
        except (OSError, ValueError):
            return Result("error", "the kernel did not build or boot (log: %s.log)" % d)
        if not any(upstream(c) for c in results.get("cases", [])):
            return Result("error", "the kernel did not build or boot (log: %s.log)" % d)
        return judge(results, self.known, keep_lane=True)


def upstream_source(ksrc: str, d: str) -> str:
    """Upstream's test (KSRC's mm/tests/lazy_mmu_mode_kunit.c) as a
    module source in D, its suite renamed so that the kernel's built-in
    copy stays out of the run; D."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(ksrc, "mm", "tests", "lazy_mmu_mode_kunit.c")) as f:
        text = f.read()
    renamed = text.replace('.name = "lazy_mmu_mode"', '.name = "upstream_lazy_mmu_mode"')
    if renamed == text:
        raise StepError("mutate --tree", "cannot rename upstream's suite in %s/mm/tests/"
                        "lazy_mmu_mode_kunit.c" % ksrc)
    with open(os.path.join(d, "upstream_lazy_mmu_mode_kunit.c"), "w") as f:
        f.write(renamed)
    with open(os.path.join(d, "Kbuild"), "w") as f:
        f.write("obj-m += upstream_lazy_mmu_mode_kunit.o\n")
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write("all:\n\t$(MAKE) -C $(KDIR) M=$(CURDIR) modules\n")
    return d


def fresh(d: str, *also: str) -> None:
    """D (and ALSO) emptied, D made: nothing of an earlier run in the same
    output directory (a killed one's results.json, its overlay with the
    series applied) is read as this run's."""
    for x in (d,) + also:
        shutil.rmtree(x, ignore_errors=True)
    os.makedirs(d)


def drop_overlay(d: str) -> None:
    """An overlay's changes and work directory (its patch.log stays)."""
    for sub in ("u", "w"):
        shutil.rmtree(os.path.join(d, sub), ignore_errors=True)


def touched(patch: str) -> List[str]:
    """The files a patch changes (its +++ b/ lines)."""
    out = []
    with open(patch, errors="replace") as f:
        for line in f:
            if line.startswith("+++ b/"):
                out.append(line[len("+++ b/"):].split()[0])
    return out


def parse_args(argv, table: lanes.Table):
    p = Parser(prog="mutate --tree", allow_abbrev=False,
               description="Mutants of a kunit.py build's kernel tree (see scripts/mutate --help).")
    p.add_argument("--tree", required=True, help="a kunit.py build of the lane table")
    p.add_argument("--rebuild", action="store_true", help="rebuild the kernel per mutant")
    p.add_argument("--xen", action="store_true", help="boot the build's Xen PV dom0 lane")
    p.add_argument("--known-failures", action="store_true")
    p.add_argument("--series", default="", help="with --rebuild: apply series/NAME first")
    p.add_argument("--lane", action="append", default=[],
                   help="with --rebuild: only this lane of the build (repeatable)")
    p.add_argument("--build", default="", help="kunit.py build directories (as scripts/kunit --build)")
    p.add_argument("--out", default="")
    p.add_argument("--timeout", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("inputs", nargs="+", metavar="MUTANT_OR_DIR")
    args = p.parse_args(argv)
    if args.tree not in table.builds:
        p.error("bad --tree: %s (builds: %s)" % (args.tree, ", ".join(table.builds)))
    if not 1 <= args.jobs <= 9:
        p.error("bad --jobs: %d" % args.jobs)
    if args.timeout < 0:
        p.error("bad --timeout: %d" % args.timeout)
    build = table.build(args.tree)
    args.mode = "rebuild" if args.rebuild or build.mutate == "rebuild" else "modules"
    if args.lane and args.mode != "rebuild":
        p.error("--lane needs --rebuild (the modules mode boots the build's plain-module lane)")
    for name in args.lane:
        try:
            lane = table.lane(name)
        except KeyError as e:
            p.error(e.args[0])
        if not lane.is_kunit or lane.build.name != args.tree:
            p.error("--lane %s: not a lane of build %s" % (name, args.tree))
    try:
        args.mutants = sweep.collect(args.inputs)
        names = sorted({mutant_series(m.path) for m in args.mutants} - {""})
        if args.series:
            names = sorted(set(names) | {args.series})
        if len(names) > 1:
            raise sweep.UsageError("mutants of different series in one run: %s" % ", ".join(names))
        args.series = names[0] if names else ""
        if args.series:
            series_patches(args.series)
    except sweep.UsageError as e:
        p.error(str(e))
    if args.series and args.mode != "rebuild":
        p.error("mutants of series/%s need --rebuild (the series changes the kernel)" % args.series)
    return args


def main(argv=None) -> int:
    t0 = time.monotonic()
    started = start("mutate", parse_args, argv, os.path.join(pipeline.TOP, "out", "mutate-%Y%m%d-%H%M%S"))
    if isinstance(started, int):
        return started
    table, args, out = started
    build = table.build(args.tree)
    try:
        pipeline.build_root()
        cls = Rebuild if args.mode == "rebuild" else Modules
        h = cls(args, table, build, out)
    except (StepError, sweep.UsageError, subprocess.CalledProcessError) as e:
        print("mutate: error: %s" % e, file=sys.stderr)
        return 1
    tb = time.monotonic()
    base = h.one(None, os.path.join(out, "baseline-tree"))
    if (args.known_failures and base.status == "killed" and
            os.path.exists(os.path.join(out, "baseline-tree", "results.json"))):
        res = pipeline.read_json(os.path.join(out, "baseline-tree", "results.json"))
        done = [c for c in res.get("cases", [])
                if c.get("module") == "guest" and c.get("case") == "completed"]
        completed = bool(done) and all(c.get("status") == "pass" for c in done)
        if completed:
            keep = args.mode == "rebuild"
            h.known = [c for c in sweep.failing_cases(
                {"cases": [c for c in res["cases"] if not upstream(c)]}, keep)]
            log("baseline: known failures, not counted as kills: %s" % " ".join(h.known))
            base = judge(res, h.known, keep_lane=keep)
    if line(base) != "survived; upstream missed it":
        print("mutate: error: the baseline on %s failed (%s; see %s): a red baseline makes every "
              "kill meaningless" % (h.where(), line(base), os.path.join(out, "baseline-tree")),
              file=sys.stderr)
        return 1
    log("baseline: passed, upstream's test passed (%.1f s)%s" % (
        time.monotonic() - tb, " on series/%s" % args.series if args.series else ""))
    # "Arch: powerpc" (the kernel's arch/ directory) runs on the ppc64el builds.
    runs = [m for m in args.mutants if m.runs_on(build.arch.name, build.arch.kunit.srcarch)]
    results = {}
    jobs = args.jobs if args.mode == "modules" else 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {m.name: pool.submit(h.one, m, os.path.join(out, m.name, build.name)) for m in runs}
        try:
            for name, f in futures.items():
                results[name] = f.result()
                secs = h.seconds.get(name)
                log("%s: %s%s" % (name, line(results[name]), " (%.0f s)" % secs if secs else ""))
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return report(args.mutants, build, results, out, h, time.monotonic() - t0)


def report(mutants: List[Mutant], build: lanes.Build, results, out: str, h: Harness,
           secs: float) -> int:
    print("KTAP version 1")
    print("1..%d" % len(mutants))
    killed = errors = skipped = up = 0
    data = {"build": build.name, "mode": h.args.mode, "boots": h.boots,
            "seconds": round(secs, 1), "series": h.args.series, "lanes": h.args.lane,
            "baseline_seconds": h.seconds.get("baseline"), "mutants": []}
    for n, m in enumerate(mutants, 1):
        print("# %s: %s" % (m.name, m.what))
        r = results.get(m.name)
        entry = {"name": m.name, "what": m.what}
        data["mutants"].append(entry)
        if r is None:
            skipped += 1
            entry["verdict"] = "skip"
            print("ok %d %s # SKIP Arch: %s is not %s" % (n, m.name, " ".join(m.arches), build.arch.name))
            continue
        entry.update(verdict=r.status, detail=r.detail)
        if m.name in h.seconds:
            entry["seconds"] = h.seconds[m.name]
        print("#   %s: %s%s" % (build.name, line(r), " (%.0f s to rebuild and boot)" % h.seconds[m.name]
                                 if m.name in h.seconds else ""))
        up += r.detail.endswith("upstream killed it")
        if r.status == "error":
            errors += 1
            print("not ok %d %s # error: %s" % (n, m.name, r.detail))
        elif r.status == "killed":
            killed += 1
            print("ok %d %s" % (n, m.name))
        else:
            print("not ok %d %s # survived" % (n, m.name))
    total = len(mutants) - skipped
    data.update(killed=killed, total=total, errors=errors, skipped=skipped, upstream_killed=up)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print("# killed %d/%d mutants (errors: %d, skipped: %d) on %s in %.0f s"
          % (killed, total, errors, skipped, h.where(), secs))
    print("# side by side: this suite killed %d/%d, upstream's lazy_mmu_mode test killed %d/%d"
          % (killed, total, up, total))
    print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0" % (killed, total - killed, skipped))
    return 0 if killed == total else 1
