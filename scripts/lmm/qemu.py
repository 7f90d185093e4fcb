# SPDX-License-Identifier: GPL-2.0-only
"""Boot a lane's guest under QEMU (TCG) and keep its serial console.

The command line comes from the lane table alone (lmm.lanes): QEMU
binary, machine, CPU, console, memory and kernel command line.  Two
kinds of guest need more than that, and say so here once:
  - a lane with a Xen pin boots the kernel as a Xen PV dom0: QEMU loads
    the hypervisor as a multiboot kernel, the dom0 kernel and the
    initramfs as its modules; the dom0 console is the lane's (hvc0), the
    hypervisor's is com1;
  - a pseries machine gets a formatted NVRAM (VOF leaves it blank, which
    the kernel reports as corrupt, a "WARNING:" line);
  - on an arch with "qemu_pvh" (x86), a bzImage whose kernel has a PVH
    entry boots as that kernel's ELF (pvh_elf), not under Xen: its
    self-decompression under TCG costs 2-3 s a boot, and the kernel, its
    configuration and everything from its entry point on are the same.
QEMU runs inside the build root, bounded by timeout(1).
"""

import gzip
import hashlib
import lzma
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional

from . import lanes, pipeline

# printk.time=1: the verdict tells a splat printed live from its copy in
# the guest's dmesg by the timestamp (kunit.py kernels have it off).
COMMON_APPEND = "panic=-1 loglevel=5 printk.time=1 rdinit=/init"
XEN_CONSOLE = "console=com1 com1=115200,8n1"
XEN_DOM0_CONSOLE = "earlyprintk=xen"
XEN_EXTRA_MEM = 1024        # MiB for the hypervisor beside dom0's
# A console this large is a flood (a warning in a loop): the guest is
# stopped and the boot reported as an error, its console up to here kept.
# The suite's longest console (100 load cycles) is about 2 MiB.
CONSOLE_LIMIT = 64 << 20


PVH_KEEP = 8                # ELF images kept in $LMM_CACHE/pvh
XEN_ELFNOTE_PHYS32_ENTRY = 18


def bzimage_payload(data: bytes) -> Optional[bytes]:
    """The compressed kernel inside an x86 bzImage (boot protocol 2.08
    and later: setup_sects, payload_offset and payload_length of the
    setup header), or None when DATA is no such image."""
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS" or struct.unpack_from("<H", data, 0x206)[0] < 0x208:
        return None
    setup = (data[0x1f1] or 4) + 1
    offset, length = struct.unpack_from("<II", data, 0x248)
    start = setup * 512 + offset
    return data[start:start + length] if start + length <= len(data) else None


def has_pvh_note(elf: bytes) -> bool:
    """Whether the ELF64 (little-endian) kernel has Xen's PHYS32_ENTRY
    note: the PVH entry point QEMU's -kernel loader starts an ELF at."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, = struct.unpack_from("<I", elf, phoff + i * phentsize)
        if ptype != 4:          # PT_NOTE
            continue
        off, = struct.unpack_from("<Q", elf, phoff + i * phentsize + 8)
        size, = struct.unpack_from("<Q", elf, phoff + i * phentsize + 32)
        pos, end = off, off + size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz]
            if name == b"Xen\0" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def decompress(payload: bytes, top: str) -> Optional[bytes]:
    """A kernel payload by its magic: gzip and xz here, zstd with the
    build root's zstd.  None for another format.  xz and zstd payloads
    end in the kernel's size (Makefile.lib's size_append), checked."""
    if payload[:2] == b"\x1f\x8b":
        return gzip.decompress(payload)
    payload, size = payload[:-4], struct.unpack("<I", payload[-4:])[0]
    out = None
    if payload[:6] == b"\xfd7zXZ\x00":
        out = lzma.decompress(payload)
    elif payload[:4] == b"\x28\xb5\x2f\xfd":
        out = unzstd(payload, top)
    return out if out is not None and len(out) == size else None


def unzstd(payload: bytes, top: str) -> Optional[bytes]:
    """zstd -d in the build root (the host may not have it)."""
    with tempfile.TemporaryDirectory(dir=os.path.join(pipeline.cache_dir(), "tmp")) as d:
        with open(os.path.join(d, "payload.zst"), "wb") as f:
            f.write(payload)
        p = subprocess.run([os.path.join(top, "scripts", "buildroot"), "--", "zstd", "-dcq",
                            os.path.join(d, "payload.zst")], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=dict(os.environ, LMM_BIND=d))
    return p.stdout if p.returncode == 0 else None


def pvh_elf(kernel: str, top: str) -> Optional[str]:
    """The ELF kernel of the bzImage KERNEL when it has a PVH entry, kept
    in $LMM_CACHE/pvh by the bzImage's hash (the newest PVH_KEEP); None
    when KERNEL is no bzImage or its kernel has no PVH entry."""
    with open(kernel, "rb") as f:
        data = f.read()
    payload = bzimage_payload(data)
    if payload is None:
        return None
    d = os.path.join(pipeline.cache_dir(), "pvh")
    path = os.path.join(d, hashlib.sha256(data).hexdigest()[:32] + ".elf")
    try:
        os.utime(path)
        return path
    except FileNotFoundError:
        pass
    if os.path.exists(path + ".none"):
        return None
    os.makedirs(d, exist_ok=True)
    os.makedirs(os.path.join(pipeline.cache_dir(), "tmp"), exist_ok=True)
    try:
        elf = decompress(payload, top)
        pvh = bool(elf) and has_pvh_note(elf)
    except (OSError, EOFError, ValueError, lzma.LZMAError, struct.error, IndexError):
        elf, pvh = None, False      # not a kernel we can unpack: boot the bzImage
    if not pvh:
        # Not again for this image: no PVH entry (or no way to unpack it).
        open(path + ".none", "w").close()
        return None
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".new.")
    with os.fdopen(fd, "wb") as f:
        f.write(elf)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    # Another boot may prune at the same time: what is gone is gone.
    kept = []
    for e in os.scandir(d):
        try:
            if e.name.endswith((".elf", ".none")):
                kept.append((e.stat().st_mtime, e.path))
        except FileNotFoundError:
            pass
    for _, old in sorted(kept, reverse=True)[PVH_KEEP:]:
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass
    return path


class BootError(Exception):
    """A request QEMU cannot be started with (a usage error)."""


def pseries_nvram(path: str, size: int = 65536) -> None:
    """A pseries NVRAM holding one free partition, as SLOF formats it.

    struct nvram_header: signature 0x7f, checksum, big-endian length in
    16-byte blocks, name "wwwwwwwwwwww"; the checksum as nvram_checksum()
    in arch/powerpc/kernel/nvram_64.c computes it.
    """
    blocks = size // 16
    c = 0x7f + blocks + 6 * 0x7777
    c = ((c & 0xffff) + (c >> 16)) & 0xffff
    c = ((c + (c >> 8) + (c << 8)) >> 8) & 0xff
    header = bytes([0x7f, c, blocks >> 8, blocks & 0xff]) + b"w" * 12
    with open(path, "wb") as f:
        f.write(header + bytes(size - len(header)))


@dataclass
class Boot:
    lane: lanes.Lane
    kernel: str
    initrd: str
    console: str
    xen: Optional[str] = None
    append: str = ""
    smp: int = 2
    mem: int = 0            # 0: the lane's
    timeout: int = 120
    console_limit: int = CONSOLE_LIMIT

    def nvram(self) -> Optional[str]:
        """The pseries NVRAM file; in the sandbox, QEMU writes it, so it
        is in a directory of the sandbox uid's."""
        if not self.lane.machine.startswith("pseries"):
            return None
        return self.console + (".nvram.d/nvram" if pipeline.sandboxed() else ".nvram")

    def command(self) -> List[str]:
        """QEMU's argv for this boot."""
        lane = self.lane
        for what in ("console", "kernel", "initrd", "xen"):
            pipeline.bindable(getattr(self, what) or "", "--" + what, BootError)
        mem = self.mem or lane.mem
        cmdline = " ".join(x for x in (f"console={lane.console}", COMMON_APPEND,
                                       lane.append, self.append.strip()) if x)
        smp = lane.arch.cpus(self.smp)
        argv = [lane.arch.qemu, "-accel", "tcg", "-M", lane.machine]
        argv += (["-cpu", lane.cpu] if lane.cpu else []) + ["-smp", str(smp)]
        if lane.xen:
            if not self.xen:
                raise BootError(f"lane {lane.name} needs --xen (scripts/fetch-xen)")
            if "," in cmdline + self.kernel + self.initrd:
                raise BootError("no commas allowed in a Xen module line")
            argv += ["-m", str(mem + XEN_EXTRA_MEM), "-append",
                     f"{XEN_CONSOLE} dom0_mem={mem}M dom0_max_vcpus={smp}",
                     "-kernel", self.xen, "-initrd",
                     f"{self.kernel} {cmdline.replace(COMMON_APPEND, XEN_DOM0_CONSOLE + ' ' + COMMON_APPEND, 1)},{self.initrd}"]
        else:
            argv += ["-m", str(mem), "-append", cmdline]
            nvram = self.nvram()
            if nvram:
                argv += ["-drive", f"if=none,id=nvram,format=raw,file={nvram.replace(',', ',,')}",
                         "-global", "spapr-nvram.drive=nvram"]
            argv += ["-kernel", self.kernel, "-initrd", self.initrd]
        return argv + ["-nographic", "-monitor", "none", "-serial", "stdio", "-no-reboot"]

    def run(self, top: str, verbose: bool = False) -> str:
        """Boot; returns "ok", "timeout" or "error:RC"."""
        for attr in ("kernel", "initrd", "console") + (("xen",) if self.xen else ()):
            setattr(self, attr, os.path.abspath(getattr(self, attr)))
        os.makedirs(os.path.dirname(self.console), exist_ok=True)
        # Not in the sandbox: the kernel is then a series', not for root to unpack.
        if self.lane.arch.qemu_pvh and not self.lane.xen and not pipeline.sandboxed():
            elf = pvh_elf(self.kernel, top)
            if elf:
                sys.stderr.write(f"# boot {self.lane.name}: {os.path.basename(self.kernel)}'s kernel"
                                 f" through its PVH entry ({elf})\n")
                self.kernel = elf
        argv = self.command()
        nvram = None if self.lane.xen else self.nvram()
        rw = []
        if nvram:
            if pipeline.sandboxed():
                uid = pipeline.sandbox_uid()
                rw.append(pipeline.sandbox_dir(os.path.dirname(nvram), uid))
                pseries_nvram(nvram)
                os.chown(nvram, uid, uid)
            else:
                pseries_nvram(nvram)
        with open(self.console + ".cmd", "w") as f:
            f.write(shlex.join(argv) + "\n")
        binds = [os.path.dirname(getattr(self, a)) for a in ("console", "kernel", "initrd")]
        if self.xen:
            binds.append(os.path.dirname(self.xen))
        env = dict(os.environ, LMM_BIND=pipeline.path_list(binds), LMM_RW=pipeline.path_list(rw))
        cmd = [os.path.join(top, "scripts", "buildroot"), "--",
               "timeout", "--foreground", "-k", "5", str(self.timeout)] + argv
        t0 = time.monotonic()
        rc = None
        interrupted = flooded = False
        try:
            with open(self.console, "wb") as log:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
                # Ctrl-C reaches QEMU and timeout(1) too (one process
                # group): wait for them to go, never kill them early.
                while rc is None:
                    try:
                        if not flooded and not pipeline.copy_bounded(
                                p.stdout, log, self.console_limit,
                                b"LMM-RUNNER-ERROR the console passed %d MiB: the guest was stopped"
                                % (self.console_limit >> 20), sys.stdout.buffer if verbose else None):
                            # A guest that floods its console is broken:
                            # stop it (the console so far is kept).
                            flooded = True
                            p.terminate()
                            for _ in iter(lambda: p.stdout.read1(65536), b""):
                                pass
                        rc = p.wait()
                    except KeyboardInterrupt:
                        interrupted = True
            if rc < 0:          # killed by a signal: report it as the shell does
                rc = 128 - rc
        finally:
            if nvram and rw:
                shutil.rmtree(rw[0], ignore_errors=True)
            elif nvram and os.path.exists(nvram):
                os.unlink(nvram)
            sys.stderr.write(f"# boot {self.lane.name}: {time.monotonic() - t0:.1f} s"
                             f" (QEMU rc {rc})\n")
        if interrupted:
            raise KeyboardInterrupt
        if flooded:
            return "error:console over %d MiB" % (self.console_limit >> 20)
        if rc == 0:
            return "ok"
        if rc in (124, 137):
            return "timeout"
        return f"error:{rc}"
