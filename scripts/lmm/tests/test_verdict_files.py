# SPDX-License-Identifier: GPL-2.0-only
"""ktap-verdict's files as data: results.json and junit.xml for recorded
consoles (scripts/tests/fixtures), and --merge of two lanes.  The KTAP
text itself is checked by scripts/tests/test_ktap_verdict.sh."""

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
        r = self.junit("pass")
        suite = r.find("testsuite")
        self.assertEqual((suite.get("tests"), suite.get("failures")), ("13", "0"))
        self.assertTrue(any(t.get("name") == "nest_depth[depth=17]"
                            and t.get("classname") == "amd64.lazy_mmu_kunit.lazy_mmu_basic"
                            for t in r.iter("testcase")))

    def test_param_fail_junit(self):
        failed = [t.get("name") for t in self.junit("fail").iter("testcase")
                  if t.find("failure") is not None]
        self.assertEqual(failed, ["nest_depth", "nest_depth[depth=17]"])

    def test_all_skip_json(self):
        self.assertEqual(self.json("skip")["verdict"], "skip")

    def test_merge(self):
        out = os.path.join(self.tmp.name, "merged")
        rc = subprocess.run([sys.executable, VERDICT, "--merge", out, self.dirs["pass"],
                             self.dirs["skip"], "--quiet"]).returncode
        self.assertEqual(rc, 0)
        self.assertEqual(len(ET.parse(os.path.join(out, "junit.xml")).getroot().findall("testsuite")), 2)
        with open(os.path.join(out, "results.json")) as f:
            j = json.load(f)
        self.assertEqual(j["verdict"], "pass")
        self.assertEqual([l["verdict"] for l in j["lanes"]], ["pass", "skip"])


if __name__ == "__main__":
    unittest.main()
