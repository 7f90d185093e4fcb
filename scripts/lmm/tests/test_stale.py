# SPDX-License-Identifier: GPL-2.0-only
"""No stale verdicts (issue 20, item 2): a run into a reused output
directory that holds an earlier run's passing verdict, whose lane then
fails before its guest runs, reports that failure: exit 1, `not ok`,
nothing of the old verdict left.  run.main() runs for real with the
steps that need root and a build root replaced: the kernel fetch fails
as a bad kernel version does, the build root is never entered, and the
verdicts are ktap-verdict run directly (it is the same program)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import cli, pipeline, run  # noqa: E402
from lmm.pipeline import StepError  # noqa: E402

FIXTURES = os.path.join(pipeline.SCRIPTS, "tests", "fixtures")
VERDICT = os.path.join(pipeline.SCRIPTS, "ktap-verdict")
LANE = "amd64"


def direct_verdict(bind, args, log=None, capture=True):
    """pipeline.verdict without the build root."""
    p = subprocess.run([sys.executable, VERDICT] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if not capture:
        sys.stdout.write(p.stdout)
    return p.returncode, p.stdout


def no_kernel(arch, kernel, log=None):
    raise StepError("fetch kernel (%s)" % arch, "exit 1: no kernel %s on the mirror" % kernel)


class StaleVerdictTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "out")
        # An earlier run's passing verdict, lane and merged, in OUT.
        lane = os.path.join(self.out, LANE)
        subprocess.run([sys.executable, VERDICT, "--lane", LANE, "--console",
                        os.path.join(FIXTURES, "pass.log"), "--outdir", lane, "--quiet"], check=True)
        subprocess.run([sys.executable, VERDICT, "--merge", self.out, lane],
                       stdout=subprocess.DEVNULL, check=True)
        self.assertEqual(self.json("results.json")["verdict"], "pass")
        self.patches = [mock.patch.object(os, "geteuid", return_value=0),
                        mock.patch.object(pipeline, "verdict", direct_verdict),
                        mock.patch.object(pipeline, "fetch_kernel", no_kernel),
                        mock.patch("sys.stdout", new=open(os.devnull, "w")),
                        mock.patch("sys.stderr", new=open(os.devnull, "w"))]
        for p in self.patches:
            p.start()
        # out/latest is the checkout's; keep it out of the test.
        self.patches.append(mock.patch.object(pipeline, "TOP", os.path.join(self.tmp.name, "top")))
        self.patches[-1].start()

    def tearDown(self):
        for p in reversed(self.patches):
            p.stop()
        self.tmp.cleanup()

    def json(self, *path):
        with open(os.path.join(self.out, *path)) as f:
            return json.load(f)

    def test_failed_fetch_is_not_ok(self):
        with mock.patch.object(pipeline, "build_root", return_value="/"):
            rc = run.main(["--out", self.out, "--kernel", "9.9.9", LANE])
        self.assertEqual(rc, 1)
        merged = self.json("results.json")
        self.assertEqual(merged["verdict"], "fail")
        lane = self.json(LANE, "results.json")
        self.assertEqual(lane["verdict"], "fail")
        with open(os.path.join(self.out, "results.ktap")) as f:
            ktap = f.read()
        self.assertIn("not ok", ktap)
        with open(os.path.join(self.out, LANE, "console.log")) as f:
            self.assertIn("fetch kernel failed before the guest ran", f.read())
        # Nothing of the old run's lane is left: no pass to be read back.
        self.assertEqual(sorted(os.listdir(os.path.join(self.out, LANE))),
                         ["console.log", "junit.xml", "results.json", "results.kcidb.json",
                          "results.ktap", "setup-failed"])

    def test_failed_build_root_leaves_no_verdict(self):
        """No verdict can be written without the build root: none is
        left at all, rather than the old pass."""
        with mock.patch.object(pipeline, "build_root", side_effect=StepError("build root", "exit 1")):
            rc = run.main(["--out", self.out, LANE])
        self.assertEqual(rc, 1)
        for name in cli.VERDICT_FILES:
            self.assertFalse(os.path.exists(os.path.join(self.out, name)), name)


class OutputDirTest(unittest.TestCase):
    def test_unique_in_one_second(self):
        with tempfile.TemporaryDirectory() as tmp:
            pattern = os.path.join(tmp, "run-%Y%m%d-%H%M%S")
            with mock.patch("time.strftime", return_value=os.path.join(tmp, "run-fixed")):
                dirs = {cli.output_dir(None, pattern) for _ in range(5)}
            self.assertEqual(len(dirs), 5)
            self.assertTrue(all(os.path.basename(d).startswith("run-fixed-") for d in dirs))

    def test_reused_loses_verdict_files_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name in cli.VERDICT_FILES + ("notes.txt",):
                open(os.path.join(tmp, name), "w").close()
            self.assertEqual(cli.output_dir(tmp, "unused"), tmp)
            self.assertEqual(os.listdir(tmp), ["notes.txt"])


if __name__ == "__main__":
    unittest.main()
