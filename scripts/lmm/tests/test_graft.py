# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kunit-graft on a scratch kernel tree and cache: the graft is
idempotent, and a graft of another checkout drops the suite's objects in
the cached kunit.py builds (kbuild compares times only, so objects newer
than an older checkout's files would otherwise be kept)."""

import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


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
        self.objs = [os.path.join(self.cache, "kunit-build", "x86_64", "lazy_mmu_nesting"),
                     os.path.join(self.cache, "gate", "k", "build-arm64", "lazy_mmu_nesting")]
        for o in self.objs:
            os.makedirs(o)

    def graft(self, top):
        # A second checkout: the real scripts, at another path (a link).
        script = os.path.join(top, "scripts", "kunit-graft")
        return subprocess.run([script, self.ksrc], env=dict(os.environ, LMM_CACHE=self.cache),
                              capture_output=True, text=True)

    def test_relink_drops_old_objects_and_a_regraft_keeps_them(self):
        other = os.path.join(self.d, "other-checkout")
        os.makedirs(os.path.join(other, "kmod"))
        os.makedirs(os.path.join(other, "kunit"))
        os.symlink(os.path.join(TOP, "scripts"), os.path.join(other, "scripts"))
        r = self.graft(other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.readlink(os.path.join(self.ksrc, "lazy_mmu_nesting")), other)
        for o in self.objs:
            self.assertFalse(os.path.exists(o), o)
        # The same checkout again: nothing to drop, Kbuild appended once.
        for o in self.objs:
            os.makedirs(o)
        r = self.graft(other)
        self.assertEqual(r.returncode, 0, r.stderr)
        for o in self.objs:
            self.assertTrue(os.path.exists(o), o)
        with open(os.path.join(self.ksrc, "Kbuild")) as f:
            self.assertEqual(f.read().count("lazy_mmu_nesting/kunit/"), 1)


if __name__ == "__main__":
    unittest.main()
