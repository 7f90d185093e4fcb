# SPDX-License-Identifier: GPL-2.0-only
"""Tests of the tree-mutant judge: which cases killed a mutant, and what
upstream's test did, from a run's results.json."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import tree  # noqa: E402


def case(name, status, suite):
    lane, module = name.split(":")[:2]
    return {"name": name, "status": status, "suite": suite, "module": module,
            "case": name.split(":")[-1], "lane": lane}


KMOD = "kunit-kernel-x86_64-kmod"


class JudgeTest(unittest.TestCase):
    def test_killed_by_ours_upstream_missed(self):
        r = tree.judge({"cases": [
            case(KMOD + ":lazy_mmu_test:lazy_mmu_nesting:nesting_depth", "fail", "lazy_mmu_nesting"),
            case(KMOD + ":upstream_lazy_mmu_mode_kunit:upstream_lazy_mmu_mode:lazy_mmu_mode_active",
                 "pass", "upstream_lazy_mmu_mode"),
            case(KMOD + ":kernel:log_clean", "fail", None)]})
        self.assertEqual(tree.line(r), "killed kernel:log_clean, nesting_depth; upstream missed it")

    def test_survived_and_known(self):
        cases = [case(KMOD + ":lazy_mmu_test:lazy_mmu_nesting:sleep_at_max_pause", "fail",
                      "lazy_mmu_nesting"),
                 case(KMOD + ":upstream_lazy_mmu_mode_kunit:upstream_lazy_mmu_mode:x", "fail",
                      "upstream_lazy_mmu_mode")]
        r = tree.judge({"cases": cases}, known=["sleep_at_max_pause"])
        self.assertEqual(tree.line(r), "survived; upstream killed it")

    def test_upstream_did_not_run(self):
        self.assertEqual(tree.line(tree.judge({"cases": []})), "survived; upstream did not run")

    def test_rebuild_names_the_lane(self):
        r = tree.judge({"cases": [
            case("kunit-powerpc-hash-p8:kunit:lazy_mmu_nesting:powerpc_hash_tlb_batch", "fail",
                 "lazy_mmu_nesting"),
            case("kunit-powerpc-hash-p8:kunit:lazy_mmu_mode:lazy_mmu_mode_active", "fail",
                 "lazy_mmu_mode")]}, keep_lane=True)
        self.assertEqual(tree.line(r), "killed kunit-powerpc-hash-p8:powerpc_hash_tlb_batch; "
                         "upstream killed it")


class TouchedTest(unittest.TestCase):
    def test_plus_lines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as f:
            f.write("Mutant: x\n--- a/include/linux/pgtable.h\n+++ b/include/linux/pgtable.h\t2026\n"
                    "@@ -1 +1 @@\n-a\n+b\n--- a/mm/vmalloc.c\n+++ b/mm/vmalloc.c\n")
        try:
            self.assertEqual(tree.touched(f.name), ["include/linux/pgtable.h", "mm/vmalloc.c"])
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
