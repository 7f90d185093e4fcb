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

    def test_kernel_store_held_shared_and_checked_again(self):
        store = os.path.join(self.tmp.name, "kernels", "7.3.4+deb13-amd64")
        os.makedirs(store)
        with open(os.path.join(store, ".version"), "w") as f:
            f.write("7.3.4-1\n")
        with open(os.path.join(store, "vmlinux"), "w") as f:
            f.write("ELF")
        env = {"KREL": "7.3.4+deb13-amd64", "KVER": "7.3.4-1", "KIMAGE": os.path.join(store, "vmlinux")}
        held = pipeline.kernel_store_lock(env)
        # fetch-kernel's replacement (flock on the same file) waits.
        self.assertEqual(subprocess.run(["flock", "-n", store + ".lock", "true"]).returncode, 1)
        held.close()
        with open(os.path.join(store, ".version"), "w") as f:
            f.write("7.3.4-2\n")           # another upload replaced it meanwhile
        with self.assertRaises(pipeline.StepError):
            pipeline.kernel_store_lock(env)
        env["KVER"] = "7.3.4-2"
        open(env["KIMAGE"], "w").close()    # emptied by a run killed while copying it
        with self.assertRaises(pipeline.StepError):
            pipeline.kernel_store_lock(env)
        # Nothing is left holding it.
        self.assertEqual(subprocess.run(["flock", "-n", store + ".lock", "true"]).returncode, 0)

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
