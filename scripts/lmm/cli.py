# SPDX-License-Identifier: GPL-2.0-only
"""What every Python executable under scripts/ shares: usage errors exit
2 with the usage, and an interrupted run dies of SIGINT as a shell step
does."""

import argparse
import os
import signal
import sys


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
