# SPDX-License-Identifier: GPL-2.0-only
"""The kunit.py lanes (scripts/kunit): a debug kernel built from Debian's
linux-source-7.x (or your own tree) with the suite grafted in, run by the
kernel's own tools/testing/kunit/kunit.py under QEMU/TCG together with
upstream's lazy_mmu_mode suite; then the same kernel booting the plain
module (kmod/) from an initramfs through the VM runner.

Which lanes there are, and everything about them, is the lane table's
(lanes.json): a lane of kind kunit is one kunit.py boot of a build, a
lane of kind kunit-kmod one boot of that build's kernel with the plain
module.  The lanes of one build share its kernel: the first kunit lane
builds it (kunit.py run), the others boot it again (kunit.py exec); the
kunit-kmod lanes share one module build and one initramfs.

kunit.py lanes opt in to the misuse cases (lazy_mmu_nesting_kunit.misuse=1):
exactly four VM_WARN_ON_ONCE warnings are expected, no more, no fewer.

Exit 0 all passed, 1 a failure, 4 everything skipped, 2 usage error.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from lmm import lanes, pipeline, qemu, report
from lmm.cli import Parser, log, start
from lmm.pipeline import StepError, stage

# The plain module's boots: built-in KUnit suites off, every linear-map
# path on, the guest ends as the arch's kunit entry says (lmm.exit=,
# lanes.KUNIT_EXITS; pipeline.APPEND adds KFENCE).
KMOD_APPEND = "kunit.enable=0 debug_pagealloc=on"
# With --kmod-upstream: upstream's test as a module beside ours (its suite
# renamed, so that the built-in copy stays out of the run), the only
# KUnit suite that runs.
UPSTREAM_SUITE = "upstream_lazy_mmu_mode"
KMOD_UPSTREAM_APPEND = "kunit.filter_glob=%s debug_pagealloc=on" % UPSTREAM_SUITE
# kunit.py's boots: the same paths (printk.time=1: the case times of the reports).
KUNIT_KERNEL_ARGS = ("debug_pagealloc=on", "kfence.sample_interval=1", "printk.time=1")
MISUSE_ARG = "lazy_mmu_nesting_kunit.misuse=1"
MISUSE_WARNINGS = 4
KUNIT_TIMEOUT = 600
KMOD_TIMEOUT = 300
SMP = 2
# Inside the build root, first on kunit.py's PATH (pipeline.KUNIT_PATH).
WRAP_DIR = "/usr/local/lmm-qemu"

USAGE = """\
kunit [options] [LANE ...] [-- KUNIT_PY_ARGS...]
  LANE          a kunit or kunit-kmod lane of the lane table (scripts/lanes);
                default: those marked default there:
                {default}
  --arch BUILD  every lane of the build BUILD: {builds}
                (--arch powerpc: hash on POWER8 and POWER9, radix, from one kernel)
  --xen         with --arch or the defaults: the build's Xen PV dom0 lanes too
  --kernel K    which kernel: pin (default: Debian's linux-source as the
                lane table pins it), a linux-source series (7.2, 7.3,
                newest), or a kernel tree of your own (a directory) to
                graft into and build (--ksrc TREE and --series S: the same)
  --build DIR   kunit.py build directories under DIR/<build> (default
                $LMM_CACHE/kunit-build; another one for another tree)
  --out DIR     output directory (default out/kunit-<date>-<time>)
  --no-misuse   do not run the misuse cases (no warning expected then)
  --timeout SEC each boot's limit (default: the lane's, else kunit.py
                {ktimeout} s, a plain-module boot {mtimeout} s)
  --kmod-upstream DIR
                the plain-module lanes also build the module source DIR
                (upstream's lazy_mmu_mode test, its suite renamed
                {upstream}: scripts/mutate --tree --rebuild writes it)
                and load it after ours
"""


def usage(table: lanes.Table) -> str:
    return USAGE.format(default=" ".join(l.name for l in table.default_lanes(lanes.KUNIT_KINDS)),
                        builds=", ".join(table.builds), upstream=UPSTREAM_SUITE,
                        ktimeout=KUNIT_TIMEOUT, mtimeout=KMOD_TIMEOUT)


def parse_args(argv: List[str], table: lanes.Table):
    extra: List[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = Parser(prog="kunit", usage=usage(table), add_help=False, allow_abbrev=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--arch", action="append", default=[])
    p.add_argument("--xen", action="store_true")
    p.add_argument("--kernel", default="pin")
    p.add_argument("--ksrc", default="")
    p.add_argument("--series", default="")
    p.add_argument("--build", default="")
    p.add_argument("--out", default="")
    p.add_argument("--no-misuse", action="store_true")
    p.add_argument("--kmod-upstream", default="")
    p.add_argument("--timeout", type=int, default=0)
    p.add_argument("lanes", nargs="*")
    args = p.parse_args(argv)
    if args.help:
        sys.stdout.write("usage: " + usage(table))
        sys.exit(0)
    args.extra = extra
    # One spelling of "which kernel": --kernel; --ksrc and --series are
    # its older names.
    if args.kernel != "pin":
        if args.ksrc or args.series:
            p.error("--kernel and --ksrc/--series: give one")
        if os.path.isdir(args.kernel):
            args.ksrc = args.kernel
        elif re.match(r"^([0-9]+\.[0-9]+|newest)$", args.kernel):
            args.series = args.kernel
        else:
            p.error("--kernel: not a directory, a series (7.3) nor newest: %s" % args.kernel)
    if args.ksrc and args.series:
        p.error("--ksrc and --series: give one")
    if args.kmod_upstream and not os.path.isfile(os.path.join(args.kmod_upstream, "Kbuild")):
        p.error("--kmod-upstream: no module source (Kbuild) in %s" % args.kmod_upstream)
    if args.timeout < 0:
        p.error("bad --timeout: %d" % args.timeout)
    chosen: List[lanes.Lane] = []
    for name in args.lanes:
        try:
            lane = table.lane(name)
        except KeyError as e:
            p.error(e.args[0])
        if not lane.is_kunit:
            p.error("lane %s is a %s lane: scripts/run runs it" % (name, lane.kind))
        chosen.append(lane)
    for build in args.arch:
        if build not in table.builds:
            p.error("bad --arch: %s (builds: %s)" % (build, ", ".join(table.builds)))
        chosen += table.build_lanes(build, xen=args.xen)
    if not args.lanes and not args.arch:
        chosen = table.default_lanes(lanes.KUNIT_KINDS)
        if args.xen:
            for b in dict.fromkeys(l.build.name for l in chosen):
                chosen += [l for l in table.build_lanes(b, xen=True) if l.xen]
    # Table order, each once: a build's kunit lanes come before the
    # lanes that boot its kernel.
    names = {l.name for l in chosen}
    args.chosen = [l for l in table.lanes if l.name in names]
    if not args.chosen:
        p.error("no lane chosen")
    return args


def tcg_wrappers(root: str, table: lanes.Table) -> None:
    """kunit.py always asks QEMU for KVM first; KVM is unusable on these
    machines, so the QEMU it finds (first on PATH) drops the kvm/hvf
    accelerators."""
    d = root + WRAP_DIR
    os.makedirs(d, exist_ok=True)
    for q in sorted({a.qemu for a in table.arches.values() if a.kunit}):
        text = ("#!/bin/sh\n"
                "# Written by lazy-mmu-tests scripts/kunit: run under TCG only.\n"
                "prev=\n"
                "for a in \"$@\"; do\n"
                "\tshift\n"
                "\tcase $a in kvm|hvf) [ \"$prev\" = -accel ] && { prev=; continue; } ;; esac\n"
                "\t[ \"$a\" = -accel ] && { prev=-accel; continue; }\n"
                "\t[ -n \"$prev\" ] && set -- \"$@\" -accel\n"
                "\tprev=\n"
                "\tset -- \"$@\" \"$a\"\n"
                "done\n"
                "exec /usr/bin/%s \"$@\"\n" % q)
        path = os.path.join(d, q)
        try:
            with open(path) as f:
                if f.read() == text:
                    continue        # as it is: never rewritten under a running kunit.py
        except OSError:
            pass
        # A temporary name of its own: two runs writing at once never
        # share (and rename) one half-written file.
        fd, tmp = tempfile.mkstemp(prefix="." + q + ".", dir=d)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)


def kunit_console(kunit_log: str, console: str, mmu: str) -> None:
    """The project's console of a kunit.py boot: the kernel's part of the
    raw log between the runner's markers, as a VM runner guest prints it;
    LMM-DONE when KUnit's closing line is there (the kernel ran every
    suite to the end); the MMU that ran, named from the kernel log as the
    VM runner's guest does from /proc/cpuinfo (case guest:mmu)."""
    with open(kunit_log, "rb") as f:
        data = f.read(qemu.CONSOLE_LIMIT + 1)
    over = len(data) > qemu.CONSOLE_LIMIT
    lines = data[:qemu.CONSOLE_LIMIT].decode("utf-8", errors="replace").splitlines()
    start = next((i for i, l in enumerate(lines)
                  if l.startswith("[") and "] Starting KUnit Kernel" in l), None)
    body = lines[start:] if start is not None else []
    if over:        # bounded as scripts/boot bounds a console; never complete
        body = body[:-1] + ["LMM-RUNNER-ERROR kunit.py's log passed %d MiB: the rest was not read"
                            % (qemu.CONSOLE_LIMIT >> 20)]
    out = ["LMM-BEGIN kunit"] + body + ["LMM-END kunit rc=0"]
    text = [report.unstamp(l) for l in body]     # the boots run with printk.time=1
    if not over and any(l.startswith("# Totals: ") for l in text):
        out.append("LMM-DONE")
    if mmu:
        if any("hash-mmu: Initializing hash mmu" in l for l in text):
            out.append("LMM: MMU: Hash")
        if any(l.startswith("radix-mmu: ") for l in text):
            out.append("LMM: MMU: Radix")
    with open(console, "w") as f:
        f.write("\n".join(out) + "\n")


def boot_warnings(console: str, warning: str) -> int:
    """How often WARNING appears before the first KTAP line."""
    n = 0
    with open(console, errors="replace") as f:
        for line in f:
            if "KTAP version" in line:
                break
            n += warning in line
    return n


class Runner:
    def __init__(self, args, table: lanes.Table, out: str, ksrc: str, source: Dict[str, str]):
        """source: the checkout's facts for reports (checkout_facts)."""
        self.args, self.table, self.out, self.ksrc = args, table, out, ksrc
        self.source = source
        self.dirs: List[str] = []
        self.broken = False         # a lane that yields no verdict of its own
        self.native = lanes.host_arch()

    def lane_dir(self, lane: lanes.Lane) -> str:
        d = os.path.join(self.out, lane.name)
        # No result of an earlier run survives in a reused directory.
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.dirs.append(d)
        return d

    def verdict(self, lane: lanes.Lane, d: str, status: str, allow: Optional[int] = None) -> int:
        vargs = ["--lane", lane.name, "--console", os.path.join(d, "console.log"),
                 "--outdir", d, "--qemu-status", status]
        if lane.mmu:
            vargs += ["--mmu", lane.mmu]
        if allow is not None:
            vargs += ["--allow-warnings", str(allow)]
        facts = dict(lane.report_facts(SMP), **self.source)
        if lane.build:
            facts["config_name"] = " + ".join(["kunit/.kunitconfig"] + ["kunit/" + k for k in lane.build.kunitconfig]
                                              + list(lane.build.kconfig_add))
            facts["compiler"] = pipeline.config_value(os.path.join(self.build_dir(lane.build), ".config"),
                                                      "CONFIG_CC_VERSION_TEXT")
        vargs += pipeline.meta_args(facts)
        rc, text = pipeline.verdict(self.out, vargs)
        with open(os.path.join(d, "verdict.txt"), "w") as f:
            f.write(text)
        return rc

    def lane_error(self, lane: lanes.Lane, why: str, fresh: bool = True) -> None:
        """LANE could not run (fresh) or broke after it started: a
        failing verdict saying why, beside whatever console it has."""
        d = os.path.join(self.out, lane.name)
        if fresh or d not in self.dirs:
            d = self.lane_dir(lane)
        with open(os.path.join(d, "console.log"), "a") as f:
            f.write("LMM-RUNNER-ERROR lane %s: %s\n" % (lane.name, why))
        self.broken = True
        self.verdict(lane, d, "error:setup")

    def build_dir(self, build: lanes.Build) -> str:
        base = self.args.build or os.path.join(pipeline.cache_dir(), "kunit-build")
        d = os.path.abspath(os.path.join(base, build.name))
        os.makedirs(d, exist_ok=True)
        return d

    def kunit_py(self, lane: lanes.Lane, build: lanes.Build, bdir: str, sub: str, d: str) -> int:
        """One kunit.py SUB (run, exec or build) in the build root; in the
        sandbox it writes BDIR and its JSON (then taken into D) only."""
        jdir = pipeline.sandbox_dir(os.path.join(d, ".sandbox-kunit")) if pipeline.sandboxed() else ""
        argv = [sub, "--build_dir=" + bdir, "--kunitconfig=" + os.path.join(pipeline.TOP, "kunit")]
        argv += ["--kunitconfig=" + os.path.join(pipeline.TOP, "kunit", k) for k in build.kunitconfig]
        argv += build.toolchain(self.native == build.arch.name)[0]
        if sub != "build":
            qemu = "-smp %d" % lane.arch.cpus(SMP) + (" -cpu %s" % lane.cpu if lane.cpu else "")
            if lane.machine:
                qemu += " -M %s" % lane.machine
            argv += ["--qemu_args=" + qemu, "--timeout=%d" % (self.args.timeout or lane.timeout or KUNIT_TIMEOUT),
                     "--raw_output=all"]
            argv += ["--kernel_args=" + a for a in KUNIT_KERNEL_ARGS + tuple(lane.append.split())]
            if not self.args.no_misuse:
                argv.append("--kernel_args=" + MISUSE_ARG)
            argv.append("--json=" + os.path.join(jdir or d, "kunit.json"))
        if sub in ("run", "build"):
            argv.append("--jobs=%d" % os.cpu_count())
            argv += ["--kconfig_add=" + k for k in build.kconfig_add]
        if sub != "build":
            argv += self.args.extra
        with open(os.path.join(d, "kunit.cmd"), "w") as f:
            f.write("cd %s && tools/testing/kunit/kunit.py %s\n" % (shlex.quote(self.ksrc), shlex.join(argv)))
        log("kunit.py %s: %s" % (lane.name, " ".join([sub] + argv[1:])))
        t0 = time.monotonic()
        try:
            rc = pipeline.kunit_tool(self.ksrc, argv, (self.out, bdir), os.path.join(d, "kunit.log"),
                                     rw=(bdir, jdir) if jdir else (), suite=pipeline.suite_copy(bdir))
        finally:
            if jdir:
                pipeline.take_outputs(jdir, d)
        log("kunit.py %s: exit %d in %.1f s (log: %s)" % (lane.name, rc, time.monotonic() - t0,
                                                          os.path.join(d, "kunit.log")))
        with open(os.path.join(d, "kunit.log"), errors="replace") as f:
            for line in f:
                if line.startswith("[") and any(w in line for w in (
                        "] Configuring", "] Building", "] Starting", "] Elapsed", "] Testing complete")):
                    sys.stderr.write("#   " + line)
        return rc

    def kunit_lane(self, lane: lanes.Lane, build: lanes.Build, bdir: str, sub: str) -> bool:
        """One kunit.py boot of BUILD's kernel; whether the kernel started."""
        d = self.lane_dir(lane)
        rc = self.kunit_py(lane, build, bdir, sub, d)
        console = os.path.join(d, "console.log")
        kunit_console(os.path.join(d, "kunit.log"), console, lane.mmu)
        allow = 0 if self.args.no_misuse else MISUSE_WARNINGS
        if build.boot_warning:
            # A known kernel warning during boot, before any test ran,
            # is tolerated by count (and said so), never one while the
            # tests run.
            k = boot_warnings(console, build.boot_warning)
            if k:
                log("kunit.py %s: tolerating %d known boot warning(s) before the tests: %s"
                    % (lane.name, k, build.boot_warning))
                allow += k
        self.verdict(lane, d, "ok" if rc <= 1 else "error:%d" % rc, allow)
        kjson = os.path.join(d, "kunit.json")
        if rc and not (os.path.exists(kjson) and os.path.getsize(kjson)):
            self.broken = True
        with open(os.path.join(d, "kunit.log"), "rb") as f:
            return b"Starting KUnit Kernel" in f.read(qemu.CONSOLE_LIMIT)

    def kmod_initrd(self, build: lanes.Build, bdir: str, d: str) -> str:
        """The plain module built against BUILD's tree, in an initramfs."""
        mdir = os.path.join(d, "build")
        # Keyed by what the module build reads of the tree (build-modules
        # --cache): a kernel rebuilt with only .c files changed reuses it.
        stage("build modules (%s)" % build.name, pipeline.build_modules, bdir, mdir,
              build.toolchain(self.native == build.arch.name)[1], cache=True)
        ko = os.path.join(mdir, "lazy_mmu_test.ko")
        entries = [("taskstate", ko), ("module", ko)]
        if self.args.kmod_upstream:
            udir = os.path.join(d, "upstream")
            up = stage("build upstream's test (%s)" % build.name, pipeline.build_modules, bdir, udir,
                       build.toolchain(self.native == build.arch.name)[1],
                       src=os.path.abspath(self.args.kmod_upstream), cache=True)
            entries += [("module", k) for k in up]
        initrd = os.path.join(d, "initrd.gz")
        stage("initramfs (%s)" % build.name, pipeline.initramfs, build.arch.name, initrd, entries)
        return initrd

    def kmod_lane(self, lane: lanes.Lane, image: str, initrd: Optional[str], bdir: str) -> Optional[str]:
        """The plain module on BUILD's kernel (initrd: the build's, when
        an earlier lane made it); the initramfs it used."""
        d = self.lane_dir(lane)
        console = os.path.join(d, "console.log")
        try:
            if initrd is None:
                initrd = self.kmod_initrd(lane.build, bdir, d)
            xen = stage("fetch xen", pipeline.fetch_xen, lane.xen.name) if lane.xen else None
            status = stage("boot (%s)" % lane.name, pipeline.boot, lane.name, image, initrd,
                           console, append="%s %s" % (KMOD_UPSTREAM_APPEND if self.args.kmod_upstream
                                                      else KMOD_APPEND, lane.arch.kunit.exit_arg),
                           timeout=self.args.timeout or lane.timeout or KMOD_TIMEOUT,
                           xen=xen)
        except StepError as e:
            with open(console, "w") as f:
                f.write("LMM-RUNNER-ERROR lane %s could not be set up: %s\n" % (lane.name, e))
            status = "error:setup"
            initrd = None
        self.verdict(lane, d, status)
        return initrd

    def guarded(self, lane: lanes.Lane, fn, *args):
        """fn(*args) for LANE; a step failing outside the guest (a
        verdict, a fetch) is that lane's runner error, not the run's end."""
        try:
            return fn(*args)
        except (StepError, OSError) as e:
            print("kunit: lane %s: %s" % (lane.name, e), file=sys.stderr)
            try:
                self.lane_error(lane, str(e), fresh=False)
            except (StepError, OSError) as e2:
                print("kunit: lane %s: no verdict could be written: %s" % (lane.name, e2),
                      file=sys.stderr)
                self.broken = True
            return None

    def run_build(self, build: lanes.Build, chosen: List[lanes.Lane]) -> None:
        bdir = self.build_dir(build)
        # One kunit.py at a time in a build directory (make kunit, a
        # gate's base, a check step): two would build over each other.
        # The gate copies it under the same lock.
        with pipeline.lock(bdir + ".lock", why="another run of the kunit.py build %s" % build.name):
            self.run_build_locked(build, chosen, bdir)

    def run_build_locked(self, build: lanes.Build, chosen: List[lanes.Lane], bdir: str) -> None:
        try:
            pipeline.suite_copy_for(bdir)
        except OSError as e:
            for lane in chosen:
                self.guarded(lane, self.lane_error, lane, "the build directory %s: %s" % (bdir, e))
            return
        started = None
        for lane in chosen:
            if lane.kind != "kunit":
                continue
            if started is None:
                started = bool(self.guarded(lane, self.kunit_lane, lane, build, bdir, "run"))
            elif started:
                self.guarded(lane, self.kunit_lane, lane, build, bdir, "exec")
            else:
                # Never boot an older kernel left in the build directory.
                self.guarded(lane, self.lane_error, lane, "no kernel: the build (kunit.py run) failed")
        kmods = [l for l in chosen if l.kind == "kunit-kmod"]
        if not kmods:
            return
        if started is None:
            d = os.path.join(self.out, build.name + "-build")
            os.makedirs(d, exist_ok=True)
            started = self.guarded(kmods[0], self.kunit_py, kmods[0], build, bdir, "build", d) == 0
        if not started:
            for lane in kmods:
                self.guarded(lane, self.lane_error, lane, "no kernel: the build of %s failed" % build.name)
            return
        image = os.path.join(bdir, build.arch.kunit.image)
        initrd = None
        for lane in kmods:
            initrd = stage("plain module on the debug kernel (%s)" % lane.name,
                           self.guarded, lane, self.kmod_lane, lane, image, initrd, bdir)


def checkout_facts(ksrc: str, version: str) -> Dict[str, str]:
    """The kernel source a report names: Debian's linux-source at VERSION,
    or a tree of one's own (its Makefile's version, its git commit)."""
    if version:
        return {"checkout": "Debian linux-source %s" % version}
    v = {}
    try:
        with open(os.path.join(ksrc, "Makefile")) as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep and key.strip() in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
                    v.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    release = ".".join(x for x in (v.get("VERSION"), v.get("PATCHLEVEL"), v.get("SUBLEVEL")) if x)
    facts = {"checkout": "kernel tree %s (Linux %s%s)" % (os.path.basename(os.path.normpath(ksrc)),
                                                          release or "?", v.get("EXTRAVERSION", ""))}
    if os.path.exists(os.path.join(ksrc, ".git")):
        p = subprocess.run(["git", "-C", ksrc, "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        if p.returncode == 0:
            facts["git_commit"] = p.stdout.strip()
    return facts


def main(argv: Optional[List[str]] = None) -> int:
    t_all = time.monotonic()
    started = start("kunit", parse_args, argv, os.path.join(pipeline.TOP, "out", "kunit-%Y%m%d-%H%M%S"))
    if isinstance(started, int):
        return started
    table, args, out = started
    try:
        root = stage("build root", pipeline.build_root)
        ksrc, version = args.ksrc, ""
        if not ksrc:
            src = stage("fetch linux-source", pipeline.fetch_source, args.series)
            ksrc, version = src["KSRC"], src.get("KSRC_VERSION", "")
        if not os.path.isfile(os.path.join(ksrc, "Makefile")):
            print("kunit: error: no such tree: %s" % ksrc, file=sys.stderr)
            return 1
        ksrc = os.path.abspath(ksrc)
        pipeline.graft(ksrc)
        tcg_wrappers(root, table)
    except StepError as e:
        print("kunit: error: %s" % e, file=sys.stderr)
        return 1
    runner = Runner(args, table, out, ksrc, checkout_facts(ksrc, version))
    builds: Dict[str, List[lanes.Lane]] = {}
    for lane in args.chosen:
        builds.setdefault(lane.build.name, []).append(lane)
    for name, chosen in builds.items():
        runner.run_build(table.build(name), chosen)
    sys.stdout.flush()
    rc = pipeline.verdict(out, ["--merge", out] + runner.dirs, capture=False)[0]
    if runner.broken:
        rc = 1
    log("kunit lane: %.0f s, rc %d (out: %s)" % (time.monotonic() - t_all, rc, out))
    return rc
