# SPDX-License-Identifier: GPL-2.0-only
"""The cache lock discipline (issue 20, item 4): shared for readers,
exclusive for writers, the same flock as lib.sh's flock(1) on the file;
a second make check into the same output directory is refused."""

import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import check, pipeline  # noqa: E402


class LockTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "sub", "x.lock")

    def tearDown(self):
        self.tmp.cleanup()

    def test_readers_share_a_writer_excludes(self):
        a = pipeline.lock(self.path, shared=True)
        b = pipeline.lock(self.path, shared=True, wait=False)
        with self.assertRaises(pipeline.Locked):
            pipeline.lock(self.path, wait=False)
        a.close()
        b.close()
        c = pipeline.lock(self.path, wait=False)
        with self.assertRaises(pipeline.Locked):
            pipeline.lock(self.path, shared=True, wait=False)
        c.close()

    def test_shell_flock_sees_it(self):
        held = pipeline.lock(self.path)
        rc = subprocess.run(["flock", "-n", "-s", self.path, "true"]).returncode
        self.assertEqual(rc, 1)
        held.close()
        rc = subprocess.run(["flock", "-n", self.path, "true"]).returncode
        self.assertEqual(rc, 0)

    def test_second_check_in_one_out_refused(self):
        out = os.path.join(self.tmp.name, "check")
        os.makedirs(out)
        with open(os.path.join(out, "kept.log"), "w") as f:
            f.write("the first check's\n")
        held = pipeline.lock(out + ".lock")
        with mock.patch.object(os, "geteuid", return_value=0), \
                mock.patch("sys.stderr", new=open(os.devnull, "w")):
            rc = check.main(["--out", out, "--only", "shellcheck_clean"])
        held.close()
        self.assertEqual(rc, 1)
        self.assertTrue(os.path.exists(os.path.join(out, "kept.log")))


if __name__ == "__main__":
    unittest.main()
