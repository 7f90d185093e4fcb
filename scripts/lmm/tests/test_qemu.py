# SPDX-License-Identifier: GPL-2.0-only
"""QEMU command lines built from the lane table, against recorded ones."""

import io
import os
import shlex
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import lanes, qemu  # noqa: E402

RECORDED = os.path.join(HERE, "fixtures", "qemu-commands.txt")


def commands():
    """lane -> the command line boot builds for it, in the repository's
    table (kunit.py boots the kunit lanes itself)."""
    out = {}
    for lane in lanes.load(lanes.DEFAULT_TABLE).lanes:
        if lane.kind == "kunit":
            continue
        b = qemu.Boot(lane=lane, kernel="/k/vmlinuz", initrd="/i/initrd.gz",
                      console="/c/console.log", xen="/x/xen" if lane.xen else None,
                      append="kfence.sample_interval=1 ", smp=2)
        out[lane.name] = shlex.join(b.command())
    return out


class CommandTest(unittest.TestCase):
    def test_recorded(self):
        """Every recorded lane's command line is still the recorded one (see
        the fixture's header to re-record after a deliberate change).  A lane
        added since is built too, but has no recording to match."""
        recorded = {}
        with open(RECORDED, encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    name, cmd = line.rstrip("\n").split(": ", 1)
                    recorded[name] = cmd
        built = commands()
        self.assertEqual({n: built.get(n) for n in recorded}, recorded)

    def test_sparc64_one_cpu_default_cpu(self):
        """sun4u takes one CPU and its default CPU: no -cpu, -smp capped."""
        lane = lanes.load(lanes.DEFAULT_TABLE).lane("kunit-kernel-sparc64-kmod")
        argv = qemu.Boot(lane=lane, kernel="/k/image", initrd="/i/initrd.gz",
                         console="/c/console.log", smp=2).command()
        self.assertNotIn("-cpu", argv)
        self.assertEqual(argv[argv.index("-smp") + 1], "1")
        self.assertEqual(argv[argv.index("-M") + 1], "sun4u")

    def test_xen_needs_image_and_no_commas(self):
        table = lanes.load(lanes.DEFAULT_TABLE)
        xen = table.lane("amd64-xen")
        with self.assertRaises(qemu.BootError):
            qemu.Boot(lane=xen, kernel="/k", initrd="/i", console="/c").command()
        with self.assertRaises(qemu.BootError):
            qemu.Boot(lane=xen, kernel="/k", initrd="/i", console="/c", xen="/x",
                      append="a=1,2").command()

    def test_console_limit(self):
        """A console past the limit is cut there, with a line saying so."""
        with tempfile.TemporaryDirectory() as d:
            for size, whole in ((1000, True), (5000, False)):
                src = os.path.join(d, "src")
                with open(src, "wb") as f:
                    f.write(b"x" * size)
                log = os.path.join(d, "log")
                with open(src, "rb", buffering=0) as raw, open(log, "wb") as out:
                    self.assertEqual(qemu.copy_console(io.BufferedReader(raw), out, 4096), whole)
                with open(log, "rb") as f:
                    data = f.read()
                if whole:
                    self.assertEqual(data, b"x" * size)
                else:
                    self.assertTrue(data.startswith(b"x" * 4096 + b"\nLMM-RUNNER-ERROR the console passed"))
                    self.assertEqual(data.count(b"x"), 4096)

    def test_pseries_nvram(self):
        """The header SLOF writes: signature, checksum, 4096 blocks, name."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "nvram")
            qemu.pseries_nvram(path)
            with open(path, "rb") as f:
                data = f.read()
        self.assertEqual(len(data), 65536)
        self.assertEqual(data[:16], bytes([0x7f, 0x29, 0x10, 0x00]) + b"w" * 12)
        self.assertEqual(data[16:], bytes(65536 - 16))


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        with open(RECORDED, "w", encoding="utf-8") as f:
            f.write("# QEMU command line per lane of lanes.json (kernel /k/vmlinuz,\n"
                    "# initrd /i/initrd.gz, console /c/console.log, Xen /x/xen).\n"
                    "# Re-record after a deliberate change:\n"
                    "#   python3 scripts/lmm/tests/test_qemu.py --record\n")
            for name, cmd in commands().items():
                f.write(f"{name}: {cmd}\n")
    else:
        unittest.main()
