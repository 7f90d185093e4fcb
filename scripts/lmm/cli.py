# SPDX-License-Identifier: GPL-2.0-only
"""What every Python executable under scripts/ shares: usage errors exit
2 with the usage, and an interrupted run dies of SIGINT as a shell step
does."""

import argparse
import os
import signal
import sys
import tempfile
import time


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def die_of_sigint() -> None:
    """After Ctrl-C reached the steps too (one process group) and they
    are gone: end by SIGINT, so that a calling shell sees it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def log(msg: str) -> None:
    """A progress line, on stderr, as lib.sh's log() prints it."""
    print("# " + msg, file=sys.stderr, flush=True)


def start(prog: str, parse_args, argv, default_out: str):
    """What a runner does first: read the lane table, parse ARGV with
    parse_args(argv, table), insist on root, make the output directory
    (output_dir).  (table, args, out), or an exit status to return."""
    from lmm import lanes          # not every executable needs the table
    try:
        table = lanes.load()
    except lanes.TableError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    args = parse_args(sys.argv[1:] if argv is None else argv, table)
    if os.geteuid() != 0:
        print(f"{prog}: error: must run as root (apt-get, mmdebstrap, chroot, mounts)",
              file=sys.stderr)
        return 1
    if args.out and ":" in args.out:
        print(f"{prog}: error: --out: no ':' allowed (it separates the directories bound"
              f" into the build root): {args.out}", file=sys.stderr)
        return 2
    out = output_dir(args.out, default_out)
    log(f"output: {out}")
    from lmm import pipeline
    pipeline.stop_steps_on_sigterm()
    return table, args, out


# What a run writes at the top of its output directory (ktap-verdict's
# files, merged over its lanes).
VERDICT_FILES = ("results.ktap", "results.json", "junit.xml", "results.kcidb.json")


def output_dir(out, default_out: str) -> str:
    """The output directory: OUT (made if need be), or a new directory
    named DEFAULT_OUT, with its strftime fields, and a unique suffix
    (two runs started in the same second never share one).  A reused
    OUT loses its verdict files first: a run that fails before it
    writes its own never leaves an earlier run's verdict in place."""
    if out:
        out = os.path.abspath(out)
        os.makedirs(out, exist_ok=True)
        for name in VERDICT_FILES:
            try:
                os.remove(os.path.join(out, name))
            except FileNotFoundError:
                pass
        return out
    parent, name = os.path.split(time.strftime(default_out))
    os.makedirs(parent, exist_ok=True)
    out = tempfile.mkdtemp(prefix=name + "-", dir=parent)
    os.chmod(out, 0o755)
    return out
