# SPDX-License-Identifier: GPL-2.0-only
"""Tests of the tree-mutant judge: which cases killed a mutant, and what
upstream's test did, from a run's results.json; and how a mutant names
the series it needs."""

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


class SeriesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_header_line(self):
        m = self.write("m.patch", "Mutant: x\nArch: x86\nSeries: xen-pv-lazy-mmu.mbox\n\n"
                       "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-Series: no\n+b\n")
        self.assertEqual(tree.mutant_series(m), "xen-pv-lazy-mmu.mbox")
        n = self.write("n.patch", "Mutant: x\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-Series: no\n+b\n")
        self.assertEqual(tree.mutant_series(n), "")

    def test_the_repository_series_exist(self):
        self.assertEqual([os.path.basename(p) for p in tree.series_patches("xen-pv-lazy-mmu.mbox")],
                         ["xen-pv-lazy-mmu.mbox"])
        self.assertTrue(tree.series_patches("arm64-update-range-prot-unnested")[0].endswith(".patch"))
        with self.assertRaises(tree.sweep.UsageError):
            tree.series_patches("no-such-series")

    def test_combined_in_order(self):
        a = self.write("a.patch", "--- a/f\n+++ b/f\n")
        b = self.write("b.patch", "Mutant: y\n\n--- a/g\n+++ b/g\n")
        out = tree.combined([a, b], os.path.join(self.dir, "all.patch"))
        self.assertEqual(tree.touched(out), ["f", "g"])



class FreshOutputTest(unittest.TestCase):
    """A run into a directory an earlier (killed) run used starts empty:
    its results.json or overlay must not be read as this run's."""

    def test_a_rebuild_that_writes_nothing_is_no_stale_pass(self):
        with tempfile.TemporaryDirectory() as out:
            d = os.path.join(out, "m", "x86_64")
            os.makedirs(d)
            os.makedirs(d + ".ovl/u/arch")
            with open(os.path.join(d, "results.json"), "w") as f:
                f.write('{"cases": [{"name": "l:upstream_lazy_mmu_mode:x", "status": "pass", '
                        '"suite": "upstream_lazy_mmu_mode", "module": "m", "case": "x", "lane": "l"}]}')
            h = tree.Rebuild.__new__(tree.Rebuild)
            h.touch, h.ksrc, h.mbd, h.upsrc, h.known = [], "/k", "/b", "/u", []
            h.bdir = "/c/kunit-build/sparc64"
            h.seconds, h.boots = {}, 0
            h.build = type("B", (), {"name": "x86_64"})()
            h.args = type("A", (), {"lane": [], "xen": False, "timeout": 0})()
            h.overlay = lambda m, ovl, touch=(), bind=(): []
            seen = {}

            def run(what, argv, ok=None, output=None):
                seen["ovl"] = os.path.exists(d + ".ovl/u/arch")
                return 1, ""     # kunit failed before writing any result
            old, tree.pipeline._run = tree.pipeline._run, run
            try:
                r = h.one(None, d)
            finally:
                tree.pipeline._run = old
            self.assertEqual(r.status, "error")
            self.assertFalse(seen["ovl"])
            self.assertFalse(os.path.exists(os.path.join(d, "results.json")))


class TimeoutTest(unittest.TestCase):
    def test_a_rebuild_passes_its_timeout_to_every_boot(self):
        """mutate --tree --rebuild --timeout SEC: each lane's boot (kunit.py
        and the plain-module ones) ends after SEC, not the lane's own."""
        with tempfile.TemporaryDirectory() as out:
            h = tree.Rebuild.__new__(tree.Rebuild)
            h.touch, h.ksrc, h.mbd, h.upsrc, h.known = [], "/k", "/b", "/u", []
            h.bdir = "/c/kunit-build/sparc64"
            h.seconds, h.boots = {}, 0
            h.build = type("B", (), {"name": "sparc64"})()
            h.overlay = lambda m, ovl, touch=(), bind=(): []
            seen = []

            def run(what, argv, ok=None, output=None):
                seen.append(list(argv))
                return 1, ""
            old, tree.pipeline._run = tree.pipeline._run, run
            try:
                for t in (0, 120):
                    h.args = type("A", (), {"lane": [], "xen": False, "timeout": t})()
                    h.one(None, os.path.join(out, str(t)))
            finally:
                tree.pipeline._run = old
            self.assertNotIn("--timeout", seen[0])
            self.assertEqual(seen[1][seen[1].index("--timeout") + 1], "120")
            from lmm import kunit, lanes
            a = kunit.parse_args(["--arch", "sparc64", "--timeout", "120"], lanes.load(lanes.DEFAULT_TABLE))
            self.assertEqual(a.timeout, 120)


class TouchTest(unittest.TestCase):
    def test_only_the_first_baseline_after_the_seed_touches_nothing(self):
        """The mutants' build directory is seeded with the lane's objects
        of the unmutated tree and shown at the lane's path: the baseline
        run first needs no file made newer (no relink); every mutant,
        and a baseline after one, does."""
        with tempfile.TemporaryDirectory() as out:
            h = tree.Rebuild.__new__(tree.Rebuild)
            h.touch, h.ksrc, h.mbd, h.upsrc, h.known = ["mm/memory.c"], "/k", "/b", "/u", []
            h.bdir = "/c/kunit-build/x86_64"
            h.seconds, h.boots, h.seeded = {}, 0, True
            h.build = type("B", (), {"name": "x86_64"})()
            h.args = type("A", (), {"lane": [], "xen": False, "timeout": 0})()
            touched, binds = [], []
            h.overlay = lambda m, ovl, touch=(), bind=(): touched.append(list(touch)) or binds.append(bind) or []
            old, tree.pipeline._run = tree.pipeline._run, lambda *a, **k: (1, "")
            try:
                mutant = tree.Mutant(path="/m.patch", name="m", what="", arches=[], index=1)
                h.one(None, os.path.join(out, "baseline"))
                h.one(mutant, os.path.join(out, "m"))
                h.one(None, os.path.join(out, "baseline-again"))
            finally:
                tree.pipeline._run = old
            self.assertEqual(touched, [[], ["mm/memory.c"], ["mm/memory.c"]])
            # Every run at the lane's own path (kbuild records paths).
            self.assertEqual(set(binds), {("/b/x86_64", "/c/kunit-build/x86_64")})


if __name__ == "__main__":
    unittest.main()
