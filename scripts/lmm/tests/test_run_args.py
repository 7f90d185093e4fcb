# SPDX-License-Identifier: GPL-2.0-only
"""scripts/run's module parameters: concurrent_walks runs 100 ms in a
run unless told otherwise (--walk-ms 0: the module's own 1000 ms, which
make check's run_amd64_arm64 asks for), and what --module-args says last
wins, as the kernel's parameter parser takes the last of a name."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import check, lanes, run  # noqa: E402


def params(*argv):
    return run.module_params(run.parse_args(list(argv) + ["amd64"], lanes.load()))


class WalkMsTest(unittest.TestCase):
    def test_default_is_short(self):
        self.assertEqual(params(), "duration_ms=%d" % run.RUN_WALK_MS)
        self.assertLess(run.RUN_WALK_MS, 1000)

    def test_zero_is_the_modules_own(self):
        self.assertEqual(params("--walk-ms", "0"), "")

    def test_module_args_come_last(self):
        self.assertEqual(params("--walk-ms", "300", "--cases", "a,b", "--module-args", "duration_ms=5  seed=1"),
                         "duration_ms=300 cases=a,b duration_ms=5 seed=1")

    def test_bad_value_is_a_usage_error(self):
        for bad in ("-1", "x", "60001", "100000", "07"):
            with self.assertRaises(SystemExit, msg=bad):
                with open(os.devnull, "w") as null:
                    err, sys.stderr = sys.stderr, null
                    try:
                        params("--walk-ms", bad)
                    finally:
                        sys.stderr = err

    def test_upper_bound_is_the_modules(self):
        self.assertEqual(params("--walk-ms", "60000"), "duration_ms=60000")

    def test_not_with_load(self):
        with open(os.devnull, "w") as null:
            err, sys.stderr = sys.stderr, null
            try:
                with self.assertRaises(SystemExit):
                    params("--walk-ms", "100", "--load", "cases=initial_state")
            finally:
                sys.stderr = err
        # --load alone: the loads' own parameters, no default added.
        args = run.parse_args(["--load", "cases=initial_state", "amd64"], lanes.load())
        self.assertEqual(args.load, ["cases=initial_state"])

    def test_make_check_keeps_one_long_run(self):
        step = next(s for s in check.STEPS if s.name == "run_amd64_arm64")
        argv = list(step.argv)
        self.assertEqual(argv[argv.index("--walk-ms") + 1], "0")


if __name__ == "__main__":
    unittest.main()
