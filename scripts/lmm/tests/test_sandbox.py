# SPDX-License-Identifier: GPL-2.0-only
"""The sandbox's Python side (lmm.pipeline, lmm.kunit, lmm.qemu): the
directories the sandbox uid writes, the results taken out of them as root
without following what it planted, the steps' arguments in the sandbox,
and make check's hostile-series step.  No build root is needed: the
commands are recorded, not run."""

import argparse
import os
import pwd
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import check, kunit, lanes, pipeline, qemu  # noqa: E402

UID = 64980


def sandbox_env(on: bool):
    env = {k: v for k, v in os.environ.items() if k not in ("LMM_SANDBOX", "LMM_SANDBOX_UID")}
    if on:
        env["LMM_SANDBOX"] = "1"
    return mock.patch.dict(os.environ, env, clear=True)


class TakeOutputsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.src = os.path.join(self.tmp.name, "sandbox")
        self.dst = os.path.join(self.tmp.name, "lane")
        os.makedirs(self.src)
        os.makedirs(self.dst)
        self.secret = os.path.join(self.tmp.name, "secret")
        with open(self.secret, "w") as f:
            f.write("host secret\n")

    def tearDown(self):
        self.tmp.cleanup()

    def put(self, name, data=b"x"):
        with open(os.path.join(self.src, name), "wb") as f:
            f.write(data)

    def test_regular_files_are_taken_and_the_sandbox_directory_goes(self):
        self.put("results.json", b'{"verdict": "pass"}\n')
        self.put("junit.xml", b"<x/>")
        self.assertEqual(pipeline.take_outputs(self.src, self.dst), [])
        with open(os.path.join(self.dst, "results.json"), "rb") as f:
            self.assertEqual(f.read(), b'{"verdict": "pass"}\n')
        self.assertTrue(os.path.isfile(os.path.join(self.dst, "junit.xml")))
        self.assertFalse(os.path.exists(self.src))

    def test_a_planted_link_is_not_followed(self):
        os.symlink(self.secret, os.path.join(self.src, "kunit.json"))
        # A link where the file is to land is replaced, not written through.
        os.symlink(self.secret, os.path.join(self.dst, "results.json"))
        self.put("results.json", b"new")
        with open(os.devnull, "w") as null, mock.patch.object(sys, "stderr", null):
            refused = pipeline.take_outputs(self.src, self.dst)
        self.assertEqual(refused, ["kunit.json"])
        self.assertFalse(os.path.exists(os.path.join(self.dst, "kunit.json")))
        self.assertFalse(os.path.islink(os.path.join(self.dst, "results.json")))
        with open(self.secret) as f:
            self.assertEqual(f.read(), "host secret\n")

    def test_fifos_directories_and_large_files_are_left_out(self):
        os.mkfifo(os.path.join(self.src, "fifo"))
        os.makedirs(os.path.join(self.src, "dir"))
        self.put("big", b"y" * 101)
        self.put("small", b"y" * 100)
        with open(os.devnull, "w") as null, mock.patch.object(sys, "stderr", null):
            refused = pipeline.take_outputs(self.src, self.dst, limit=100)
        self.assertEqual(refused, ["big", "dir", "fifo"])
        self.assertEqual(sorted(os.listdir(self.dst)), ["small"])


class SandboxUidTest(unittest.TestCase):
    def uid(self, value):
        with mock.patch.dict(os.environ, {"LMM_SANDBOX_UID": value}):
            return pipeline.sandbox_uid()

    def test_the_default_and_a_chosen_uid(self):
        with sandbox_env(False):
            self.assertEqual(pipeline.sandbox_uid(), UID)
        self.assertEqual(self.uid("64123"), 64123)

    def test_root_a_name_and_an_accounts_uid_are_refused(self):
        account = next((p.pw_uid for p in pwd.getpwall() if p.pw_uid > 0), None)
        for bad in ("0", "nobody", "-5") + ((str(account),) if account else ()):
            with self.assertRaises(pipeline.StepError, msg=bad):
                self.uid(bad)

    @unittest.skipUnless(os.geteuid() == 0, "chown needs root")
    def test_sandbox_dir_is_new_empty_and_the_uids(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            os.makedirs(os.path.join(path, "old"))
            self.assertEqual(pipeline.sandbox_dir(path, UID), path)
            self.assertEqual(os.listdir(path), [])
            self.assertEqual((os.stat(path).st_uid, os.stat(path).st_gid), (UID, UID))


class StepsInTheSandboxTest(unittest.TestCase):
    """What each step asks of scripts/buildroot, sandboxed and not."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.calls = []
        own = mock.patch.object(pipeline, "sandbox_dir", side_effect=self.fake_sandbox_dir)
        own.start()
        self.addCleanup(own.stop)

    def tearDown(self):
        self.tmp.cleanup()

    @staticmethod
    def fake_sandbox_dir(path, uid=None):
        os.makedirs(path, exist_ok=True)
        return path

    def fake_run(self, writes):
        """A _run that records the call and writes WRITES (name -> bytes)
        into the directory named by the option --outdir/--merge/--json
        points at, as the sandboxed command would."""
        def run(step, argv, log=None, env=None, ok=(0,), capture=True, echo=False, output=None, limit=None):
            self.calls.append((list(argv), dict(env or {})))
            for i, a in enumerate(argv):
                target = None
                if a in ("--outdir", "--merge"):
                    target = argv[i + 1]
                elif a.startswith("--json="):
                    target = os.path.dirname(a[len("--json="):])
                if target:
                    for name, data in writes.items():
                        with open(os.path.join(target, name), "wb") as f:
                            f.write(data)
            return 0, ""
        return run

    def test_verdict_writes_into_its_own_directory_then_the_lanes(self):
        lane = os.path.join(self.d, "kunit-x86_64")
        with sandbox_env(True), mock.patch.object(pipeline, "_run", self.fake_run({"results.json": b"{}"})):
            pipeline.verdict(self.d, ["--lane", "l", "--console", "c", "--outdir", lane])
        argv, env = self.calls[0]
        staging = os.path.join(lane, ".sandbox-verdict")
        self.assertEqual(argv[argv.index("--outdir") + 1], staging)
        self.assertEqual(env["LMM_RW"], staging)
        self.assertEqual(env["LMM_BIND"], self.d)
        self.assertTrue(os.path.isfile(os.path.join(lane, "results.json")))
        self.assertFalse(os.path.exists(staging))

    def test_merge_in_the_sandbox_and_verdict_outside_it(self):
        with sandbox_env(True), mock.patch.object(pipeline, "_run", self.fake_run({"results.ktap": b"KTAP"})):
            pipeline.verdict(self.d, ["--merge", self.d, os.path.join(self.d, "lane")])
        argv, env = self.calls[0]
        self.assertEqual(argv[argv.index("--merge") + 1:],
                         [os.path.join(self.d, ".sandbox-verdict"), os.path.join(self.d, "lane")])
        self.assertTrue(os.path.isfile(os.path.join(self.d, "results.ktap")))
        with sandbox_env(False), mock.patch.object(pipeline, "_run", self.fake_run({})):
            pipeline.verdict(self.d, ["--outdir", self.d])
        argv, env = self.calls[1]
        self.assertEqual(argv[argv.index("--outdir") + 1], self.d)
        self.assertNotIn("LMM_RW", env)

    def test_kunit_tool_writes_the_directories_it_is_given(self):
        with sandbox_env(True), mock.patch.object(pipeline, "_run", self.fake_run({})), \
                mock.patch.object(pipeline, "cache_dir", return_value=self.d):
            pipeline.kunit_tool("/k", ["run"], ("/o", "/b"), os.path.join(self.d, "log"), rw=("/b", "/j"))
            pipeline.kunit_tool("/k", ["run"], ("/o", "/b"), os.path.join(self.d, "log"))
        self.assertEqual(self.calls[0][1]["LMM_RW"], "/b:/j")
        self.assertEqual(self.calls[1][1]["LMM_RW"], "")
        self.assertEqual(self.calls[0][1]["LMM_BIND"], "/k:/o:/b")

    def runner(self):
        table = lanes.load(lanes.DEFAULT_TABLE)
        args = argparse.Namespace(build=os.path.join(self.d, "builds"), no_misuse=False, extra=[], timeout=0)
        return kunit.Runner(args, table, os.path.join(self.d, "out"), "/k", {}), table

    def test_kunit_py_in_the_sandbox_writes_its_build_and_json_only(self):
        runner, table = self.runner()
        lane = table.lane("kunit-x86_64")
        bdir = runner.build_dir(lane.build)
        d = runner.lane_dir(lane)
        got = {}

        def tool(ksrc, argv, binds, output, rw=(), suite=None):
            got.update(argv=argv, rw=rw, suite=suite)
            json = [a for a in argv if a.startswith("--json=")][0][len("--json="):]
            with open(json, "w") as f:
                f.write("{}")
            with open(output, "w") as f:
                f.write("")
            return 0
        with sandbox_env(True), mock.patch.object(pipeline, "kunit_tool", tool), \
                open(os.devnull, "w") as null, mock.patch.object(sys, "stderr", null):
            runner.kunit_py(lane, lane.build, bdir, "run", d)
        jdir = os.path.join(d, ".sandbox-kunit")
        self.assertEqual(got["rw"], (bdir, jdir))
        self.assertIn("--json=" + os.path.join(jdir, "kunit.json"), got["argv"])
        self.assertTrue(os.path.isfile(os.path.join(d, "kunit.json")))
        self.assertFalse(os.path.exists(jdir))

    def test_kunit_py_outside_the_sandbox_is_as_before(self):
        runner, table = self.runner()
        lane = table.lane("kunit-x86_64")
        bdir = runner.build_dir(lane.build)
        d = runner.lane_dir(lane)
        got = {}

        def tool(ksrc, argv, binds, output, rw=(), suite=None):
            got.update(argv=argv, rw=rw, suite=suite)
            with open(output, "w") as f:
                f.write("")
            return 0
        with sandbox_env(False), mock.patch.object(pipeline, "kunit_tool", tool), \
                open(os.devnull, "w") as null, mock.patch.object(sys, "stderr", null):
            runner.kunit_py(lane, lane.build, bdir, "run", d)
        self.assertEqual(got["rw"], ())
        self.assertIn("--json=" + os.path.join(d, "kunit.json"), got["argv"])

    def test_pseries_nvram_is_in_a_directory_of_the_sandboxs(self):
        table = lanes.load(lanes.DEFAULT_TABLE)
        lane = next(l for l in table.lanes if l.machine.startswith("pseries") and l.kind != "kunit")
        b = qemu.Boot(lane=lane, kernel="/k", initrd="/i", console="/c/console.log")
        with sandbox_env(True):
            self.assertEqual(b.nvram(), "/c/console.log.nvram.d/nvram")
        with sandbox_env(False):
            self.assertEqual(b.nvram(), "/c/console.log.nvram")


class ConfigValueTest(unittest.TestCase):
    def test_a_link_is_not_read(self):
        with tempfile.TemporaryDirectory() as d:
            real = os.path.join(d, "real")
            with open(real, "w") as f:
                f.write('CONFIG_CC_VERSION_TEXT="gcc-14 (Debian 14.2.0) 14.2.0"\n')
            os.symlink(real, os.path.join(d, ".config"))
            self.assertEqual(pipeline.config_value(real, "CONFIG_CC_VERSION_TEXT"), "gcc-14 (Debian 14.2.0) 14.2.0")
            self.assertEqual(pipeline.config_value(os.path.join(d, ".config"), "CONFIG_CC_VERSION_TEXT"), "")


class CheckStepTest(unittest.TestCase):
    def test_the_hostile_series_runs_after_the_xen_fix_on_the_x86_64_build(self):
        names = [s.name for s in check.STEPS]
        hostile = check.STEPS[names.index("gate_hostile_series_sandboxed")]
        self.assertEqual(hostile.owns, (check.KUNIT_X86,))
        self.assertGreater(names.index(hostile.name), names.index("gate_xen_fix_and_no_apply"))
        self.assertTrue(hostile.argv[0].endswith("scripts/tests/test_hostile_series.sh"))
        self.assertTrue(os.access(hostile.argv[0], os.X_OK))


if __name__ == "__main__":
    unittest.main()
