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
from lmm import lanes, pipeline, qemu  # noqa: E402

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

    def test_no_colon_in_a_bound_path(self):
        """Each file's directory is bound into the build root through a
        colon-separated list: a ':' would split it into other paths."""
        lane = lanes.load(lanes.DEFAULT_TABLE).lane("amd64")
        for what in ("kernel", "initrd", "console"):
            paths = dict(kernel="/k/vmlinuz", initrd="/i/initrd.gz", console="/c/console.log")
            paths[what] = "/a:/b/" + what
            with self.assertRaisesRegex(qemu.BootError, "--%s: no ':' allowed" % what):
                qemu.Boot(lane=lane, **paths).command()
        self.assertEqual(pipeline.path_list(["/a", "/b c", "/a"]), "/a:/b c")
        with self.assertRaisesRegex(pipeline.StepError, "no ':' allowed.*: /x:/y"):
            pipeline.path_list(["/a", "/x:/y"])

    def test_console_limit(self):
        """A console past the limit is cut there, with a line saying so."""
        with tempfile.TemporaryDirectory() as d:
            for size, whole in ((1000, True), (5000, False)):
                src = os.path.join(d, "src")
                with open(src, "wb") as f:
                    f.write(b"x" * size)
                log = os.path.join(d, "log")
                with open(src, "rb", buffering=0) as raw, open(log, "wb") as out:
                    self.assertEqual(pipeline.copy_bounded(io.BufferedReader(raw), out, 4096,
                                                           b"LMM-RUNNER-ERROR the console passed"), whole)
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


def fake_elf(pvh: bool) -> bytes:
    """An ELF64 header, one PT_NOTE segment with a Xen note (PHYS32_ENTRY
    when PVH, another type otherwise) and a GNU note."""
    import struct
    notes = b""
    for name, ntype, desc in ((b"GNU\0", 3, b"\1" * 20), (b"Xen\0", 18 if pvh else 17, b"\0" * 4)):
        notes += struct.pack("<III", len(name), len(desc), ntype) + name + desc
    phoff = 64
    hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, phoff, 0, 0, 64, 56, 1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 4, 4, phoff + 56, 0, 0, len(notes), len(notes), 4)
    return hdr + ph + notes


def fake_bzimage(payload: bytes) -> bytes:
    """A bzImage setup header (protocol 2.15, 3 setup sectors) before
    PAYLOAD."""
    import struct
    img = bytearray(4 * 512 + 100)
    img[0x1f1] = 3
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x20f)
    struct.pack_into("<II", img, 0x248, 100, len(payload))
    return bytes(img) + payload


class PvhTest(unittest.TestCase):
    def test_pvh_note_found_only_when_there(self):
        self.assertTrue(qemu.has_pvh_note(fake_elf(True)))
        self.assertFalse(qemu.has_pvh_note(fake_elf(False)))
        self.assertFalse(qemu.has_pvh_note(b"MZ" + bytes(100)))

    def test_payload_of_a_bzimage(self):
        self.assertEqual(qemu.bzimage_payload(fake_bzimage(b"abc")), b"abc")
        self.assertIsNone(qemu.bzimage_payload(b"\x7fELF" + bytes(0x300)))

    def test_gzip_and_xz_payloads_checked_against_their_size(self):
        import gzip
        import lzma
        import struct
        elf = fake_elf(True)
        self.assertEqual(qemu.decompress(gzip.compress(elf), "/nonexistent"), elf)
        xz = lzma.compress(elf, check=lzma.CHECK_CRC32)
        self.assertEqual(qemu.decompress(xz + struct.pack("<I", len(elf)), "/nonexistent"), elf)
        self.assertIsNone(qemu.decompress(xz + struct.pack("<I", len(elf) + 1), "/nonexistent"))

    def test_elf_kept_once_and_none_remembered(self):
        import gzip
        with tempfile.TemporaryDirectory() as d:
            old = os.environ.get("LMM_CACHE")
            os.environ["LMM_CACHE"] = d
            try:
                for pvh in (True, False):
                    k = os.path.join(d, "bzImage-%s" % pvh)
                    with open(k, "wb") as f:
                        f.write(fake_bzimage(gzip.compress(fake_elf(pvh))))
                    got = qemu.pvh_elf(k, "/nonexistent")
                    if pvh:
                        with open(got, "rb") as f:
                            self.assertEqual(f.read(), fake_elf(True))
                        self.assertEqual(qemu.pvh_elf(k, "/nonexistent"), got)
                    else:
                        self.assertIsNone(got)
                        self.assertEqual(len([n for n in os.listdir(os.path.join(d, "pvh"))
                                              if n.endswith(".none")]), 1)
            finally:
                if old is None:
                    del os.environ["LMM_CACHE"]
                else:
                    os.environ["LMM_CACHE"] = old


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
