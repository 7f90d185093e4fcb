# SPDX-License-Identifier: GPL-2.0-only
"""make check's step table and its scheduler (scripts/lmm/check.py), over
fake steps that end when the test says so, and a few real processes."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from lmm import check
from lmm.check import Step, step


class Sim:
    """Steps that run for a number of ticks each; records what ran beside
    what."""

    def __init__(self, ticks):
        self.ticks = dict(ticks)
        self.left = {}
        self.started, self.ended = [], []
        self.beside = []           # (step, the steps running when it started)

    def start(self, s):
        self.beside.append((s.name, sorted(self.left)))
        self.started.append(s.name)
        self.left[s.name] = self.ticks.get(s.name, 1)
        return s.name

    def poll(self, h):
        return 0 if self.left[h] <= 0 else None

    def end(self, s, rc):
        del self.left[s.name]
        self.ended.append(s.name)

    def wait(self):
        for k in self.left:
            self.left[k] -= 1

    def run(self, steps, jobs):
        check.schedule(steps, jobs, self.start, self.poll, self.end, self.wait)
        return self

    def alongside(self, name):
        return dict(self.beside)[name]


class TestSchedule(unittest.TestCase):
    def test_one_job_is_table_order(self):
        steps = [step(n, "true") for n in "abcd"]
        sim = Sim({"a": 3, "b": 1, "c": 2}).run(steps, 1)
        self.assertEqual(sim.started, list("abcd"))
        self.assertEqual(sim.ended, list("abcd"))

    def test_two_jobs_fill_both_slots(self):
        steps = [step(n, "true") for n in "abcd"]
        sim = Sim({"a": 5, "b": 1, "c": 1, "d": 1}).run(steps, 2)
        self.assertEqual(sim.started, list("abcd"))
        self.assertEqual(sim.ended[-1], "a")
        self.assertEqual(sim.alongside("d"), ["a"])

    def test_barrier_runs_alone_between_the_rows_above_and_below(self):
        steps = [step("a", "true"), step("b", "true"), step("root", "true", barrier=True),
                 step("c", "true"), step("d", "true")]
        sim = Sim({"a": 4, "root": 2}).run(steps, 2)
        self.assertEqual(sim.alongside("root"), [])
        self.assertEqual(sim.started.index("root"), 2)
        self.assertLess(sim.ended.index("a"), sim.ended.index("root"))
        self.assertLess(sim.ended.index("root"), sim.started.index("c") + 1)
        self.assertEqual(sim.alongside("c"), [])

    def test_an_owner_runs_beside_no_user(self):
        steps = [step("user1", "true", uses=["k"]), step("user2", "true", uses=["k"]),
                 step("owner", "true", owns=["k"]), step("other", "true")]
        sim = Sim({"user1": 4, "user2": 1, "owner": 3}).run(steps, 2)
        self.assertEqual(sim.alongside("user2"), ["user1"])      # users share
        self.assertFalse({"user1", "user2"} & set(sim.alongside("owner")))
        # "other" needs nothing of theirs: it does not wait for the owner.
        self.assertLess(sim.started.index("other"), sim.started.index("owner"))

    def test_a_waiting_owner_is_not_overtaken_on_its_cache(self):
        steps = [step("user1", "true", uses=["k"]), step("owner", "true", owns=["k"]),
                 step("user2", "true", uses=["k"]), step("user3", "true", uses=["k"])]
        sim = Sim({"user1": 3}).run(steps, 2)
        self.assertEqual(sim.started, ["user1", "owner", "user2", "user3"])
        self.assertEqual(sim.alongside("owner"), [])

    def test_a_users_waiting_owner_goes_first(self):
        steps = [step("owner1", "true", owns=["k"]), step("owner2", "true", owns=["k"]),
                 step("free", "true")]
        sim = Sim({"owner1": 3, "owner2": 3}).run(steps, 2)
        self.assertEqual(sim.alongside("free"), ["owner1"])
        self.assertNotIn("owner1", sim.alongside("owner2"))

    def test_after_waits_for_its_inputs(self):
        steps = [step("producer", "true"), step("consumer", "true", after=["producer"]),
                 step("free", "true")]
        sim = Sim({"producer": 4}).run(steps, 2)
        self.assertLess(sim.ended.index("producer"), sim.started.index("consumer") + 1)
        self.assertEqual(sim.alongside("free"), ["producer"])


class TestTable(unittest.TestCase):
    def test_after_must_name_a_step_above(self):
        with self.assertRaisesRegex(ValueError, "not a step above"):
            check.check_table([step("a", "true", after=["b"]), step("b", "true")])

    def test_names_are_unique(self):
        with self.assertRaisesRegex(ValueError, "twice"):
            check.check_table([step("a", "true"), step("a", "true")])

    def test_every_step_runs_a_program_of_the_project(self):
        for s in check.STEPS:
            with self.subTest(step=s.name):
                prog = s.argv[0]
                self.assertTrue(prog == sys.executable or os.access(prog, os.X_OK), prog)
                for a in s.argv:
                    if a.endswith(".patch"):
                        self.assertTrue(os.path.isfile(a), a)

    def test_the_build_root_is_made_before_anything_uses_it(self):
        names = [s.name for s in check.STEPS]
        root = names.index("ktap_verdict_selftest")
        self.assertTrue(check.STEPS[root].barrier)
        for s in check.STEPS[:root]:
            self.assertIn(s.name, ("lane_table_unittests", "mirror_fallback_and_pins"))

    def test_a_step_reading_another_ones_output_comes_after_it(self):
        outs = {}
        for s in check.STEPS:
            for a in s.argv:
                if a.startswith("{out}/") and s.name not in outs.values():
                    outs.setdefault(a.split("/")[1], s.name)
        for s in check.STEPS:
            for a in s.argv[1:]:
                if a.startswith("{out}/"):
                    producer = outs[a.split("/")[1]]
                    if producer != s.name:
                        self.assertIn(producer, s.after, f"{s.name} reads {a}")


def pid_in(path: str) -> int:
    """The PID a test's process writes into PATH, once it is there."""
    for _ in range(200):
        if os.path.exists(path) and os.path.getsize(path):
            break
        time.sleep(0.05)
    with open(path) as f:
        return int(f.read())


def gone(pid: int) -> bool:
    """PID ends within 5 s (else it is killed, and False)."""
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return False


class TestRunner(unittest.TestCase):
    def test_ktap_lines_in_table_order_with_exits_and_summaries(self):
        sh = "/bin/sh"
        steps = [step("slow_pass", sh, "-c", "sleep 0.6; echo '# Totals: pass:3 fail:0'"),
                 step("fast_fail", sh, "-c", "echo why; exit 3"),
                 step("skips", sh, "-c", "exit 4", want=4)]
        with tempfile.TemporaryDirectory() as out:
            runner = check.Runner(steps, out)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
                check.schedule(steps, 2, runner.start, runner.poll, runner.ended)
            text = buf.getvalue()
            with open(os.path.join(out, "steps.tsv")) as f:
                tsv = [line.split("\t")[:2] for line in f]
        results = [line.split(" # ")[0] for line in text.splitlines() if line.startswith(("ok", "not ok"))]
        self.assertEqual(results, ["ok 1 slow_pass", "not ok 2 fast_fail", "ok 3 skips"])
        self.assertIn("#   slow_pass: Totals: pass:3 fail:0", text)
        self.assertIn("# fast_fail: exit 3, expected 0", text)
        self.assertIn("#   why", text)
        self.assertEqual(sorted(tsv), [["fast_fail", "3"], ["skips", "4"], ["slow_pass", "0"]])

    def test_a_missing_program_fails_its_step(self):
        steps = [step("missing", "/nonexistent/prog")]
        with tempfile.TemporaryDirectory() as out:
            runner = check.Runner(steps, out)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                check.schedule(steps, 1, runner.start, runner.poll, runner.ended)
            self.assertEqual(runner.results["missing"][0], 127)
            with open(os.path.join(out, "missing.log")) as f:
                self.assertIn("cannot start", f.read())

    def test_a_stop_reaches_what_a_step_started(self):
        # A shell whose child ignores nothing and outlives a TERM to the
        # shell alone: bash waits for its foreground child before it
        # dies, and the child (a gate's cp, a guest) would run on.
        with tempfile.TemporaryDirectory() as out:
            pidf = os.path.join(out, "child.pid")
            steps = [step("parent", "/bin/sh", "-c", 'sleep 300 & echo $! > "$1"; wait', "sh", pidf)]
            runner = check.Runner(steps, out)
            with contextlib.redirect_stderr(io.StringIO()):
                runner.start(steps[0])
                child = pid_in(pidf)
                runner.stop(signal.SIGTERM)
            self.assertTrue(gone(child), "the step's child outlived the stop")
            runner.files.pop("parent").close()


class TestSigtermStopsSteps(unittest.TestCase):
    """pipeline.stop_steps_on_sigterm(), which every runner installs
    (cli.start): a SIGTERM to a runner reaches the step it is running."""

    def test_the_step_goes_with_the_runner(self):
        with tempfile.TemporaryDirectory() as d:
            pidf = os.path.join(d, "step.pid")
            code = ("import sys; sys.path.insert(0, %r)\n"
                    "from lmm import pipeline\n"
                    "pipeline.stop_steps_on_sigterm()\n"
                    "pipeline._run('x', ['/bin/sh', '-c', 'echo $$ > %s; exec sleep 300'], ok=None)\n"
                    % (os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), pidf))
            runner = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
            step_pid = pid_in(pidf)
            runner.terminate()
            self.assertNotEqual(runner.wait(timeout=20), 0)
            self.assertTrue(gone(step_pid), "the step outlived its runner's SIGTERM")


if __name__ == "__main__":
    unittest.main()
