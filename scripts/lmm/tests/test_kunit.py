# SPDX-License-Identifier: GPL-2.0-only
"""Tests of the kunit.py lanes' pieces that need no kernel: lane choice,
toolchains from the table, the console made of kunit.py's raw log."""

import os
import sys
import tempfile
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import kunit, lanes, pipeline, qemu  # noqa: E402

LOG = os.path.join(HERE, "fixtures", "kunit_powerpc_hash.log")


class ChoiceTest(unittest.TestCase):
    def setUp(self):
        self.table = lanes.load(lanes.DEFAULT_TABLE)

    def chosen(self, *argv):
        return [l.name for l in kunit.parse_args(list(argv), self.table).chosen]

    def test_defaults_are_kunit_lanes(self):
        names = self.chosen()
        self.assertTrue(names)
        for name in names:
            lane = self.table.lane(name)
            self.assertTrue(lane.is_kunit and lane.default and not lane.xen, name)

    def test_build_kunit_lanes_first(self):
        for build in self.table.builds:
            names = self.chosen("--arch", build, "--xen")
            kinds = [self.table.lane(n).kind for n in names]
            self.assertEqual(kinds, sorted(kinds), build)     # kunit < kunit-kmod
            self.assertTrue(all(self.table.lane(n).build.name == build for n in names))

    def test_xen_only_when_asked(self):
        self.assertFalse(any(self.table.lane(n).xen for n in self.chosen("--arch", "x86_64")))
        self.assertTrue(any(self.table.lane(n).xen for n in self.chosen("--arch", "x86_64", "--xen")))
        self.assertTrue(any(self.table.lane(n).xen for n in self.chosen("--xen")))

    def test_extra_args_after_dashes(self):
        a = kunit.parse_args(["kunit-x86_64", "--", "--filter", "x"], self.table)
        self.assertEqual(a.extra, ["--filter", "x"])
        self.assertEqual([l.name for l in a.chosen], ["kunit-x86_64"])

    def test_refusals(self):
        for argv in (["amd64"], ["no-such-lane"], ["--arch", "sparc64x"], ["--bogus"],
                     ["--timeout", "-1"], ["--timeout", "x"]):
            with self.assertRaises(SystemExit) as cm, open(os.devnull, "w") as null:
                err, sys.stderr = sys.stderr, null
                try:
                    kunit.parse_args(argv, self.table)
                finally:
                    sys.stderr = err
            self.assertEqual(cm.exception.code, 2, argv)


class ToolchainTest(unittest.TestCase):
    def test_cross_and_native(self):
        t = lanes.load(lanes.DEFAULT_TABLE)
        kunit_args, make = t.build("arm64").toolchain(native=False)
        self.assertIn("--cross_compile=aarch64-linux-gnu-", kunit_args)
        self.assertIn("CC=ccache aarch64-linux-gnu-gcc-14", kunit_args)
        self.assertEqual(make, ["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-",
                                "CC=aarch64-linux-gnu-gcc-14", "HOSTCC=gcc-14"])
        kunit_args, make = t.build("x86_64").toolchain(native=True)
        self.assertFalse(any(a.startswith("--cross_compile") for a in kunit_args))
        self.assertEqual(make, ["ARCH=x86_64", "CC=gcc-14", "HOSTCC=gcc-14"])
        kunit_args, make = t.build("powerpc").toolchain(native=False)
        self.assertIn("--arch=powerpcle", kunit_args)
        self.assertEqual(make[0], "ARCH=powerpc")
        sparc = t.build("sparc64")
        kunit_args, make = sparc.toolchain(native=False)
        self.assertIn("--arch=sparc64", kunit_args)
        self.assertEqual(make[:2], ["ARCH=sparc", "CROSS_COMPILE=sparc64-linux-gnu-"])
        self.assertIn("# CONFIG_KFENCE is not set", sparc.kconfig_add)
        self.assertEqual((sparc.arch.cpus(2), sparc.arch.kunit.exit_arg, t.build("x86_64").arch.kunit.exit_arg),
                         (1, "lmm.exit=poweroff", "lmm.exit=reboot"))
        f = t.build("x86_64").fields(native=True)
        self.assertEqual((f["srcarch"], f["image"], f["make"]),
                         ("x86", "arch/x86/boot/bzImage", "ARCH=x86_64 CC=gcc-14 HOSTCC=gcc-14"))


class ConsoleTest(unittest.TestCase):
    def console(self, text, mmu="Hash"):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "kunit.log")
            with open(log, "w") as f:
                f.write(text)
            out = os.path.join(d, "console.log")
            kunit.kunit_console(log, out, mmu)
            with open(out) as f:
                return f.read().splitlines(), kunit.boot_warnings(
                    out, "DEBUG_LOCKS_WARN_ON(lockdep_hardirq_context())")

    def test_log_past_the_limit_is_never_complete(self):
        with open(LOG) as f:
            text = f.read()
        full, _ = self.console(text)
        self.assertIn("LMM-DONE", full)
        with mock.patch.object(qemu, "CONSOLE_LIMIT", len(text) - 10):
            cut, _ = self.console(text + "x" * 100)
        self.assertNotIn("LMM-DONE", cut)
        self.assertTrue(any("the rest was not read" in l for l in cut), cut[-3:])

    def test_output_is_bounded_while_written(self):
        """kunit.py's output file stops at the limit, with a line saying
        so; the command still runs to its end (its own timeout ends a
        flood), and what it wrote before the flood is kept."""
        flood = "import sys; print('begin'); sys.stdout.flush(); sys.stdout.write('x' * 300000); print('end')"
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "kunit.log")
            rc, _ = pipeline._run("flood", [sys.executable, "-c", flood + "; sys.exit(3)"], ok=None,
                                  output=out, limit=100000)
            self.assertEqual(rc, 3)
            with open(out, "rb") as f:
                data = f.read()
            self.assertTrue(data.startswith(b"begin\n"))
            self.assertEqual(len(data.split(b"\nLMM-RUNNER-ERROR")[0]), 100000)
            self.assertTrue(data.endswith(b"LMM-RUNNER-ERROR the output passed 0 MiB: the rest was dropped\n"))
            self.assertNotIn(b"end", data)
            # Under the limit: all of it, nothing added.
            pipeline._run("small", [sys.executable, "-c", "print('end')"], output=out, limit=100000)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), b"end\n")

    def test_kernel_part_markers_and_mmu(self):
        with open(LOG) as f:
            lines, warnings = self.console(f.read())
        self.assertEqual(lines[0], "LMM-BEGIN kunit")
        self.assertTrue(lines[1].endswith("] Starting KUnit Kernel (1/1)..."))
        self.assertNotIn("Building", "".join(lines))
        self.assertIn("LMM-END kunit rc=0", lines)
        self.assertIn("LMM-DONE", lines)
        self.assertEqual(lines[-1], "LMM: MMU: Hash")
        self.assertEqual(warnings, 1)

    def test_kernel_that_never_started(self):
        lines, warnings = self.console("[19:01:03] Building KUnit Kernel ...\nerror: make failed\n")
        self.assertEqual(lines, ["LMM-BEGIN kunit", "LMM-END kunit rc=0"])
        self.assertEqual(warnings, 0)

    def test_no_totals_no_done(self):
        with open(LOG) as f:
            text = f.read().replace("# Totals:", "# Tot")
        lines, _ = self.console(text, mmu="")
        self.assertNotIn("LMM-DONE", lines)
        self.assertFalse(any(l.startswith("LMM: MMU") for l in lines))


if __name__ == "__main__":
    unittest.main()
