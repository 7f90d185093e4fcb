# SPDX-License-Identifier: GPL-2.0-only
"""The lane table: one row per place the suite runs, and the pins.

lanes.json at the top of the repository is the only place a lane's facts
and the pinned package versions live.  This module reads and checks it;
scripts/lanes prints it for people and for the shell steps (key=value
lines, read as data, never executed).

An arch entry holds what every lane of one Debian architecture shares:
the kernel flavour and image (none for an architecture this mirror has
no kernels of), the cross toolchain, the build root's packages for it,
the busybox pin and QEMU's binary, machine, CPU (none: QEMU's default),
console, memory and the most CPUs the machine takes (smp_max), and
kunit.py's name for it (kunit: arch, make_arch, image).
A lane may override machine, cpu, console and mem, and adds kernel
command line (append), the MMU it must run on, a Xen pin and a timeout.

A lane's kind says which kernel it boots:
  debian      Debian's prebuilt image of the lane's kernel pin (scripts/run);
  kunit       a build (see below) run by kunit.py: this suite's KUnit
              module and upstream's lazy_mmu_mode suite (scripts/kunit);
              machine and cpu, when given, override kunit.py's QEMU config;
  kunit-kmod  the same build's kernel booting the plain module from an
              initramfs, through the VM runner (scripts/kunit).
A build is a kernel made from a source pin (Debian's linux-source, or the
tree given with --ksrc) plus kunitconfig fragments from kunit/; every
lane naming it boots that one kernel.  Its boot_warning is a kernel
warning known to fire once during boot, before any test (tolerated by
count, never while tests run); kconfig_add: options that override the
fragments (kunit.py --kconfig_add: the fragments may not contradict one
another, so an arch that lacks an option of the shared .kunitconfig, such
as sparc64's KFENCE, unsets it here); gate: scripts/gate runs the build's lanes
for a series that touches generic code or the build's arch/<srcarch>;
mutate: how `scripts/mutate --tree BUILD` tests a mutant of the tree,
"modules" (the modules rebuilt against the unchanged kernel, which works
where a module can change kernel PTEs) or "rebuild" (the kernel rebuilt
per mutant).

A pin names one Debian package version that `make check` uses:
  kernel pins: arch, abi (Debian's kernel ABI, as in 7.3.4+deb13) and the
  version of the source package the image, headers and kbuild come from;
  package pins: package (and arch for architecture-specific ones) and
  version;
  source pins: a package pin with dsc_sha256, the SHA-256 of the source
  package's .dsc: the guest userland built from Debian's source with the
  cross compiler, for an architecture the mirror has no binaries of
  (sparc64's busybox; scripts/build-busybox).
"""

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TABLE = os.path.join(TOP, "lanes.json")

KINDS = ("debian", "kunit", "kunit-kmod")
KUNIT_KINDS = ("kunit", "kunit-kmod")
MMUS = ("Radix", "Hash")

RE_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
RE_VERSION = re.compile(r"^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$")
RE_ABI = re.compile(r"^[0-9]+\.[0-9]+[A-Za-z0-9.+~]*$")
RE_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")
RE_BINARY = re.compile(r"^[a-z0-9][a-z0-9_.+-]+$")
RE_CROSS = re.compile(r"^[a-z0-9_]+-linux-gnu[a-z0-9_]*-$")
RE_QEMU_OPT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.,=+-]*$")
RE_CMDLINE = re.compile(r"^[A-Za-z0-9_.,=:/+-]+( [A-Za-z0-9_.,=:/+-]+)*$")
RE_CONSOLE = re.compile(r"^[a-zA-Z]+[0-9]*$")
RE_KUNITCONFIG = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.kunitconfig$")
RE_LANE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
RE_BUILD = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
RE_KUNIT_ARCH = re.compile(r"^[a-z0-9_]+$")
RE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
RE_SHA256 = re.compile(r"^[0-9a-f]{64}$")

PIN_KEYS = {"arch", "abi", "version", "suite", "package", "dsc_sha256"}
BOOT_KEYS = {"machine", "cpu", "console", "mem"}
ARCH_KEYS = {"flavour", "unsigned", "image", "cross", "gcc", "packages",
             "busybox", "qemu", "smp_max", "lazy_mmu", "kunit", "kernel_arch", "qemu_pvh"} | BOOT_KEYS
KUNIT_ARCH_KEYS = {"arch", "make_arch", "srcarch", "image", "exit"}
# How a kunit.py-built kernel ends the plain module's boot (lmm.exit=):
# most cannot power off there (x86 without ACPI), so they reboot into
# QEMU's -no-reboot; sparc64's OpenBIOS cannot reboot, it powers off.
KUNIT_EXITS = ("reboot", "poweroff")
BUILD_KEYS = {"arch", "source", "kunitconfig", "kconfig_add", "boot_warning", "gate", "mutate",
              "about"}
# kunit.py's --kconfig_add: one option, set or unset.
RE_KCONFIG = re.compile(r"^(CONFIG_[A-Z0-9_]+=[A-Za-z0-9_\"-]+|# CONFIG_[A-Z0-9_]+ is not set)$")
MUTATE_MODES = ("modules", "rebuild")
LANE_KEYS = {"name", "kind", "arch", "kernel", "build", "default", "newest", "xen",
             "mmu", "append", "timeout", "about"} | BOOT_KEYS


class TableError(Exception):
    """lanes.json is malformed: the message names the entry and field."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    suite: str
    arch: str = ""
    abi: str = ""
    package: str = ""
    dsc_sha256: str = ""    # a source pin: built here from Debian's source

    @property
    def is_kernel(self) -> bool:
        return bool(self.abi)

    def fields(self) -> Dict[str, str]:
        return {"pin": self.name, "arch": self.arch, "abi": self.abi,
                "package": self.package, "version": self.version,
                "suite": self.suite, "dsc_sha256": self.dsc_sha256}


@dataclass(frozen=True)
class KunitArch:
    """kunit.py's view of an arch: --arch, make's ARCH, the kernel's
    source directory under arch/ (SRCARCH), the image in the build, and
    how the guest ends a boot of that kernel (KUNIT_EXITS)."""
    arch: str
    make_arch: str
    srcarch: str
    image: str
    exit: str = "reboot"

    @property
    def exit_arg(self) -> str:
        """The plain module guest's kernel argument for it (scripts/guest/init)."""
        return "lmm.exit=" + self.exit


@dataclass(frozen=True)
class Arch:
    name: str
    flavour: str
    unsigned: bool
    image: str
    cross: str
    gcc: str
    packages: tuple
    busybox: Pin
    qemu: str
    machine: str
    cpu: str
    console: str
    mem: int
    lazy_mmu: str
    kunit: Optional[KunitArch] = None
    smp_max: int = 0        # 0: no limit of the machine's
    kernel_arch: str = ""   # the kernel's ARCH, where no kunit entry gives it
    qemu_pvh: bool = False  # a bzImage boots as its kernel's ELF, PVH entry (lmm.qemu)

    def cpus(self, want: int) -> int:
        """WANT guest CPUs, or as many as the machine takes (sun4u: one)."""
        return min(want, self.smp_max) if self.smp_max else want

    def fields(self) -> Dict[str, str]:
        return {"arch": self.name, "flavour": self.flavour,
                "unsigned": "1" if self.unsigned else "", "image": self.image,
                "cross": self.cross, "gcc": self.gcc, "cc": self.cross + self.gcc,
                "busybox_pin": self.busybox.name, "qemu": self.qemu,
                "smp_max": str(self.smp_max) if self.smp_max else "",
                "lazy_mmu": self.lazy_mmu,
                "kunit_arch": self.kunit.arch if self.kunit else ""}


@dataclass(frozen=True)
class Build:
    """A kernel built from a source pin plus kunitconfig fragments."""
    name: str
    arch: Arch
    source: Pin
    kunitconfig: tuple
    kconfig_add: tuple = ()
    boot_warning: str = ""
    gate: bool = False      # scripts/gate runs it for a series touching its arch
    mutate: str = "modules"     # how scripts/mutate --tree tests a mutant on it
    about: str = ""

    def toolchain(self, native: bool) -> Tuple[List[str], List[str]]:
        """kunit.py's options and the module build's make arguments for
        this build: the arch's gcc, natively on the build root's own
        arch (native), else through its cross prefix."""
        a = self.arch
        cross = "" if native else a.cross
        cc = cross + a.gcc
        kunit = ["--arch=" + a.kunit.arch] + (["--cross_compile=" + cross] if cross else [])
        kunit += ["--make_options", "CC=ccache " + cc, "--make_options", "HOSTCC=" + a.gcc]
        make = ["ARCH=" + a.kunit.make_arch] + (["CROSS_COMPILE=" + cross] if cross else [])
        make += ["CC=" + cc, "HOSTCC=" + a.gcc]
        return kunit, make

    def fields(self, native: bool) -> Dict[str, str]:
        """The build as key=value data for the shell steps."""
        return {"build": self.name, "arch": self.arch.name,
                "kunit_arch": self.arch.kunit.arch, "make_arch": self.arch.kunit.make_arch,
                "srcarch": self.arch.kunit.srcarch, "image": self.arch.kunit.image,
                "kunitconfig": " ".join(self.kunitconfig), "mutate": self.mutate,
                "make": " ".join(self.toolchain(native)[1])}


@dataclass(frozen=True)
class Lane:
    name: str
    kind: str
    arch: Arch
    kernel: Pin
    machine: str
    cpu: str
    console: str
    mem: int
    append: str = ""
    default: bool = False
    newest: bool = False
    xen: Optional[Pin] = None
    mmu: str = ""
    build: Optional[Build] = None
    timeout: int = 0        # 0: the runner's default
    about: str = ""

    @property
    def is_kunit(self) -> bool:
        return self.kind in KUNIT_KINDS

    def fields(self) -> Dict[str, str]:
        """The lane as flat key=value data for the shell steps."""
        f = {"name": self.name, "kind": self.kind,
             "build": self.build.name if self.build else "",
             "timeout": str(self.timeout) if self.timeout else ""}
        f.update(self.arch.fields())
        f.update({"machine": self.machine, "cpu": self.cpu,
                  "console": self.console, "mem": str(self.mem),
                  "append": self.append,
                  "default": "1" if self.default else "",
                  "newest": "1" if self.newest else "",
                  "mmu": self.mmu, "kernel_pin": self.kernel.name,
                  "kernel_abi": self.kernel.abi,
                  "kernel_version": self.kernel.version,
                  "xen_pin": self.xen.name if self.xen else ""})
        return f

    def report_facts(self, smp: int) -> Dict[str, str]:
        """What a report (JUnit properties, KCIDB) says of where the lane
        ran: the kernel's architecture as make names it, the machine."""
        a = self.arch
        if self.machine:
            qemu = "%s -M %s%s, %d MiB, %d CPU(s)%s" % (
                a.qemu, self.machine, " -cpu " + self.cpu if self.cpu else "", self.mem,
                a.cpus(smp), ", Xen PV dom0" if self.xen else "")
        else:       # a kunit.py boot: its own qemu_configs
            qemu = "kunit.py's QEMU for --arch=%s, %d CPU(s)" % (a.kunit.arch if a.kunit else a.name,
                                                                a.cpus(smp))
        return {"arch": a.kunit.make_arch if a.kunit else a.kernel_arch or a.name, "qemu": qemu}


def table_line(lane: Lane) -> str:
    """A lane on one line, name first (scripts/lanes, usage texts)."""
    k = lane.kernel
    if lane.kind == "kunit":
        extra = [f"kunit.py --arch={lane.arch.kunit.arch}"]
        if lane.cpu:
            extra.append(f"-cpu {lane.cpu}")
    else:
        extra = [f"{lane.arch.qemu} -M {lane.machine.split(',')[0]}" +
                 (f" -cpu {lane.cpu}" if lane.cpu else ""), f"console={lane.console}"]
    if lane.append:
        extra.append(lane.append)
    if lane.mmu:
        extra.append(f"mmu={lane.mmu}")
    if lane.xen:
        extra.append(f"xen={lane.xen.version}")
    if lane.default:
        extra.append("default")
    if lane.newest:
        extra.append("newest")
    if lane.build:
        kernel = f"{k.package} {k.version} + {'+'.join(lane.build.kunitconfig)}"
    else:
        kernel = f"{k.abi} ({k.version})"
    return (f"{lane.name:<33} {lane.kind:<10} {lane.arch.name:<8} "
            f"{kernel}  {'  '.join(extra)}")


def _lookup(what: str, plural: str, entries: dict, name: str):
    """entries[name], or a KeyError that lists the names there are."""
    try:
        return entries[name]
    except KeyError:
        raise KeyError(f"no {what} '{name}' ({plural}: "
                       f"{', '.join(sorted(entries))})") from None


@dataclass
class Table:
    pins: Dict[str, Pin] = field(default_factory=dict)
    arches: Dict[str, Arch] = field(default_factory=dict)
    builds: Dict[str, Build] = field(default_factory=dict)
    lanes: List[Lane] = field(default_factory=list)

    def arch(self, name: str) -> Arch:
        return _lookup("arch", "arches", self.arches, name)

    def packages(self) -> List[str]:
        """The build root packages every architecture needs, once each."""
        seen = []
        for a in self.arches.values():
            seen += [p for p in a.packages if p not in seen]
        return seen

    def lane(self, name: str) -> Lane:
        for lane in self.lanes:
            if lane.name == name:
                return lane
        raise KeyError(f"no lane '{name}' (lanes: "
                       f"{', '.join(l.name for l in self.lanes)})")

    def pin(self, name: str) -> Pin:
        return _lookup("pin", "pins", self.pins, name)

    def build(self, name: str) -> Build:
        return _lookup("build", "builds", self.builds, name)

    def default_lanes(self, kinds=("debian",)) -> List[Lane]:
        """The lanes a runner runs when none is named: make run's (Debian
        images) or, with kinds=KUNIT_KINDS, make kunit's."""
        return [lane for lane in self.lanes if lane.default and lane.kind in kinds]

    def newest_lanes(self) -> List[Lane]:
        return [lane for lane in self.lanes if lane.newest]

    def build_lanes(self, build: str, xen: bool = False) -> List[Lane]:
        """Every lane booting BUILD's kernel, in table order (xen: with
        the Xen lanes)."""
        return [lane for lane in self.lanes if lane.build and lane.build.name == build
                and (xen or not lane.xen)]


def _str(entry: str, obj: dict, key: str, pattern=None,
         choices=None, required=True) -> str:
    if key not in obj:
        if required:
            raise TableError(f"{entry}: '{key}' is missing")
        return ""
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise TableError(f"{entry}: '{key}' must be a non-empty string, not {value!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise TableError(f"{entry}: '{key}' holds a control character")
    if pattern is not None and not pattern.match(value):
        raise TableError(f"{entry}: bad {key} {value!r}")
    if choices is not None and value not in choices:
        raise TableError(f"{entry}: {key} {value!r} is not one of {', '.join(choices)}")
    return value


def _unknown(entry: str, obj: dict, known: set) -> None:
    extra = sorted(set(obj) - known)
    if extra:
        raise TableError(f"{entry}: unknown field(s) {', '.join(extra)}")


def _entry(kind: str, name: str, pattern, obj, keys: set) -> str:
    """How a named entry of KIND is called in messages, once its name
    and fields are known to be sound."""
    entry = f"{kind} '{name}'"
    if not pattern.match(name):
        raise TableError(f"{entry}: bad {kind} name")
    if not isinstance(obj, dict):
        raise TableError(f"{entry}: must be an object")
    _unknown(entry, obj, keys)
    return entry


def _mem(entry: str, obj: dict, required: bool) -> int:
    if "mem" not in obj:
        if required:
            raise TableError(f"{entry}: 'mem' is missing")
        return 0
    mem = obj["mem"]
    if not isinstance(mem, int) or isinstance(mem, bool) or not 64 <= mem <= 65536:
        raise TableError(f"{entry}: 'mem' must be MiB between 64 and 65536, not {mem!r}")
    return mem


def _flag(entry: str, obj: dict, key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise TableError(f"{entry}: '{key}' must be true or false")
    return value


def parse_arch(name: str, obj, pins: Dict[str, Pin]) -> Arch:
    entry = _entry("arch", name, RE_NAME, obj, ARCH_KEYS)
    packages = obj.get("packages")
    if (not isinstance(packages, list) or
            not all(isinstance(p, str) and RE_PACKAGE.match(p) for p in packages)):
        raise TableError(f"{entry}: 'packages' must be a list of Debian package names")
    kunit = None
    if "kunit" in obj:
        k = obj["kunit"]
        if not isinstance(k, dict):
            raise TableError(f"{entry}: 'kunit' must be an object")
        _unknown(f"{entry} kunit", k, KUNIT_ARCH_KEYS)
        kunit = KunitArch(arch=_str(f"{entry} kunit", k, "arch", RE_KUNIT_ARCH),
                          make_arch=_str(f"{entry} kunit", k, "make_arch", RE_KUNIT_ARCH),
                          srcarch=_str(f"{entry} kunit", k, "srcarch", RE_KUNIT_ARCH),
                          image=_str(f"{entry} kunit", k, "image", RE_PATH),
                          exit=_str(f"{entry} kunit", k, "exit", choices=KUNIT_EXITS,
                                    required=False) or "reboot")
    bname = _str(entry, obj, "busybox")
    bb = pins.get(bname)
    if bb is None or bb.is_kernel or bb.arch != name:
        raise TableError(f"{entry}: busybox '{bname}' is not a package pin for {name}")
    # No flavour: the mirror has no kernels of this architecture (no
    # kernel pin may name it), only what kunit.py builds.
    flavour = _str(entry, obj, "flavour", RE_NAME, required=False)
    image = _str(entry, obj, "image", choices=("vmlinuz", "vmlinux"), required=False)
    if bool(flavour) != bool(image):
        raise TableError(f"{entry}: give both 'flavour' and 'image' (a Debian kernel), or neither")
    smp_max = obj.get("smp_max", 0)
    if not isinstance(smp_max, int) or isinstance(smp_max, bool) or not 0 <= smp_max <= 64:
        raise TableError(f"{entry}: 'smp_max' must be a CPU count up to 64, not {smp_max!r}")
    return Arch(name=name, flavour=flavour,
                unsigned=_flag(entry, obj, "unsigned"),
                image=image,
                cross=_str(entry, obj, "cross", RE_CROSS),
                gcc=_str(entry, obj, "gcc", RE_NAME), packages=tuple(packages),
                busybox=bb, qemu=_str(entry, obj, "qemu", RE_BINARY),
                machine=_str(entry, obj, "machine", RE_QEMU_OPT),
                cpu=_str(entry, obj, "cpu", RE_QEMU_OPT, required=False),
                console=_str(entry, obj, "console", RE_CONSOLE),
                mem=_mem(entry, obj, True), smp_max=smp_max,
                lazy_mmu=_str(entry, obj, "lazy_mmu"), kunit=kunit,
                kernel_arch=_str(entry, obj, "kernel_arch", RE_KUNIT_ARCH, required=False),
                qemu_pvh=_flag(entry, obj, "qemu_pvh"))


def parse_build(name: str, obj, pins: Dict[str, Pin], arches: Dict[str, Arch]) -> Build:
    entry = _entry("build", name, RE_BUILD, obj, BUILD_KEYS)
    aname = _str(entry, obj, "arch")
    if aname not in arches:
        raise TableError(f"{entry}: arch '{aname}' is not in 'arches'")
    if arches[aname].kunit is None:
        raise TableError(f"{entry}: arch '{aname}' has no 'kunit' entry")
    sname = _str(entry, obj, "source")
    if sname not in pins or pins[sname].is_kernel:
        raise TableError(f"{entry}: source '{sname}' is not a package pin")
    frags = obj.get("kunitconfig")
    if (not isinstance(frags, list) or not frags or
            not all(isinstance(f, str) and RE_KUNITCONFIG.match(f) for f in frags)):
        raise TableError(f"{entry}: 'kunitconfig' must be a list of kunit/*.kunitconfig names")
    add = obj.get("kconfig_add", [])
    if not isinstance(add, list) or not all(isinstance(a, str) and RE_KCONFIG.match(a) for a in add):
        raise TableError(f"{entry}: 'kconfig_add' must be a list of CONFIG_X=V or '# CONFIG_X is not set' lines")
    return Build(name=name, arch=arches[aname], source=pins[sname], kunitconfig=tuple(frags),
                 kconfig_add=tuple(add),
                 boot_warning=_str(entry, obj, "boot_warning", required=False),
                 gate=_flag(entry, obj, "gate"),
                 mutate=_str(entry, obj, "mutate", choices=MUTATE_MODES, required=False) or "modules",
                 about=_str(entry, obj, "about", required=False))


def parse_pin(name: str, obj) -> Pin:
    entry = _entry("pin", name, RE_NAME, obj, PIN_KEYS)
    abi = _str(entry, obj, "abi", RE_ABI, required=False)
    package = _str(entry, obj, "package", RE_PACKAGE, required=False)
    if bool(abi) == bool(package):
        raise TableError(f"{entry}: give either 'abi' (a kernel) or 'package'")
    arch = _str(entry, obj, "arch", RE_NAME, required=bool(abi))
    dsc = _str(entry, obj, "dsc_sha256", RE_SHA256, required=False)
    if dsc and abi:
        raise TableError(f"{entry}: a kernel pin has no 'dsc_sha256'")
    return Pin(name=name, version=_str(entry, obj, "version", RE_VERSION),
               suite=_str(entry, obj, "suite", RE_NAME), arch=arch,
               abi=abi, package=package, dsc_sha256=dsc)


def _timeout(entry: str, obj: dict) -> int:
    if "timeout" not in obj:
        return 0
    t = obj["timeout"]
    if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= 86400:
        raise TableError(f"{entry}: 'timeout' must be seconds between 1 and 86400, not {t!r}")
    return t


def parse_lane(obj, pins: Dict[str, Pin], arches: Dict[str, Arch],
               builds: Optional[Dict[str, Build]] = None) -> Lane:
    if not isinstance(obj, dict):
        raise TableError(f"lane entry {obj!r}: must be an object")
    name = _str("lane", obj, "name", RE_LANE)
    entry = f"lane '{name}'"
    _unknown(entry, obj, LANE_KEYS)
    kind = _str(entry, obj, "kind", choices=KINDS)
    build = None
    if kind in KUNIT_KINDS:
        # The kernel is the build's: its arch and source pin.
        for key in ("kernel", "arch", "newest"):
            if key in obj:
                raise TableError(f"{entry}: a {kind} lane takes its {key} from its build")
        bname = _str(entry, obj, "build")
        if bname not in (builds or {}):
            raise TableError(f"{entry}: build '{bname}' is not in 'builds'")
        build = builds[bname]
        arch, kernel = build.arch, build.source
        aname = arch.name
    else:
        if "build" in obj:
            raise TableError(f"{entry}: only kunit lanes name a build")
        aname = _str(entry, obj, "arch")
        if aname not in arches:
            raise TableError(f"{entry}: arch '{aname}' is not in 'arches'")
        arch = arches[aname]
        kname = _str(entry, obj, "kernel")
        if kname not in pins or not pins[kname].is_kernel:
            raise TableError(f"{entry}: kernel '{kname}' is not a kernel pin")
        kernel = pins[kname]
        if kernel.arch != aname:
            raise TableError(f"{entry}: kernel pin '{kname}' is for {kernel.arch}, the lane is {aname}")
    xen = None
    xname = _str(entry, obj, "xen", required=False)
    if xname:
        if xname not in pins or pins[xname].is_kernel:
            raise TableError(f"{entry}: xen '{xname}' is not a package pin")
        if aname != "amd64":
            raise TableError(f"{entry}: Xen PV dom0 lanes are amd64 only")
        if kind == "kunit":
            raise TableError(f"{entry}: kunit.py does not boot Xen; use a kunit-kmod lane")
        xen = pins[xname]
    # A kunit.py lane boots as kunit.py's QEMU config says, unless the
    # row says otherwise; the other kinds boot as their arch says.
    own = kind == "kunit"
    return Lane(name=name, kind=kind, arch=arch, kernel=kernel,
                machine=_str(entry, obj, "machine", RE_QEMU_OPT, required=False) or
                ("" if own else arch.machine),
                cpu=_str(entry, obj, "cpu", RE_QEMU_OPT, required=False) or ("" if own else arch.cpu),
                console=_str(entry, obj, "console", RE_CONSOLE, required=False) or
                ("" if own else arch.console),
                mem=_mem(entry, obj, False) or (0 if own else arch.mem),
                append=_str(entry, obj, "append", RE_CMDLINE, required=False),
                default=_flag(entry, obj, "default"), newest=_flag(entry, obj, "newest"),
                xen=xen, mmu=_str(entry, obj, "mmu", choices=MMUS, required=False),
                build=build, timeout=_timeout(entry, obj),
                about=_str(entry, obj, "about", required=False))


def parse(text: str, source: str = "lanes.json") -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TableError(f"{source}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise TableError(f"{source}: must be a JSON object")
    _unknown(source, data, {"about", "arches", "pins", "builds", "lanes"})
    pins_obj = data.get("pins")
    arches_obj = data.get("arches")
    lanes_obj = data.get("lanes")
    if (not isinstance(pins_obj, dict) or not isinstance(arches_obj, dict) or
            not isinstance(lanes_obj, list)):
        raise TableError(f"{source}: needs 'arches' and 'pins' objects and a 'lanes' list")
    table = Table()
    for name, obj in pins_obj.items():
        table.pins[name] = parse_pin(name, obj)
    for name, obj in arches_obj.items():
        table.arches[name] = parse_arch(name, obj, table.pins)
    for name, pin in table.pins.items():
        if pin.is_kernel and pin.arch not in table.arches:
            raise TableError(f"pin '{name}': arch '{pin.arch}' is not in 'arches'")
        if pin.is_kernel and not table.arches[pin.arch].flavour:
            raise TableError(f"pin '{name}': arch '{pin.arch}' has no Debian kernel flavour")
    builds_obj = data.get("builds", {})
    if not isinstance(builds_obj, dict):
        raise TableError(f"{source}: 'builds' must be an object")
    for name, obj in builds_obj.items():
        table.builds[name] = parse_build(name, obj, table.pins, table.arches)
    for obj in lanes_obj:
        lane = parse_lane(obj, table.pins, table.arches, table.builds)
        if any(l.name == lane.name for l in table.lanes):
            raise TableError(f"lane '{lane.name}': listed twice")
        table.lanes.append(lane)
    return table


def load(path: Optional[str] = None) -> Table:
    path = path or os.environ.get("LMM_LANES") or DEFAULT_TABLE
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TableError(f"cannot read the lane table: {e}") from None
    return parse(text, os.path.basename(path))


def host_arch() -> str:
    """The build root's Debian architecture (the host's: mmdebstrap
    makes it of the host's own)."""
    return subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.strip()


def kv_lines(fields: Dict[str, str]) -> str:
    """key=value lines; no value holds a newline (_str refuses control characters)."""
    return "".join(f"{k}={v}\n" for k, v in fields.items())
