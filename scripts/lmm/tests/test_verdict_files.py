# SPDX-License-Identifier: GPL-2.0-only
"""ktap-verdict's files as data: results.json, junit.xml and
results.kcidb.json for recorded consoles (scripts/tests/fixtures), and
--merge of two lanes.  The KTAP text itself is checked by
scripts/tests/test_ktap_verdict.sh; the files against their real
consumers (kunit.py parse, a JUnit schema, KCIDB's schema) by
scripts/tests/test_ci_outputs.py in make check."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from lmm import pipeline

FIXTURES = os.path.join(pipeline.SCRIPTS, "tests", "fixtures")
VERDICT = os.path.join(pipeline.SCRIPTS, "ktap-verdict")


class VerdictFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dirs = {}
        for name, lane, log in (("pass", "amd64", "pass.log"),
                                ("fail", "arm64-7.3.4+deb13", "param_fail.log"),
                                ("skip", "amd64", "all_skip.log")):
            d = os.path.join(cls.tmp.name, name)
            subprocess.run([sys.executable, VERDICT, "--lane", lane, "--console",
                            os.path.join(FIXTURES, log), "--outdir", d, "--quiet"])
            cls.dirs[name] = d

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def json(self, name):
        with open(os.path.join(self.dirs[name], "results.json")) as f:
            return json.load(f)

    def junit(self, name):
        return ET.parse(os.path.join(self.dirs[name], "junit.xml")).getroot()

    def test_pass_json(self):
        j = self.json("pass")
        self.assertEqual((j["lane"], j["verdict"], j["totals"]["skip"]), ("amd64", "pass", 1))
        params = [p["name"] for c in j["cases"] if c["case"] == "nest_depth" for p in c["params"]]
        self.assertEqual(params, ["depth=1", "depth=2", "depth=8", "depth=17"])
        self.assertEqual(j["counters"]["after"]["taint"], 12288)

    def test_pass_junit(self):
        """Parameters are the testcases of their case's suite, and the
        case is not counted again (kunit.py --junit's layout)."""
        r = self.junit("pass")
        suites = {s.get("name"): s for s in r.findall("testsuite")}
        basic = suites["amd64.lazy_mmu_kunit.lazy_mmu_basic"]
        self.assertEqual([t.get("name") for t in basic.findall("testcase")], ["enter_leave", "pte_batch"])
        nest = suites["amd64.lazy_mmu_kunit.lazy_mmu_basic.nest_depth"]
        self.assertEqual([t.get("name") for t in nest.findall("testcase")],
                         ["depth=1", "depth=2", "depth=8", "depth=17"])
        # tests = the KTAP leaves: 9 cases, of which one has 4 parameters.
        self.assertEqual((r.get("tests"), r.get("failures"), r.get("skipped")), ("12", "0", "1"))
        self.assertEqual(sum(int(s.get("tests")) for s in suites.values()), 12)
        props = {p.get("name"): p.get("value") for p in basic.iter("property")}
        self.assertEqual((props["lane"], props["kernel_release"], props["compiler"]),
                         ("amd64", "6.12.57+deb13-amd64", "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0"))

    def test_junit_time_from_printk_stamps(self):
        """A case's time runs from the previous result at its level (or
        its suite's plan) to its own result line."""
        r = self.junit("pass")
        times = {t.get("name"): t.get("time") for t in r.iter("testcase")}
        self.assertEqual(times["enter_leave"], "%.6f" % (1.102500 - 1.102030))
        self.assertEqual(times["depth=2"], "%.6f" % (1.103100 - 1.103000))
        case = next(c for c in self.json("pass")["cases"] if c["case"] == "nest_depth")
        self.assertAlmostEqual(case["duration"], 1.103500 - 1.102500)

    def test_param_fail_junit(self):
        failed = [t.get("name") for t in self.junit("fail").iter("testcase")
                  if t.find("failure") is not None]
        self.assertEqual(failed, ["depth=17"])
        self.assertEqual(self.junit("fail").get("failures"), "1")

    def test_kcidb(self):
        with open(os.path.join(self.dirs["fail"], "results.kcidb.json")) as f:
            k = json.load(f)
        self.assertEqual(k["version"]["major"], 5)
        (build,) = k["builds"]
        self.assertEqual(build["status"], "PASS")
        self.assertEqual(build["checkout_id"], k["checkouts"][0]["id"])
        by_path = {t["path"]: t for t in k["tests"]}
        self.assertEqual(by_path["lazy_mmu_kunit.lazy_mmu_basic.nest_depth.depth_17"]["status"], "FAIL")
        self.assertEqual(by_path["lazy_mmu_kunit.lazy_mmu_basic.nest_depth"]["status"], "FAIL")
        self.assertEqual(by_path["kernel.log_clean"]["status"], "PASS")
        self.assertNotIn("lazy_mmu_kunit.lazy_mmu_basic", by_path)     # a suite is a group
        self.assertTrue(all("output_files" not in t for t in k["tests"]))     # no --url-base
        self.assertIn("EXPECTATION FAILED",
                      by_path["lazy_mmu_kunit.lazy_mmu_basic.nest_depth.depth_17"]["log_excerpt"])

    def test_kcidb_miss(self):
        """Tests a plan promised but the guest never reported are MISS."""
        d = os.path.join(self.tmp.name, "truncated")
        subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console",
                        os.path.join(FIXTURES, "truncated.log"), "--outdir", d, "--quiet",
                        "--meta", "checkout=Debian linux 6.12.57-1", "--meta", "arch=x86_64"])
        with open(os.path.join(d, "results.kcidb.json")) as f:
            k = json.load(f)
        status = {t["path"]: t["status"] for t in k["tests"]}
        self.assertEqual(status["lazy_mmu_test.lazy_mmu_pte_batch.test_2"], "MISS")
        self.assertEqual(status["lazy_mmu_test.lazy_mmu_pte_batch.test_3"], "MISS")
        self.assertEqual(status["lazy_mmu_test.lazy_mmu_pte_batch.incomplete"], "FAIL")
        self.assertEqual(k["builds"][0]["architecture"], "x86_64")
        self.assertEqual(k["checkouts"][0]["comment"], "Debian linux 6.12.57-1")
        # KTAP and JUnit have the failing "incomplete" case, no MISS leaves.
        with open(os.path.join(d, "results.ktap")) as f:
            self.assertNotIn("test_2", f.read())

    def test_kcidb_miss_by_name(self):
        """With the module's case list (LMM-CASES, from the guest's task-state
        probe) a MISS is named after its case."""
        d = os.path.join(self.tmp.name, "crash")
        console = os.path.join(self.tmp.name, "crash.log")
        with open(os.path.join(FIXTURES, "unterminated.log")) as f:
            text = f.read()
        with open(console, "w") as f:
            f.write("LMM-CASES lazy_mmu_test nest_simple nest_in_irq_disabled nest_across_schedule \n" + text)
        subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console", console, "--outdir", d,
                        "--quiet", "--qemu-status", "error:2"])
        with open(os.path.join(d, "results.kcidb.json")) as f:
            miss = [t["path"] for t in json.load(f)["tests"] if t["status"] == "MISS"]
        self.assertIn("lazy_mmu_test.lazy_mmu_nesting.nest_across_schedule", miss)

    def test_bad_meta(self):
        p = subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console",
                            os.path.join(FIXTURES, "pass.log"), "--meta", "colour=blue"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("KEY one of", p.stderr)

    def test_all_skip_json(self):
        self.assertEqual(self.json("skip")["verdict"], "skip")

    def test_merge(self):
        out = os.path.join(self.tmp.name, "merged")
        rc = subprocess.run([sys.executable, VERDICT, "--merge", out, self.dirs["pass"],
                             self.dirs["skip"], "--quiet"]).returncode
        self.assertEqual(rc, 0)
        junit = ET.parse(os.path.join(out, "junit.xml")).getroot()
        # The same lane twice: a label each, so no two reports share an id.
        self.assertEqual({s.get("name").split(".")[0] for s in junit.findall("testsuite")}, {"amd64", "amd64_2"})
        with open(os.path.join(out, "results.kcidb.json")) as f:
            k = json.load(f)
        self.assertEqual(len({b["id"] for b in k["builds"]}), 2)
        self.assertEqual(len({t["id"] for t in k["tests"]}), len(k["tests"]))
        self.assertEqual(junit.get("tests"), str(12 + 6))
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
        self.assertEqual(j["verdict"], "pass")
        self.assertEqual([l["verdict"] for l in j["lanes"]], ["pass", "skip"])

    def test_console_past_the_limit_fails(self):
        """A console larger than the limit is read only up to it, and
        fails the boot even when all it printed first passed (issue 20,
        item 10: a 165 MB console took 900 MB to parse).  The limit is
        lowered for the test (LMM_CONSOLE_LIMIT, which can only lower it)."""
        with open(os.path.join(FIXTURES, "pass.log"), "rb") as f:
            text = f.read()
        big = os.path.join(self.tmp.name, "flood.log")
        with open(big, "wb") as f:
            f.write(text + b"WARNING: a guest printing in a loop\n" * 2000)
        out = os.path.join(self.tmp.name, "flood")
        env = dict(os.environ, LMM_CONSOLE_LIMIT=str(len(text) + 1000))
        rc = subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console", big,
                             "--outdir", out, "--quiet"], env=env).returncode
        self.assertEqual(rc, 1)
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
        self.assertEqual((j["verdict"], j["qemu_status"]), ("fail", "error:console over 0 MiB"))
        env["LMM_CONSOLE_LIMIT"] = str(1 << 40)            # never raised
        rc = subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console",
                             os.path.join(FIXTURES, "pass.log"), "--outdir", out, "--quiet"],
                            env=env).returncode
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
