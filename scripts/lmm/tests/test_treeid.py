# SPDX-License-Identifier: GPL-2.0-only
"""The gate's name for a kernel tree of one's own (issue 20, item 9):
uncommitted changes are keyed by their content, the graft's own changes
are not changes.  Over a small git repository made here."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import treeid  # noqa: E402

GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_SYSTEM=os.devnull)


@unittest.skipUnless(shutil.which("git"), "needs git")
class TreeIdTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.t = os.path.join(self.tmp.name, "linux")
        os.makedirs(os.path.join(self.t, "mm"))
        self.write("Makefile", "VERSION = 7\n")
        self.write("Kbuild", "obj-y += mm/\n")
        self.write("Kconfig", 'source "mm/Kconfig"\n')
        self.write("mm/memory.c", "int x;\n")
        self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "base")
        self.head = self.git("rev-parse", "HEAD").strip()
        self.clean = treeid.tree_id(self.t)

    def tearDown(self):
        self.tmp.cleanup()

    def git(self, *argv):
        return subprocess.run(["git", "-C", self.t] + list(argv), env=GIT_ENV, check=True,
                              stdout=subprocess.PIPE, text=True).stdout

    def write(self, path, text, mode="w"):
        with open(os.path.join(self.t, path), mode) as f:
            f.write(text)

    def graft(self):
        """What scripts/kunit-graft does to a tree."""
        os.symlink(self.tmp.name, os.path.join(self.t, "lazy_mmu_nesting"))
        self.write("Kbuild", "obj-y\t\t\t+= lazy_mmu_nesting/kunit/\n", "a")
        self.write("Kconfig", '\nsource "lazy_mmu_nesting/kunit/Kconfig"\n', "a")

    def test_clean_tree_is_its_commit(self):
        self.assertEqual(self.clean, "@" + self.head)

    def test_not_a_checkout(self):
        shutil.rmtree(os.path.join(self.t, ".git"))
        self.assertEqual(treeid.tree_id(self.t), "")

    def test_graft_is_no_change(self):
        self.graft()
        self.assertEqual(treeid.tree_id(self.t), self.clean)

    def test_each_edit_has_its_own_key(self):
        self.write("mm/memory.c", "int x = 1;\n")
        one = treeid.tree_id(self.t)
        self.assertTrue(one.startswith("@%s-dirty-" % self.head), one)
        self.write("mm/memory.c", "int x = 2;\n")
        two = treeid.tree_id(self.t)
        self.assertNotEqual(one, two)        # the old fixed '-dirty' reused one's builds here
        self.write("mm/memory.c", "int x = 1;\n")
        self.assertEqual(treeid.tree_id(self.t), one)     # the same content, the same key

    def test_edit_keyed_the_same_grafted_or_not(self):
        self.write("mm/memory.c", "int x = 1;\n")
        self.write("Kbuild", "obj-y += lib/\n", "a")
        before = treeid.tree_id(self.t)
        self.graft()
        self.assertEqual(treeid.tree_id(self.t), before)
        self.write("Kconfig", 'source "lib/Kconfig"\n', "a")    # after the graft's line
        self.assertNotEqual(treeid.tree_id(self.t), before)

    def test_untracked_staged_and_deleted(self):
        keys = {self.clean}
        self.write("mm/new.c", "int y;\n")
        keys.add(treeid.tree_id(self.t))
        self.write("mm/new.c", "int z;\n")
        keys.add(treeid.tree_id(self.t))
        self.git("add", "mm/new.c")
        self.assertIn(treeid.tree_id(self.t), keys)           # staged or not: the same content
        os.remove(os.path.join(self.t, "mm/memory.c"))
        keys.add(treeid.tree_id(self.t))
        self.assertEqual(len(keys), 4)

    def test_ignored_files_do_not_count(self):
        self.write(".gitignore", "*.o\n")
        self.git("add", ".gitignore")
        self.git("commit", "-q", "-m", "ignore")
        key = treeid.tree_id(self.t)
        self.write("mm/memory.o", "object\n")
        self.assertEqual(treeid.tree_id(self.t), key)

    def test_a_link_is_its_target_never_followed(self):
        os.symlink("/nonexistent/target", os.path.join(self.t, "mm/link"))
        one = treeid.tree_id(self.t)
        os.remove(os.path.join(self.t, "mm/link"))
        os.symlink("/nonexistent/other", os.path.join(self.t, "mm/link"))
        self.assertNotEqual(treeid.tree_id(self.t), one)

    def test_a_path_with_spaces_and_newlines(self):
        self.write("mm/a b\nc.c", "int y;\n")
        self.assertNotEqual(treeid.tree_id(self.t), self.clean)

    def test_main_prints_the_key(self):
        p = subprocess.run([sys.executable, treeid.__file__, self.t], stdout=subprocess.PIPE, text=True)
        self.assertEqual((p.returncode, p.stdout), (0, self.clean + "\n"))
        p = subprocess.run([sys.executable, treeid.__file__], stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
