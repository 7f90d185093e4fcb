# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kunit-graft on a scratch kernel tree and cache, and
pipeline.suite_objects_for on scratch build directories.

The graft names no checkout (its link points at the build root's
/lmm-suite, where each run's own checkout is shown), so a graft from
another checkout changes nothing in the tree; the objects a kunit.py
build directory holds are dropped only when they are another
checkout's (kbuild compares times only, so objects newer than an older
checkout's files would otherwise be kept)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from lmm import pipeline

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
MOUNT = "/lmm-suite"


class GraftTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)
        self.ksrc = os.path.join(self.d, "linux")
        os.makedirs(self.ksrc)
        for f in ("Kbuild", "Kconfig"):
            with open(os.path.join(self.ksrc, f), "w") as fh:
                fh.write("# %s\n" % f)
        self.cache = os.path.join(self.d, "cache")
        self.link = os.path.join(self.ksrc, "lazy_mmu_nesting")

    def checkout(self, name):
        # Another checkout: the real scripts, at another path (a link).
        other = os.path.join(self.d, name)
        os.makedirs(os.path.join(other, "kmod"))
        os.makedirs(os.path.join(other, "kunit"))
        os.symlink(os.path.join(TOP, "scripts"), os.path.join(other, "scripts"))
        return other

    def graft(self, top):
        script = os.path.join(top, "scripts", "kunit-graft")
        return subprocess.run([script, self.ksrc], env=dict(os.environ, LMM_CACHE=self.cache),
                              capture_output=True, text=True)

    def test_the_link_names_no_checkout(self):
        for top in (self.checkout("a"), self.checkout("b"), self.checkout("a2")):
            r = self.graft(top)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.readlink(self.link), MOUNT)
        with open(os.path.join(self.ksrc, "Kbuild")) as f:
            self.assertEqual(f.read().count("lazy_mmu_nesting/kunit/"), 1)
        with open(os.path.join(self.ksrc, "Kconfig")) as f:
            self.assertEqual(f.read().count("lazy_mmu_nesting/kunit/Kconfig"), 1)

    def test_an_older_graft_to_a_checkout_is_repointed(self):
        os.symlink(os.path.join(self.d, "old-checkout"), self.link)
        r = self.graft(self.checkout("a"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.readlink(self.link), MOUNT)

    def test_a_directory_in_its_place_is_refused(self):
        os.makedirs(self.link)
        r = self.graft(self.checkout("a"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not our symlink", r.stderr)


class SuiteObjectsTest(unittest.TestCase):
    def setUp(self):
        self.bdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.bdir)
        self.objs = os.path.join(self.bdir, "lazy_mmu_nesting", "kunit")
        self.other = os.path.join(self.bdir, "mm", "vmalloc.o")
        os.makedirs(os.path.dirname(self.other))
        open(self.other, "w").close()

    def build(self):
        os.makedirs(self.objs, exist_ok=True)
        open(os.path.join(self.objs, "lmm_kunit.o"), "w").close()

    def test_objects_of_no_record_are_dropped(self):
        # A build directory from before the record: whose objects is unknown.
        self.build()
        self.assertTrue(pipeline.suite_objects_for(self.bdir, "/src/a"))
        self.assertFalse(os.path.exists(self.objs))
        self.assertTrue(os.path.exists(self.other))

    def test_the_same_checkout_keeps_them(self):
        pipeline.suite_objects_for(self.bdir, "/src/a")
        self.build()
        self.assertFalse(pipeline.suite_objects_for(self.bdir, "/src/a"))
        self.assertTrue(os.path.exists(self.objs))

    def test_another_checkout_drops_them_and_only_them(self):
        pipeline.suite_objects_for(self.bdir, "/src/a")
        self.build()
        self.assertTrue(pipeline.suite_objects_for(self.bdir, "/src/b"))
        self.assertFalse(os.path.exists(os.path.dirname(self.objs)))
        self.assertTrue(os.path.exists(self.other))
        # b's now: b keeps its objects, a drops them again.
        self.build()
        self.assertFalse(pipeline.suite_objects_for(self.bdir, "/src/b"))
        self.assertTrue(pipeline.suite_objects_for(self.bdir, "/src/a"))

    def test_a_link_in_their_place_is_removed_not_followed(self):
        elsewhere = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, elsewhere)
        open(os.path.join(elsewhere, "keep"), "w").close()
        os.symlink(elsewhere, os.path.join(self.bdir, "lazy_mmu_nesting"))
        self.assertTrue(pipeline.suite_objects_for(self.bdir, "/src/a"))
        self.assertFalse(os.path.lexists(os.path.join(self.bdir, "lazy_mmu_nesting")))
        self.assertTrue(os.path.exists(os.path.join(elsewhere, "keep")))


if __name__ == "__main__":
    unittest.main()
