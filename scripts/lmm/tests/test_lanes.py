# SPDX-License-Identifier: GPL-2.0-only
"""Tests of the lane table reader (python3 -m unittest discover scripts/lmm/tests)."""

import copy
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from lmm import lanes  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "minimal.json")
LANES_CMD = os.path.join(os.path.dirname(os.path.dirname(HERE)), "lanes")


def fixture():
    with open(FIXTURE, encoding="utf-8") as f:
        return json.load(f)


class TableTest(unittest.TestCase):
    def parse(self, data):
        return lanes.parse(json.dumps(data), "test.json")

    def assertRejected(self, data, message):
        with self.assertRaises(lanes.TableError) as cm:
            self.parse(data)
        self.assertIn(message, str(cm.exception))

    def test_fixture(self):
        t = self.parse(fixture())
        self.assertEqual([l.name for l in t.lanes], ["amd64", "amd64-xen"])
        self.assertEqual([l.name for l in t.default_lanes()], ["amd64"])
        xen = t.lane("amd64-xen")
        self.assertIs(xen.kernel, t.pin("kernel-amd64"))
        self.assertEqual(xen.xen.version, "4.20.4-1")
        self.assertEqual(xen.fields()["kernel_version"], "7.3.4-1~bpo13+1")
        self.assertEqual(xen.fields()["xen_pin"], "xen")
        self.assertEqual(t.lane("amd64").fields()["default"], "1")
        # Boot facts: the arch's unless the lane overrides them.
        amd64 = t.lane("amd64")
        self.assertEqual((amd64.machine, amd64.cpu, amd64.console, amd64.mem),
                         ("pc", "max", "ttyS0", 1024))
        self.assertEqual((xen.console, xen.mem, xen.append), ("hvc0", 512, "dom0_debug=1"))
        self.assertEqual(xen.fields()["cc"], "x86_64-linux-gnu-gcc-14")
        self.assertEqual(t.packages(), ["gcc-14", "qemu-system-x86"])

    def test_repository_table(self):
        """The table in the repository parses, and every pin is used."""
        t = lanes.load(lanes.DEFAULT_TABLE)
        used = {l.kernel.name for l in t.lanes} | {l.xen.name for l in t.lanes if l.xen}
        used |= {"linux-source"} | {a.busybox.name for a in t.arches.values()}
        self.assertEqual(set(t.pins) - used, set())
        self.assertEqual({l.arch.name for l in t.lanes}, set(t.arches))
        # Every build is booted, and its kunitconfig fragments exist.
        self.assertEqual({l.build.name for l in t.lanes if l.build}, set(t.builds))
        for b in t.builds.values():
            for frag in b.kunitconfig:
                self.assertTrue(os.path.isfile(os.path.join(lanes.TOP, "kunit", frag)), frag)

    def test_kunit_lanes(self):
        d = fixture()
        d["arches"]["amd64"]["kunit"] = {"arch": "x86_64", "make_arch": "x86_64",
                                         "srcarch": "x86", "image": "arch/x86/boot/bzImage"}
        d["pins"]["linux-source"] = {"package": "linux-source-7.3", "version": "7.3.4-1",
                                     "suite": "trixie-backports"}
        d["builds"] = {"x86_64": {"arch": "amd64", "source": "linux-source",
                                  "kunitconfig": ["x86_64.kunitconfig"]}}
        d["lanes"] += [{"name": "kunit-x86_64", "kind": "kunit", "build": "x86_64",
                        "default": True, "timeout": 600},
                       {"name": "kunit-kernel-x86_64-xen", "kind": "kunit-kmod",
                        "build": "x86_64", "xen": "xen", "console": "hvc0"}]
        t = self.parse(copy.deepcopy(d))
        k = t.lane("kunit-x86_64")
        # kunit.py's own QEMU config unless the row says otherwise.
        self.assertEqual((k.machine, k.cpu, k.console, k.mem, k.timeout), ("", "", "", 0, 600))
        self.assertIs(k.kernel, t.pin("linux-source"))
        x = t.lane("kunit-kernel-x86_64-xen")
        self.assertEqual((x.machine, x.console, x.xen.name), ("pc", "hvc0", "xen"))
        self.assertEqual([l.name for l in t.default_lanes()], ["amd64"])
        self.assertEqual([l.name for l in t.default_lanes(lanes.KUNIT_KINDS)], ["kunit-x86_64"])
        self.assertEqual([l.name for l in t.build_lanes("x86_64")], ["kunit-x86_64"])
        self.assertEqual(len(t.build_lanes("x86_64", xen=True)), 2)
        self.assertIn("linux-source-7.3 7.3.4-1 + x86_64.kunitconfig", lanes.table_line(k))
        cases = [
            (lambda d: d["lanes"][2].update(kernel="kernel-amd64"), "takes its kernel from its build"),
            (lambda d: d["lanes"][2].update(build="nope"), "build 'nope' is not in 'builds'"),
            (lambda d: d["lanes"][2].update(xen="xen"), "kunit.py does not boot Xen"),
            (lambda d: d["lanes"][2].update(timeout=0), "'timeout' must be seconds"),
            (lambda d: d["lanes"][0].update(build="x86_64"), "only kunit lanes name a build"),
            (lambda d: d["builds"]["x86_64"].update(kunitconfig=["../x"]), "'kunitconfig' must be"),
            (lambda d: d["builds"]["x86_64"].update(source="kernel-amd64"), "is not a package pin"),
            (lambda d: d["arches"]["amd64"].pop("kunit"), "has no 'kunit' entry"),
            (lambda d: d["arches"]["amd64"]["kunit"].update(image="/etc/passwd"), "bad image"),
        ]
        for change, message in cases:
            with self.subTest(message=message):
                e = copy.deepcopy(d)
                change(e)
                self.assertRejected(e, message)

    def test_arch_without_debian_kernels(self):
        """sparc64: no Debian kernel (no flavour or image), QEMU's default
        CPU, one CPU at most, busybox from a source pin, fragments
        overridden through kconfig_add."""
        d = fixture()
        d["arches"]["sparc64"] = {
            "cross": "sparc64-linux-gnu-", "gcc": "gcc-14", "packages": ["bzip2"],
            "busybox": "busybox-sparc64", "qemu": "qemu-system-sparc64", "machine": "sun4u",
            "console": "ttyS0", "mem": 1024, "smp_max": 1, "lazy_mmu": "yes",
            "kunit": {"arch": "sparc64", "make_arch": "sparc", "srcarch": "sparc",
                      "image": "arch/sparc/boot/image"}}
        d["pins"]["busybox-sparc64"] = {"package": "busybox", "arch": "sparc64", "version": "1:1.37.0-6",
                                        "suite": "trixie", "dsc_sha256": "ab" * 32}
        d["pins"]["linux-source"] = {"package": "linux-source-7.3", "version": "7.3.4-1",
                                     "suite": "trixie-backports"}
        d["builds"] = {"sparc64": {"arch": "sparc64", "source": "linux-source",
                                   "kunitconfig": ["sparc64.kunitconfig"],
                                   "kconfig_add": ["# CONFIG_KFENCE is not set", "CONFIG_X=y"]}}
        d["lanes"].append({"name": "kunit-kernel-sparc64-kmod", "kind": "kunit-kmod", "build": "sparc64"})
        t = self.parse(copy.deepcopy(d))
        lane = t.lane("kunit-kernel-sparc64-kmod")
        self.assertEqual((lane.cpu, lane.machine, lane.arch.flavour), ("", "sun4u", ""))
        self.assertEqual((lane.arch.cpus(2), t.arch("amd64").cpus(2)), (1, 2))
        self.assertEqual(t.build("sparc64").kconfig_add, ("# CONFIG_KFENCE is not set", "CONFIG_X=y"))
        self.assertEqual(t.pin("busybox-sparc64").fields()["dsc_sha256"], "ab" * 32)
        self.assertNotIn("-cpu", lanes.table_line(lane))
        cases = [
            (lambda d: d["arches"]["sparc64"].update(image="vmlinux"), "give both 'flavour' and 'image'"),
            (lambda d: d["arches"]["sparc64"].update(smp_max=100), "'smp_max' must be a CPU count"),
            (lambda d: d["pins"].update({"kernel-sparc64": {"arch": "sparc64", "abi": "7.3", "version": "7.3-1",
                                                            "suite": "sid"}}), "has no Debian kernel flavour"),
            (lambda d: d["pins"]["busybox-sparc64"].update(dsc_sha256="abc"), "bad dsc_sha256"),
            (lambda d: d["pins"]["kernel-amd64"].update(dsc_sha256="ab" * 32), "a kernel pin has no"),
            (lambda d: d["builds"]["sparc64"].update(kconfig_add=["CONFIG_X=y; reboot"]), "'kconfig_add' must be"),
            (lambda d: d["builds"]["sparc64"].update(kconfig_add="CONFIG_X=y"), "'kconfig_add' must be"),
        ]
        for change, message in cases:
            with self.subTest(message=message):
                e = copy.deepcopy(d)
                change(e)
                self.assertRejected(e, message)

    def test_unknown_lane_and_pin(self):
        t = self.parse(fixture())
        with self.assertRaises(KeyError):
            t.lane("sparc64")
        with self.assertRaises(KeyError):
            t.pin("kernel-s390x")

    def test_rejects(self):
        cases = [
            (lambda d: d["lanes"][0].pop("kernel"), "lane 'amd64': 'kernel' is missing"),
            (lambda d: d["lanes"][0].update(qemu="x"), "unknown field(s) qemu"),
            (lambda d: d["lanes"][0].update(kernel="nope"), "kernel 'nope' is not a kernel pin"),
            (lambda d: d["lanes"][0].update(kernel="xen"), "kernel 'xen' is not a kernel pin"),
            (lambda d: d["lanes"][1].update(xen="kernel-amd64"), "is not a package pin"),
            (lambda d: (d["arches"].update(arm64=dict(d["arches"]["amd64"], busybox="busybox-arm64")),
                        d["pins"].update({"busybox-arm64": dict(d["pins"]["busybox-amd64"], arch="arm64")}),
                        d["lanes"][0].update(arch="arm64")), "is for amd64, the lane is arm64"),
            (lambda d: d["lanes"][0].update(arch="sparc64"), "arch 'sparc64' is not in 'arches'"),
            (lambda d: d["lanes"][0].update(mem=True), "'mem' must be MiB"),
            (lambda d: d["lanes"][0].update(append="a;b"), "bad append"),
            (lambda d: d["lanes"][0].update(cpu="max -bios evil"), "bad cpu"),
            (lambda d: d["arches"]["amd64"].update(packages="gcc"), "'packages' must be a list"),
            (lambda d: d["arches"]["amd64"].update(busybox="xen"), "is not a package pin for amd64"),
            (lambda d: d["arches"]["amd64"].update(cross="x86_64"), "bad cross"),
            (lambda d: d["arches"]["amd64"].pop("qemu"), "'qemu' is missing"),
            (lambda d: d["pins"]["kernel-amd64"].update(arch="s390x"), "arch 's390x' is not in 'arches'"),
            (lambda d: d["lanes"][0].update(default="yes"), "'default' must be true or false"),
            (lambda d: d["lanes"].append(copy.deepcopy(d["lanes"][0])), "listed twice"),
            (lambda d: d["pins"]["kernel-amd64"].update(version="7.3; rm -rf /"), "bad version"),
            (lambda d: d["pins"]["kernel-amd64"].update(package="linux"), "either 'abi'"),
            (lambda d: d["pins"]["kernel-amd64"].pop("arch"), "'arch' is missing"),
            (lambda d: d["pins"]["xen"].pop("suite"), "'suite' is missing"),
            (lambda d: d.update(extra=1), "unknown field(s) extra"),
            (lambda d: d["arches"]["amd64"].update(lazy_mmu="no\nkernel_pin=x"), "control character"),
        ]
        for change, message in cases:
            with self.subTest(message=message):
                d = fixture()
                change(d)
                self.assertRejected(d, message)

    def test_not_json(self):
        with self.assertRaises(lanes.TableError) as cm:
            lanes.parse("{", "x.json")
        self.assertIn("x.json: not JSON", str(cm.exception))


class CommandTest(unittest.TestCase):
    def run_lanes(self, *args):
        env = dict(os.environ, LMM_LANES=FIXTURE)
        return subprocess.run([sys.executable, LANES_CMD, *args], env=env,
                              capture_output=True, text=True, check=False)

    def test_table_one_line_per_lane_name_first(self):
        r = self.run_lanes()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l.split()[0] for l in r.stdout.splitlines()], ["amd64", "amd64-xen"])

    def test_lane_key_value(self):
        r = self.run_lanes("lane", "amd64-xen")
        self.assertEqual(r.returncode, 0, r.stderr)
        kv = dict(l.split("=", 1) for l in r.stdout.splitlines())
        self.assertEqual(kv["console"], "hvc0")
        self.assertEqual(kv["qemu"], "qemu-system-x86_64")
        self.assertEqual(kv["kernel_abi"], "7.3.4+deb13")

    def test_bad_requests_exit_2(self):
        for args in (["lane", "nope"], ["pin", "nope"], ["bogus"]):
            with self.subTest(args=args):
                r = self.run_lanes(*args)
                self.assertEqual(r.returncode, 2)
                self.assertTrue(r.stderr.strip())


if __name__ == "__main__":
    unittest.main()
