# SPDX-License-Identifier: GPL-2.0-only
"""gate-report's classes over small verdicts: a newly failing case is a
regression only if it fails again (--series-again); one that then passes
is flaky and does not gate."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

from lmm import pipeline

REPORT = os.path.join(pipeline.SCRIPTS, "gate-report")


def verdict(cases):
    return {"lanes": [{"lane": "L", "verdict": "pass"}],
            "cases": [{"name": "L:" + n, "lane": "L", "status": st, "diagnostics": ["d " + n]}
                      for n, st in cases.items()]}


class GateReportTest(unittest.TestCase):
    def run_report(self, base, series, again=None):
        with tempfile.TemporaryDirectory() as d:
            paths = {}
            for name, data in (("base", base), ("series", series), ("again", again)):
                if data is not None:
                    paths[name] = os.path.join(d, name + ".json")
                    with open(paths[name], "w") as f:
                        json.dump(verdict(data), f)
            with open(os.path.join(d, "patches.txt"), "w") as f:
                f.write("0001.patch\tsubject\n")
            argv = [sys.executable, REPORT, "--base", paths["base"], "--series", paths["series"],
                    "--patches", os.path.join(d, "patches.txt"), "--out", os.path.join(d, "out")]
            if again is not None:
                argv += ["--series-again", paths["again"]]
            rc = subprocess.run(argv, stdout=subprocess.DEVNULL).returncode
            with open(os.path.join(d, "out", "results.json")) as f:
                changes = {c["case"]: c["change"] for c in json.load(f)["cases"]}
            # The gate decides on the summary: it must count the same.
            with open(os.path.join(d, "out", "summary.env")) as f:
                self.assertEqual(f.read(), "regressions=%d\n"
                                 % list(changes.values()).count("regression"))
            return rc, changes

    def test_regression_without_a_second_run(self):
        rc, ch = self.run_report({"a": "pass", "b": "fail"}, {"a": "fail", "b": "pass"})
        self.assertEqual(rc, 1)
        self.assertEqual(ch, {"a": "regression", "b": "fixed"})

    def test_fails_again_is_a_regression(self):
        rc, ch = self.run_report({"a": "pass"}, {"a": "fail"}, {"a": "fail"})
        self.assertEqual((rc, ch["a"]), (1, "regression"))

    def test_passes_again_is_flaky(self):
        rc, ch = self.run_report({"a": "pass", "c": "pass"}, {"a": "fail", "c": "pass"},
                                 {"a": "pass", "c": "pass"})
        self.assertEqual((rc, ch), (0, {"a": "flaky", "c": "pass-both"}))

    def test_only_first_run_regressions_are_confirmed(self):
        # A case that fails only in the second run is not a regression of the first.
        rc, ch = self.run_report({"a": "pass"}, {"a": "pass"}, {"a": "fail"})
        self.assertEqual((rc, ch["a"]), (0, "pass-both"))


if __name__ == "__main__":
    unittest.main()
