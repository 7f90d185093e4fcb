# SPDX-License-Identifier: GPL-2.0-only
"""The lane table: one row per place the suite runs, and the pins.

lanes.json at the top of the repository is the only place a lane's facts
and the pinned package versions live.  This module reads and checks it;
scripts/lanes prints it for people and for the shell steps (key=value
lines, read as data, never executed).

An arch entry holds what every lane of one Debian architecture shares:
the kernel flavour and image, the cross toolchain, the build root's
packages for it, the busybox pin and QEMU's binary, machine, CPU, console
and memory.  A lane may override machine, cpu, console and mem, and adds
kernel command line (append), the MMU it must run on and a Xen pin.

A pin names one Debian package version that `make check` uses:
  kernel pins: arch, abi (Debian's kernel ABI, as in 7.3.4+deb13) and the
  version of the source package the image, headers and kbuild come from;
  package pins: package (and arch for architecture-specific ones) and
  version.
"""

import json
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TABLE = os.path.join(TOP, "lanes.json")

KINDS = ("debian",)
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

PIN_KEYS = {"arch", "abi", "version", "suite", "package"}
BOOT_KEYS = {"machine", "cpu", "console", "mem"}
ARCH_KEYS = {"flavour", "unsigned", "image", "cross", "gcc", "packages",
             "busybox", "qemu", "lazy_mmu"} | BOOT_KEYS
LANE_KEYS = {"name", "kind", "arch", "kernel", "default", "newest", "xen",
             "mmu", "append", "about"} | BOOT_KEYS


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

    @property
    def is_kernel(self) -> bool:
        return bool(self.abi)

    def fields(self) -> Dict[str, str]:
        return {"pin": self.name, "arch": self.arch, "abi": self.abi,
                "package": self.package, "version": self.version,
                "suite": self.suite}


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

    def fields(self) -> Dict[str, str]:
        return {"arch": self.name, "flavour": self.flavour,
                "unsigned": "1" if self.unsigned else "", "image": self.image,
                "cross": self.cross, "gcc": self.gcc, "cc": self.cross + self.gcc,
                "busybox_pin": self.busybox.name, "qemu": self.qemu,
                "lazy_mmu": self.lazy_mmu}


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
    about: str = ""

    def fields(self) -> Dict[str, str]:
        """The lane as flat key=value data for the shell steps."""
        f = {"name": self.name, "kind": self.kind}
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


def table_line(lane: Lane) -> str:
    """A lane on one line, name first (scripts/lanes, usage texts)."""
    k = lane.kernel
    extra = [f"{lane.arch.qemu} -M {lane.machine.split(',')[0]} -cpu {lane.cpu}",
             f"console={lane.console}"]
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
    return (f"{lane.name:<13} {lane.kind:<7} {lane.arch.name:<8} "
            f"{k.abi} ({k.version})  {'  '.join(extra)}")


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

    def default_lanes(self) -> List[Lane]:
        return [lane for lane in self.lanes if lane.default]

    def newest_lanes(self) -> List[Lane]:
        return [lane for lane in self.lanes if lane.newest]


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
    entry = f"arch '{name}'"
    if not RE_NAME.match(name):
        raise TableError(f"{entry}: bad arch name")
    if not isinstance(obj, dict):
        raise TableError(f"{entry}: must be an object")
    _unknown(entry, obj, ARCH_KEYS)
    packages = obj.get("packages")
    if (not isinstance(packages, list) or
            not all(isinstance(p, str) and RE_PACKAGE.match(p) for p in packages)):
        raise TableError(f"{entry}: 'packages' must be a list of Debian package names")
    bname = _str(entry, obj, "busybox")
    bb = pins.get(bname)
    if bb is None or bb.is_kernel or bb.arch != name:
        raise TableError(f"{entry}: busybox '{bname}' is not a package pin for {name}")
    return Arch(name=name, flavour=_str(entry, obj, "flavour", RE_NAME),
                unsigned=_flag(entry, obj, "unsigned"),
                image=_str(entry, obj, "image", choices=("vmlinuz", "vmlinux")),
                cross=_str(entry, obj, "cross", RE_CROSS),
                gcc=_str(entry, obj, "gcc", RE_NAME), packages=tuple(packages),
                busybox=bb, qemu=_str(entry, obj, "qemu", RE_BINARY),
                machine=_str(entry, obj, "machine", RE_QEMU_OPT),
                cpu=_str(entry, obj, "cpu", RE_QEMU_OPT),
                console=_str(entry, obj, "console", RE_CONSOLE),
                mem=_mem(entry, obj, True),
                lazy_mmu=_str(entry, obj, "lazy_mmu"))


def parse_pin(name: str, obj) -> Pin:
    entry = f"pin '{name}'"
    if not RE_NAME.match(name):
        raise TableError(f"{entry}: bad pin name")
    if not isinstance(obj, dict):
        raise TableError(f"{entry}: must be an object")
    _unknown(entry, obj, PIN_KEYS)
    abi = _str(entry, obj, "abi", RE_ABI, required=False)
    package = _str(entry, obj, "package", RE_PACKAGE, required=False)
    if bool(abi) == bool(package):
        raise TableError(f"{entry}: give either 'abi' (a kernel) or 'package'")
    arch = _str(entry, obj, "arch", RE_NAME, required=bool(abi))
    return Pin(name=name, version=_str(entry, obj, "version", RE_VERSION),
               suite=_str(entry, obj, "suite", RE_NAME), arch=arch,
               abi=abi, package=package)


def parse_lane(obj, pins: Dict[str, Pin], arches: Dict[str, Arch]) -> Lane:
    if not isinstance(obj, dict):
        raise TableError(f"lane entry {obj!r}: must be an object")
    name = _str("lane", obj, "name", RE_NAME)
    entry = f"lane '{name}'"
    _unknown(entry, obj, LANE_KEYS)
    kind = _str(entry, obj, "kind", choices=KINDS)
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
        xen = pins[xname]
    return Lane(name=name, kind=kind, arch=arch, kernel=kernel,
                machine=_str(entry, obj, "machine", RE_QEMU_OPT, required=False) or arch.machine,
                cpu=_str(entry, obj, "cpu", RE_QEMU_OPT, required=False) or arch.cpu,
                console=_str(entry, obj, "console", RE_CONSOLE, required=False) or arch.console,
                mem=_mem(entry, obj, False) or arch.mem,
                append=_str(entry, obj, "append", RE_CMDLINE, required=False),
                default=_flag(entry, obj, "default"), newest=_flag(entry, obj, "newest"),
                xen=xen, mmu=_str(entry, obj, "mmu", choices=MMUS, required=False),
                about=_str(entry, obj, "about", required=False))


def parse(text: str, source: str = "lanes.json") -> Table:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TableError(f"{source}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise TableError(f"{source}: must be a JSON object")
    _unknown(source, data, {"about", "arches", "pins", "lanes"})
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
    for obj in lanes_obj:
        lane = parse_lane(obj, table.pins, table.arches)
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


def kv_lines(fields: Dict[str, str]) -> str:
    """key=value lines; no value holds a newline (_str refuses control characters)."""
    return "".join(f"{k}={v}\n" for k, v in fields.items())
