# SPDX-License-Identifier: GPL-2.0-only
"""The default run (scripts/run): for each lane, fetch its Debian kernel,
build the test modules against its headers, boot it under QEMU with the
modules in an initramfs, and turn the console into a KTAP verdict.

Exit status: 0 all passed, 1 a failure (including a hung or crashed
guest, or a lane that broke before its guest ran), 4 everything skipped,
2 usage error.
"""

import json
import os
import re
import shutil
import sys
import time
from typing import Dict, List, Optional

from lmm import lanes, pipeline, report
from lmm.cli import Parser, log, start
from lmm.pipeline import StepError, stage

# concurrent_walks' duration in a run (ms): the stress is a second net
# behind deterministic cases, and its 1000 ms default was most of a
# warm run's suite time.
RUN_WALK_MS = 100

USAGE_TAIL = """\
  --kernel KERNEL    which kernel: pin (default: each lane's pinned kernel),
                     newest, 7.2, 6.12, 7.3.4+deb13, ... (scripts/fetch-kernel),
                     or a file of fetch-kernel's output (KREL, KIMAGE, KDIR
                     lines: a kernel of your own; one lane)
  --out DIR          output directory (default out/<date>-<time>)
  --cases LIST       run only these cases (module parameter cases=)
  --module-args ARGS more module parameters, e.g. "seed=42 walk_steps=100"
  --walk-ms MS       concurrent_walks' stress, in ms (duration_ms=; default
                     {walk}: a quick run; 0: the module's own, 1000 ms, which
                     make check runs once; every mutant it kills is killed
                     by a deterministic case too: mutants/README.md)
  --load ARGS        instead: load the module once with ARGS (module
                     parameters; repeatable: one load each, in order, in
                     one boot; no task-state probe)
  --append ARGS      more kernel command line (always: {append})
  --kdir DIR         build against this header tree instead of the
                     kernel's own (path inside the build root; one lane)
  --timeout SEC      hard limit per boot (default 180)
  --smp N            guest CPUs (default 2)
  -q, --quiet        only the verdict lines
  -v, --verbose      echo the guest console
"""


def usage(table: lanes.Table) -> str:
    rows = "".join("                     %s\n" % lanes.table_line(l) for l in table.lanes)
    return ("run [options] [LANE ...]\n"
            "  LANE               a lane of the lane table (scripts/lanes; default: the\n"
            "                     lanes marked default there, %s)\n%s"
            % (" ".join(l.name for l in table.default_lanes()), rows)
            + USAGE_TAIL.format(append=pipeline.APPEND, walk=RUN_WALK_MS))


def parse_args(argv, table: lanes.Table):
    p = Parser(prog="run", usage=usage(table), add_help=False, allow_abbrev=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--kernel", default="pin")
    p.add_argument("--out")
    p.add_argument("--cases", default="")
    p.add_argument("--module-args", default="")
    p.add_argument("--load", action="append", default=[])
    p.add_argument("--walk-ms")
    p.add_argument("--append", default="")
    p.add_argument("--kdir", default="")
    p.add_argument("--kernel-env", default="")
    p.add_argument("--timeout", default="180")
    p.add_argument("--smp", default="2")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("lanes", nargs="*")
    args = p.parse_args(argv)
    if args.help:
        sys.stdout.write("usage: " + usage(table))
        sys.exit(0)
    # One spelling of "which kernel": --kernel FILE is --kernel-env FILE.
    if os.path.isfile(args.kernel) or "/" in args.kernel:
        if args.kernel_env:
            p.error("--kernel FILE and --kernel-env: give one")
        if not os.path.isfile(args.kernel):
            p.error("no such kernel file: %s" % args.kernel)
        args.kernel_env, args.kernel = args.kernel, "pin"
    for name in args.lanes:
        if name not in [l.name for l in table.lanes]:
            p.error("unknown lane: %s" % name)
    if not args.lanes:
        args.lanes = [l.name for l in table.default_lanes()]
        if not args.lanes:
            p.error("the lane table names no default lane")
    if not re.match(r"^[1-9][0-9]*$", args.timeout):
        p.error("bad --timeout: %s" % args.timeout)
    if not re.match(r"^[1-9][0-9]?$", args.smp):
        p.error("bad --smp: %s" % args.smp)
    if args.load and (args.cases or args.module_args or args.walk_ms is not None):
        p.error("--load takes the module parameters itself: not with --cases, --module-args or --walk-ms")
    if args.walk_ms is None:
        args.walk_ms = str(RUN_WALK_MS)
    # The module's own bounds of duration_ms=; 0: its default.
    if not re.match(r"^(0|[1-9][0-9]{0,4})$", args.walk_ms) or int(args.walk_ms) > pipeline.WALK_MS_MAX:
        p.error("bad --walk-ms: %s (0-%d)" % (args.walk_ms, pipeline.WALK_MS_MAX))
    if (args.kdir or args.kernel_env) and len(args.lanes) != 1:
        p.error("--kdir and --kernel FILE need exactly one lane")
    return args


class Setup:
    """The step a lane is in before its guest runs: a failure there is
    not a test verdict, so the lane directory says which step it was."""

    def __init__(self, d: str):
        self.path = os.path.join(d, "setup-failed")

    def at(self, step: str) -> None:
        with open(self.path, "w") as f:
            f.write(step + "\n")

    def done(self) -> None:
        os.remove(self.path)

    def step(self) -> Optional[str]:
        try:
            with open(self.path) as f:
                return f.read().strip()
        except OSError:
            return None


def module_params(args) -> str:
    """The module's parameters in a run: --walk-ms, --cases, then
    --module-args (a duration_ms= there comes later, and wins)."""
    return " ".join(filter(None, ["duration_ms=" + args.walk_ms if args.walk_ms != "0" else "",
                                  "cases=" + args.cases if args.cases else "",
                                  " ".join(args.module_args.split())]))


def run_lane(lane: lanes.Lane, args, out: str) -> int:
    d = os.path.join(out, lane.name)
    # A lane starts from nothing: no result of an earlier run survives
    # in a reused output directory.
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    setup = Setup(d)
    arch = lane.arch.name
    setup.at("fetch kernel")
    if args.kernel_env:
        with open(args.kernel_env) as f:
            env_text = f.read()
        env = pipeline.kv(env_text)
    else:
        want = "pin:" + lane.kernel.name if args.kernel == "pin" else args.kernel
        env = stage("fetch kernel (%s)" % arch, pipeline.fetch_kernel, arch, want)
        # The kernel is not replaced or repaired under the lane (main
        # lets go when the lane ends); changed meanwhile: fetched again.
        try:
            args.held = pipeline.kernel_store_lock(env)
        except StepError:
            env = stage("fetch kernel (%s)" % arch, pipeline.fetch_kernel, arch, want)
            args.held = pipeline.kernel_store_lock(env)
        env_text = "".join("%s=%s\n" % kv for kv in env.items())
    with open(os.path.join(d, "kernel.env"), "w") as f:
        f.write(env_text)
    setup.at("build modules")
    build = os.path.join(d, "build")
    # Debian's header trees never change in place: an unchanged build is
    # reused.  A --kdir tree or a --kernel-env kernel may be edited in
    # place (mutated headers, a rebuilt tree): always built.
    stage("build modules (%s, %s)" % (arch, env.get("KREL", "?")), pipeline.build_modules,
          args.kdir or env["KDIR"], build, quiet=False, cache=not (args.kdir or args.kernel_env))
    setup.at("initramfs")
    ko = os.path.join(build, "lazy_mmu_test.ko")
    margs = module_params(args)
    if args.load:
        entries = [("module", ko + (":" + " ".join(a.split()) if a.strip() else "")) for a in args.load]
    else:
        entries = [("taskstate", ko), ("module", ko + (":" + margs if margs else ""))]
    stage("initramfs (%s)" % arch, pipeline.initramfs, arch, os.path.join(d, "initrd.gz"), entries)
    xen = None
    if lane.xen:
        xen = stage("fetch xen", pipeline.fetch_xen, lane.xen.name)
        with open(os.path.join(d, "kernel.env"), "a") as f:
            f.write("XEN=%s\n" % xen)
    setup.at("boot")
    console = os.path.join(d, "console.log")
    status = stage("boot (%s)" % lane.name, pipeline.boot, lane.name, env["KIMAGE"],
                   os.path.join(d, "initrd.gz"), console, append=args.append,
                   timeout=int(args.timeout), xen=xen, smp=int(args.smp), verbose=args.verbose)
    setup.done()
    with open(os.path.join(d, "qemu-status"), "w") as f:
        f.write(status + "\n")
    log("console: %s" % console)
    vargs = ["--lane", lane.name, "--console", console, "--outdir", d, "--qemu-status", status]
    if lane.mmu:        # a lane that names an MMU checks that the kernel ran on it
        vargs += ["--mmu", lane.mmu]
    if env.get("KVER"):
        source = "Debian linux %s" % env["KVER"]
    else:
        source = "kernel image %s" % env.get("KREL", "?")
    facts = dict(lane.report_facts(int(args.smp)), checkout=source,
                 config_name="Debian's config of %s" % env.get("KREL", "?"))
    cc = pipeline.config_value(os.path.join(args.root, (args.kdir or env["KDIR"]).lstrip("/"), ".config"),
                               "CONFIG_CC_VERSION_TEXT")
    if cc:
        facts["compiler"] = cc
    vargs += pipeline.meta_args(facts)
    rc, text = pipeline.verdict(out, vargs)
    with open(os.path.join(d, "verdict.txt"), "w") as f:
        f.write(text)
    if not args.quiet:
        print_cases(d)
    return rc


def print_cases(d: str) -> None:
    """One line per case of the lane judged into D, for people watching."""
    try:
        with open(os.path.join(d, "results.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return
    cases = [report.case_from_dict(c) for c in data.get("cases", [])]
    for line in report.flat_lines([(data.get("lane", "?"), cases)]):
        print("  " + line, file=sys.stderr)


def runner_error(lane: str, out: str, step: Optional[str], why: str) -> None:
    """A lane that broke before its guest ran still yields a failing verdict."""
    d = os.path.join(out, lane)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "console.log"), "w") as f:
        f.write("LMM-RUNNER-ERROR lane %s: %s failed before the guest ran (%s)\n"
                % (lane, step or "setup", why))
    pipeline.verdict(out, ["--lane", lane, "--console", os.path.join(d, "console.log"),
                           "--outdir", d, "--qemu-status", "error:setup", "--quiet"])


def main(argv: Optional[List[str]] = None) -> int:
    t_all = time.monotonic()
    started = start("run", parse_args, argv, os.path.join(pipeline.TOP, "out", "%Y%m%d-%H%M%S"))
    if isinstance(started, int):
        return started
    table, args, out = started
    latest = os.path.join(pipeline.TOP, "out", "latest")
    if out != latest:
        try:
            if os.path.islink(latest):
                os.remove(latest)
            os.symlink(out, latest)
        except OSError:
            pass
    try:
        args.root = stage("build root", pipeline.build_root)
    except StepError as e:
        print("run: error: %s" % e, file=sys.stderr)
        return 1
    dirs = []
    for name in args.lanes:
        t0 = time.monotonic()
        try:
            rc = run_lane(table.lane(name), args, out)
        except (StepError, OSError, KeyError) as e:
            rc = 1
            print("run: lane %s: %s" % (name, e), file=sys.stderr)
        if getattr(args, "held", None):
            args.held.close()
            args.held = None
        log("lane %s: rc %d, %.1f s" % (name, rc, time.monotonic() - t0))
        if not os.path.exists(os.path.join(out, name, "results.json")):
            try:
                runner_error(name, out, Setup(os.path.join(out, name)).step(), "rc %d" % rc)
            except (StepError, OSError) as e:
                print("run: lane %s: no verdict could be written: %s" % (name, e), file=sys.stderr)
        dirs.append(os.path.join(out, name))
    sys.stdout.flush()
    rc = pipeline.verdict(out, ["--merge", out] + dirs, capture=False)[0]
    log("total: %.1f s, verdict rc %d (KTAP: %s/results.ktap, JSON, JUnit beside it)"
        % (time.monotonic() - t_all, rc, out))
    return rc
