# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kunit-graft on a scratch kernel tree and cache, and
pipeline.suite_copy_for on scratch checkouts.

The graft names no checkout (its link points at the build root's
/lmm-suite, where each run's own suite is shown), so a graft from
another checkout changes nothing in the tree.  A kunit.py build
directory's builds see there a copy of the suite made by content
(kbuild compares times only): a file of other content is written anew,
so newer than the objects built before; one of the same content keeps
its time, so a fresh clone rebuilds nothing."""

import os
import shutil
import subprocess
import tempfile
import time
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


class SuiteCopyTest(unittest.TestCase):
    """suite_copy_for: the suite a kunit.py build directory's builds see,
    made the checkout's by content, times kept where content is."""

    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)
        self.top = os.path.join(self.d, "checkout")
        self.bdir = os.path.join(self.d, "kunit-build", "x86_64")
        os.makedirs(self.bdir)
        for f, text in (("kunit/lmm_kunit.c", "a"), ("kunit/Kbuild", "k"), ("scenarios/lmm.h", "h"),
                        ("scripts/detect-api", "d"), ("scripts/other", "o"), ("kmod/lmm_kmod.c", "m")):
            self.write(f, text)

    def write(self, rel, text, when=None):
        f = os.path.join(self.top, rel)
        os.makedirs(os.path.dirname(f), exist_ok=True)
        with open(f, "w") as fh:
            fh.write(text)
        if when is not None:
            os.utime(f, (when, when))

    def copy(self):
        self.c = pipeline.suite_copy_for(self.bdir, self.top)
        return self.c

    def mtime(self, rel):
        return os.stat(os.path.join(self.c, rel)).st_mtime

    def read(self, rel):
        with open(os.path.join(self.c, rel)) as f:
            return f.read()

    def test_the_suite_paths_and_nothing_else(self):
        self.assertEqual(self.copy(), self.bdir + ".suite")
        self.assertEqual(self.read("kunit/lmm_kunit.c"), "a")
        self.assertEqual(self.read("scenarios/lmm.h"), "h")
        self.assertEqual(self.read("scripts/detect-api"), "d")
        self.assertFalse(os.path.exists(os.path.join(self.c, "scripts", "other")))
        self.assertFalse(os.path.exists(os.path.join(self.c, "kmod")))

    def test_a_fresh_clone_of_the_same_suite_keeps_the_times(self):
        self.copy()
        os.utime(os.path.join(self.c, "kunit", "lmm_kunit.c"), (1000, 1000))
        # Every file of the checkout new, none changed.
        self.write("kunit/lmm_kunit.c", "a", when=time.time() + 100)
        self.copy()
        self.assertEqual(self.mtime("kunit/lmm_kunit.c"), 1000)

    def test_changed_content_is_written_anew(self):
        self.copy()
        os.utime(os.path.join(self.c, "scenarios", "lmm.h"), (1000, 1000))
        self.write("scenarios/lmm.h", "h2", when=500)      # older than the copy, other content
        self.copy()
        self.assertEqual(self.read("scenarios/lmm.h"), "h2")
        self.assertGreater(self.mtime("scenarios/lmm.h"), 1000)

    def test_removed_and_new_files(self):
        self.copy()
        os.unlink(os.path.join(self.top, "kunit", "Kbuild"))
        self.write("kunit/new.c", "n")
        self.copy()
        self.assertFalse(os.path.exists(os.path.join(self.c, "kunit", "Kbuild")))
        self.assertEqual(self.read("kunit/new.c"), "n")

    def test_what_an_in_place_build_left_is_not_copied(self):
        for f in ("kunit/lmm_kunit.o", "kunit/.lmm_kunit.o.cmd", "kunit/lmm_api.h",
                  "kunit/lazy_mmu_nesting_kunit.mod.c", "kunit/modules.order"):
            self.write(f, "x")
        self.copy()
        self.assertEqual(sorted(os.listdir(os.path.join(self.c, "kunit"))), ["Kbuild", "lmm_kunit.c"])

    def test_a_link_in_the_copys_place_is_removed_not_followed(self):
        elsewhere = os.path.join(self.d, "elsewhere")
        os.makedirs(elsewhere)
        open(os.path.join(elsewhere, "keep"), "w").close()
        os.symlink(elsewhere, self.bdir + ".suite")
        self.copy()
        self.assertFalse(os.path.islink(self.c))
        self.assertEqual(self.read("kunit/lmm_kunit.c"), "a")
        self.assertEqual(os.listdir(elsewhere), ["keep"])

    def test_links_are_copied_as_links_and_never_followed(self):
        elsewhere = os.path.join(self.d, "elsewhere")
        os.makedirs(elsewhere)
        open(os.path.join(elsewhere, "keep"), "w").close()
        os.symlink("../scenarios/lmm.h", os.path.join(self.top, "kunit", "lmm.h"))
        self.copy()
        self.assertEqual(os.readlink(os.path.join(self.c, "kunit", "lmm.h")), "../scenarios/lmm.h")
        # A link in the copy where the checkout has a directory is
        # replaced, what it points at left alone.
        shutil.rmtree(os.path.join(self.c, "scenarios"))
        os.symlink(elsewhere, os.path.join(self.c, "scenarios"))
        self.copy()
        self.assertFalse(os.path.islink(os.path.join(self.c, "scenarios")))
        self.assertEqual(self.read("scenarios/lmm.h"), "h")
        self.assertEqual(os.listdir(elsewhere), ["keep"])


if __name__ == "__main__":
    unittest.main()
