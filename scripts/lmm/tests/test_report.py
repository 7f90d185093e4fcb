# SPDX-License-Identifier: GPL-2.0-only
"""lmm.report's tree and the formats written from it, on cases made here:
the leaf counts of KTAP, JUnit and KCIDB agree, a group that failed with
no failing leaf below keeps its failure, names stay KTAP- and KCIDB-clean."""

import unittest
import xml.etree.ElementTree as ET

from lmm import report
from lmm.report import Case, Param


def case(module, suite, name, status, params=(), reason="", kind="test", missing=()):
    full = ":".join(["amd64", module] + [p for p in (suite, name) if p])
    return Case(full, module, suite, name, status, reason, [], list(params), "amd64", kind,
                missing=list(missing))


CASES = [
    case("lazy_mmu_test", "lazy_mmu_nesting", "initial_state", "pass"),
    case("lazy_mmu_test", "lazy_mmu_nesting", "nesting_depth", "fail",
         [Param("depth=1", "pass"), Param("depth=255", "fail", "E=254, expected 255")],
         "1 of 2 subtest(s) failed: depth=255"),
    case("lazy_mmu_test", "lazy_mmu_nesting", "arm64_pending_barriers", "skip", reason="arm64 only"),
    case("lazy_mmu_test", "lazy_mmu_nesting", "odd #name", "pass"),
    case("kernel", None, "log_clean", "pass", kind="check"),
]


class TreeTest(unittest.TestCase):
    def test_leaves(self):
        tree = report.lane_tree("amd64", CASES)
        self.assertEqual([l.name for l in tree.leaves()],
                         ["initial_state", "depth=1", "depth=255", "arm64_pending_barriers",
                          "odd _name", "log_clean"])
        self.assertEqual(report.totals(tree.leaves())["fail"], 1)
        self.assertEqual(tree.status, "fail")

    def test_group_failure_without_failing_leaf(self):
        """A suite that said not ok while its cases passed: a "result"
        leaf carries the failure into every count."""
        cases = [case("m", "s", "a", "pass"), case("m", "s", None, "fail", reason="suite reported not ok")]
        tree = report.lane_tree("amd64", cases)
        self.assertEqual([(l.name, l.status) for l in tree.leaves()], [("a", "pass"), ("result", "fail")])
        self.assertIn("not ok 2 result", report.render_ktap([("amd64", cases)]))

    def test_ktap_nests(self):
        text = report.render_ktap([("amd64", CASES)])
        self.assertIn("\n            # Subtest: lazy_mmu_nesting\n", text)
        self.assertIn("\n                not ok 2 depth=255\n", text)
        self.assertIn("\n                # amd64:lazy_mmu_test:lazy_mmu_nesting:nesting_depth[depth=255]:"
                      " E=254, expected 255\n", text)
        self.assertIn("\n            ok 3 arm64_pending_barriers # SKIP arm64 only\n", text)
        # Totals: the leaves (kunit.py's count); the lane's line: its cases.
        self.assertTrue(text.rstrip().endswith("# Totals: pass:4 fail:1 xfail:0 xpass:0 skip:1 error:0"))
        self.assertIn("\n# amd64: 3 passed, 1 failed, 1 skipped\nnot ok 1 amd64\n", text)

    def test_junit_counts_leaves(self):
        root = ET.fromstring(report.render_junit([("amd64", CASES)], {"amd64": {"arch": "x86_64"}}))
        self.assertEqual((root.get("tests"), root.get("failures"), root.get("skipped")), ("6", "1", "1"))
        names = {s.get("name") for s in root.findall("testsuite")}
        self.assertEqual(names, {"amd64.lazy_mmu_test.lazy_mmu_nesting",
                                 "amd64.lazy_mmu_test.lazy_mmu_nesting.nesting_depth", "amd64.kernel"})
        self.assertIn(("arch", "x86_64"), [(p.get("name"), p.get("value")) for p in root.iter("property")])

    def test_same_path_twice_keeps_the_failure(self):
        cases = [case("m", "s", "a", "fail", reason="broken"), case("m", "s", "a", "pass")]
        tree = report.lane_tree("amd64", cases)
        self.assertEqual([l.status for l in tree.leaves()], ["fail"])

    def test_all_skipped_lane(self):
        cases = [case("m", "s", "a", "skip", reason="no mode"), case("kernel", None, "log_clean", "pass",
                                                                      kind="check")]
        self.assertIn("\nok 1 amd64 # SKIP every test case skipped\n", report.render_ktap([("amd64", cases)]))

    def test_kcidb(self):
        cases = CASES + [case("lazy_mmu_test", "lazy_mmu_nesting", "incomplete", "fail",
                              reason="truncated KTAP", missing=["test_7"])]
        doc = report.kcidb([("amd64", cases)], {"amd64": {"checkout": "Debian linux 7.3.4-1"}}, {})
        paths = {t["path"]: t["status"] for t in doc["tests"]}
        self.assertEqual(paths["lazy_mmu_test.lazy_mmu_nesting.nesting_depth.depth_1"], "PASS")
        self.assertEqual(paths["lazy_mmu_test.lazy_mmu_nesting.nesting_depth"], "FAIL")
        self.assertEqual(paths["lazy_mmu_test.lazy_mmu_nesting.odd__name"], "PASS")
        self.assertEqual(paths["lazy_mmu_test.lazy_mmu_nesting.test_7"], "MISS")
        self.assertNotIn("lazy_mmu_test.lazy_mmu_nesting", paths)
        self.assertEqual(len(doc["checkouts"]), 1)
        self.assertTrue(all(t["id"].startswith("lazy_mmu_tests:") for t in doc["tests"]))


if __name__ == "__main__":
    unittest.main()
