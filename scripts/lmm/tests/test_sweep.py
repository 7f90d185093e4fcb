# SPDX-License-Identifier: GPL-2.0-only
"""The mutant sweep over recorded consoles: ktap-verdict --split judges
each part of a sweep's console on its own, and the sweep's boot loop gives
every mutant exactly one result (a crash is the running mutant's kill, the
rest boot again; a failed control reruns a boot's mutants one by one).

The consoles are real: sweep_panic_amd64.log is a sweep whose third part
(a mutant that panics) killed the guest, sweep_rest_amd64.log the boot
that ran the mutant after it.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from types import SimpleNamespace

from lmm import pipeline, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
VERDICT = os.path.join(pipeline.SCRIPTS, "ktap-verdict")


def split(console: str, status: str, outdir: str) -> dict:
    subprocess.run([sys.executable, VERDICT, "--lane", "amd64", "--console",
                    os.path.join(FIXTURES, console), "--qemu-status", status,
                    "--split", outdir, "--quiet"], check=True)
    with open(os.path.join(outdir, "sweep.json")) as f:
        return json.load(f)


class SplitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def results(self, name):
        with open(os.path.join(self.out, name, "results.json")) as f:
            return json.load(f)

    def test_parts_in_console_order(self):
        index = split("sweep_rest_amd64.log", "ok", self.out)
        self.assertEqual([p["name"] for p in index["parts"]],
                         ["baseline", "02-enable-pause-check-off-by-one", "control"])
        self.assertEqual([p["verdict"] for p in index["parts"]], ["pass", "fail", "pass"])
        self.assertTrue(all(p["finished"] for p in index["parts"]))

    def test_a_part_is_judged_alone(self):
        split("sweep_rest_amd64.log", "ok", self.out)
        fails = sweep.failing_cases(self.results("02-enable-pause-check-off-by-one"))
        self.assertIn("calls_ignored_while_paused", fails)
        # Its own counters and completion, not the other parts' modules.
        names = [c["name"] for c in self.results("02-enable-pause-check-off-by-one")["cases"]]
        self.assertIn("amd64:guest:completed", names)
        self.assertIn("amd64:kernel:counters", names)
        self.assertFalse([n for n in names if ":lmm_base:" in n])
        self.assertEqual(sweep.failing_cases(self.results("baseline")), [])

    def test_the_part_the_guest_died_in(self):
        index = split("sweep_panic_amd64.log", "ok", self.out)
        parts = {p["name"]: p for p in index["parts"]}
        self.assertEqual(list(parts), ["baseline", "01-enable-counts-while-paused", "90-selftest-panics"])
        self.assertTrue(parts["01-enable-counts-while-paused"]["finished"])
        self.assertFalse(parts["90-selftest-panics"]["finished"])
        self.assertEqual(parts["90-selftest-panics"]["verdict"], "fail")
        done = [c for c in self.results("90-selftest-panics")["cases"] if c["name"] == "amd64:guest:completed"]
        self.assertEqual(done[0]["status"], "fail")
        self.assertIn("kernel panic", done[0]["reason"])
        # The earlier part kept its own verdict: the guest went on after it.
        self.assertNotIn("guest:completed", sweep.failing_cases(self.results("01-enable-counts-while-paused")))


def part(name, verdict="pass", finished=True, fails=()):
    cases = [{"name": "amd64:lmm_m01:lazy_mmu_nesting:" + f, "status": "fail"} for f in fails]
    return {"name": name, "verdict": verdict, "finished": finished, "dir": "/boot/" + name,
            "results": {"cases": cases}}


class FakeLane(sweep.LaneSweep):
    """The boot loop with recorded boots: plan maps a boot's mark list to its parts."""

    def __init__(self, plan):
        self.lane = SimpleNamespace(name="amd64")
        self.results, self.boots, self.plan, self.booted = {}, 0, plan, []

    def boot(self, marks):
        self.boots += 1
        self.booted.append(tuple(marks))
        parts = self.plan[tuple(marks)]
        return {"dir": "/boot-%d" % self.boots, "status": "ok",
                "parts": {p["name"]: p for p in parts}}


class BootLoopTest(unittest.TestCase):
    def test_one_boot_for_all(self):
        lane = FakeLane({("a", "b"): [part("baseline"), part("a", "fail", fails=["x"]),
                                      part("b"), part("control")]})
        lane.run(["a", "b"])
        self.assertEqual(lane.booted, [("a", "b")])
        self.assertEqual(lane.results["a"].line(), "killed x")
        self.assertEqual(lane.results["b"].status, "survived")

    def test_a_crash_of_the_first_mutant_kills_it_and_the_rest_boot_again(self):
        lane = FakeLane({("b", "c"): [part("baseline"), part("b", "fail", False, ["load"])],
                         ("c",): [part("baseline"), part("c", "fail", fails=["y"]), part("control")]})
        lane.run(["b", "c"])
        self.assertEqual(lane.booted, [("b", "c"), ("c",)])
        self.assertEqual(lane.results["b"].status, "killed")
        self.assertIn("did not finish", lane.results["b"].detail)
        self.assertEqual(lane.results["c"].line(), "killed y")

    def test_a_crash_after_other_mutants_is_not_blamed_yet(self):
        # An earlier mutant may have broken the kernel: the ones before the
        # crash boot again with a control, the crasher boots first.
        lane = FakeLane({("a", "b", "c"): [part("baseline"), part("a"), part("b", "fail", fails=["x"]),
                                           part("c", "fail", False, ["load"])],
                         ("a", "b"): [part("baseline"), part("a"), part("b", "fail", fails=["x"]),
                                      part("control")],
                         ("c",): [part("baseline"), part("c"), part("control")]})
        lane.run(["a", "b", "c"])
        self.assertEqual(lane.booted, [("a", "b", "c"), ("a", "b"), ("c",)])
        self.assertEqual([lane.results[m].status for m in "abc"], ["survived", "killed", "survived"])

    def test_a_guest_that_died_between_parts(self):
        lane = FakeLane({("a", "b"): [part("baseline"), part("a", "fail", fails=["x"])],
                         ("a",): [part("baseline"), part("a", "fail", fails=["x"]), part("control")],
                         ("b",): [part("baseline"), part("b"), part("control")]})
        lane.run(["a", "b"])
        self.assertEqual(lane.booted, [("a", "b"), ("a",), ("b",)])
        self.assertEqual([lane.results[m].status for m in "ab"], ["killed", "survived"])

    def test_a_missing_control_is_a_failed_one(self):
        lane = FakeLane({("a", "b"): [part("baseline"), part("a"), part("b")],
                         ("a",): [part("baseline"), part("a"), part("control")],
                         ("b",): [part("baseline"), part("b"), part("control")]})
        lane.run(["a", "b"])
        self.assertEqual(lane.booted, [("a", "b"), ("a",), ("b",)])

    def test_a_failed_control_reruns_each_mutant_alone(self):
        lane = FakeLane({("a", "b"): [part("baseline"), part("a", "fail", fails=["x"]),
                                      part("b", "fail", fails=["x"]), part("control", "fail")],
                         ("a",): [part("baseline"), part("a", "fail", fails=["x"]), part("control", "fail")],
                         ("b",): [part("baseline"), part("b"), part("control")]})
        lane.run(["a", "b"])
        self.assertEqual(lane.booted, [("a", "b"), ("a",), ("b",)])
        self.assertEqual(lane.results["a"].status, "killed")
        self.assertEqual(lane.results["b"].status, "survived")

    def test_a_red_baseline_stops_the_lane(self):
        lane = FakeLane({("a",): [part("baseline", "fail", fails=["x"]), part("a"), part("control")]})
        with self.assertRaises(pipeline.StepError) as e:
            lane.run(["a"])
        self.assertIn("red baseline", str(e.exception))

    def test_a_guest_that_never_reached_a_mutant(self):
        lane = FakeLane({("a",): [part("baseline")]})
        lane.run(["a"])
        self.assertEqual(lane.results["a"].status, "error")


class CatalogueTest(unittest.TestCase):
    def test_mutant_header(self):
        m = sweep.read_mutant(os.path.join(pipeline.TOP, "mutants", "34-arm64-flush-keeps-pending-flag.patch"), 3)
        self.assertEqual(m.arches, ["arm64"])
        self.assertEqual(m.module, "lmm_m03")
        self.assertTrue(m.runs_on("arm64"))
        self.assertFalse(m.runs_on("amd64"))
        self.assertFalse(m.runs_on("ppc64el"))
        self.assertTrue(m.runs_on("ppc64el", "arm64"))

    def test_bad_input(self):
        with self.assertRaises(sweep.UsageError):
            sweep.collect(["/no/such/mutant.patch"])
        with self.assertRaises(sweep.UsageError):
            sweep.read_mutant(os.path.join(pipeline.TOP, "mutants", "README.md"), 1)


class KvTest(unittest.TestCase):
    def test_kv(self):
        self.assertEqual(pipeline.kv("qemu-status=ok\nKDIR=/usr/src/x=y\nnoise\n"),
                         {"qemu-status": "ok", "KDIR": "/usr/src/x=y"})


if __name__ == "__main__":
    unittest.main()
