# SPDX-License-Identifier: GPL-2.0-only
"""The steps of one run of the suite, as functions over the small
executables under scripts/: fetch a lane's kernel, build the modules
against its headers, pack an initramfs, boot it, judge the console.

Each step is one of those executables (each also runs on its own); this
module only calls them and reads what they print as data (key=value
lines, results.json), never by matching prose.  A failing step raises
StepError with the step's name and its log.
"""

import fcntl
import json
import os
import shutil
import stat
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(TOP, "scripts")


def cache_dir() -> str:
    """Where everything downloaded or built lives (lib.sh's LMM_CACHE)."""
    return os.environ.get("LMM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "lazy-mmu-tests")

# Every guest: KFENCE on, so that allocations inside sections sometimes
# change the linear map (the linear_map_kfence case).  scripts/run too.
APPEND = "kfence.sample_interval=1"
# The module's bound of duration_ms= (kmod/lmm_kmod.c): concurrent_walks'
# longest run, below the hung-task timeout; run and mutate --walk-ms.
WALK_MS_MAX = 60000


class StepError(Exception):
    """A step before the verdict failed: not a test result."""

    def __init__(self, step: str, detail: str, log: Optional[str] = None,
                 rc: Optional[int] = None):
        super().__init__("%s failed: %s%s" % (step, detail, " (log: %s)" % log if log else ""))
        self.step, self.detail, self.log, self.rc = step, detail, log, rc


def kv(text: str) -> Dict[str, str]:
    """key=value lines as a dict (the first '=' splits; other lines are ignored)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key.replace("_", "").replace("-", "").isalnum():
            out[key] = value
    return out


# The steps running now (from any thread), for terminate_all().
RUNNING = set()


def terminate_all() -> None:
    """SIGTERM to every step still running (a SIGTERM to the caller does
    not reach them, unlike Ctrl-C, which the whole process group gets)."""
    for p in list(RUNNING):
        try:
            p.terminate()
        except OSError:
            pass


def stop_steps_on_sigterm() -> None:
    """From now on a SIGTERM to this process stops the steps it runs too
    (terminate_all()), then ends it as Ctrl-C does (KeyboardInterrupt):
    a run killed by PID leaves no kunit.py, build or guest behind."""
    def terminated(signum, frame):
        terminate_all()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminated)


def copy_bounded(src, dst, limit: int, note: bytes, echo=None) -> bool:
    """SRC (a pipe's reader) into DST (and ECHO) until SRC ends: True; or
    until DST would pass LIMIT bytes: DST cut there and the line NOTE
    after it, then False (what is left of SRC is the caller's)."""
    n = 0
    for chunk in iter(lambda: src.read1(65536), b""):
        if n + len(chunk) > limit:
            dst.write(chunk[:max(0, limit - n)])
            dst.write(b"\n" + note + b"\n")
            return False
        n += len(chunk)
        dst.write(chunk)
        if echo is not None:
            echo.write(chunk)
            echo.flush()
    return True


def _run(step: str, argv: Sequence[str], log: Optional[str] = None,
         env: Optional[Dict[str, str]] = None, ok=(0,), capture: bool = True,
         echo: bool = False, output: Optional[str] = None,
         limit: Optional[int] = None) -> Tuple[int, str]:
    """Run argv: its exit status and stdout (captured, or passed through
    with capture=False; echo=True also copies it to stderr), its stderr to
    log or inherited; output: stdout and stderr both to that file
    instead, at most LIMIT bytes of them if given (then a last line
    saying the rest was dropped; the command runs to its end).  ok: the
    exit statuses that are not a failure (None: any).  Ctrl-C reaches the
    child too (one process group): wait for it to go, then raise
    KeyboardInterrupt, never kill it early (a boot stops its QEMU, a
    build root step its mounts)."""
    full = dict(os.environ, **(env or {}))
    err = None
    bounded = None
    stdout = subprocess.PIPE if capture else None
    if output and limit is not None:
        bounded = open(output, "wb")
        stdout = subprocess.PIPE
        capture = False
    elif output:
        err = stdout = open(output, "w")
        capture = False
    elif log:
        os.makedirs(os.path.dirname(log), exist_ok=True)
        err = open(log, "w")
    chunks, rc, interrupted = [], None, False
    try:
        p = subprocess.Popen(list(argv), stdout=stdout,
                             stderr=subprocess.STDOUT if output else err, env=full,
                             stdin=subprocess.DEVNULL)
        RUNNING.add(p)
        cut = False
        while rc is None:
            try:
                if bounded and not cut:
                    note = b"LMM-RUNNER-ERROR the output passed %d MiB: the rest was dropped" % (limit >> 20)
                    cut = not copy_bounded(p.stdout, bounded, limit, note)
                if cut:
                    for _ in iter(lambda: p.stdout.read1(65536), b""):
                        pass
                if capture:
                    for line in iter(p.stdout.readline, b""):
                        chunks.append(line)
                        if echo:
                            sys.stderr.buffer.write(line)
                            sys.stderr.flush()
                rc = p.wait()
            except KeyboardInterrupt:
                interrupted = True
    finally:
        RUNNING.discard(locals().get("p"))
        for f in (err, bounded):
            if f:
                f.close()
    if interrupted:
        raise KeyboardInterrupt
    if rc < 0:
        rc = 128 - rc
    out = b"".join(chunks).decode("utf-8", errors="replace")
    if ok is not None and rc not in ok:
        raise StepError(step, "exit %d" % rc, output or log, rc)
    return rc, out


# ------------------------------------------------------------ the sandbox
#
# With LMM_SANDBOX set (the gate sets it for a series' lanes), every
# command scripts/buildroot runs is sandboxed (see its header): an
# unprivileged uid, read-only everywhere but the directories in LMM_RW,
# which that uid owns.  The steps below give it such directories for what
# it writes, and take the results out of them as root without following
# a link it may have planted (no process of it is left by then: its pid
# namespace ended with it).

def bindable(path: str, what: str, error=None) -> str:
    """PATH, which goes into a colon-separated list of directories
    (LMM_BIND, LMM_RW): one holding ':' would split into others there,
    so it is refused, with WHAT it is (error: the exception to raise,
    StepError by default)."""
    if ":" in path:
        msg = "%s: no ':' allowed in a path the build root binds in: %s" % (what, path)
        raise (error or (lambda m: StepError("build root", m)))(msg)
    return path


def path_list(paths: Sequence[str]) -> str:
    """PATHS (each bindable), once each, as LMM_BIND and LMM_RW take them."""
    return ":".join(dict.fromkeys(bindable(p, "a directory to bind") for p in paths))


def sandboxed() -> bool:
    return bool(os.environ.get("LMM_SANDBOX"))


def sandbox_uid() -> int:
    """The sandbox uid (lib.sh sandbox_uid: one definition)."""
    p = subprocess.run(["bash", "-c", '. "$1/lib.sh" && sandbox_uid', "sandbox_uid", SCRIPTS],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode or not p.stdout.strip().isdigit():
        raise StepError("sandbox", p.stderr.strip() or "no sandbox uid")
    return int(p.stdout.strip())


def sandbox_dir(path: str, uid: Optional[int] = None) -> str:
    """PATH, a new empty directory the sandbox uid owns (anything there
    before is removed)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    uid = sandbox_uid() if uid is None else uid
    os.chown(path, uid, uid)
    return path


# The largest file taken out of the sandbox (the largest console is 64 MiB).
TAKE_LIMIT = 256 << 20


def take_outputs(src: str, dst: str, limit: int = TAKE_LIMIT) -> List[str]:
    """The regular files directly in SRC (a sandbox directory) copied into
    DST, then SRC removed: no link followed, nothing but regular files,
    none larger than LIMIT.  Returns the names of what was left out."""
    refused = []
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        try:
            fd = os.open(e.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            refused.append(e.name)
            continue
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            os.close(fd)
            refused.append(e.name)
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            refused.append(e.name)
            continue
        tmp = os.path.join(dst, ".%s.tmp" % e.name)
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, os.path.join(dst, e.name))
    shutil.rmtree(src)
    if refused:
        print("# sandbox: left out of %s (not a regular file, or too large): %s"
              % (src, " ".join(refused)), file=sys.stderr)
    return refused


class Locked(Exception):
    """lock(..., wait=False) on a lock someone else holds."""


def lock(path: str, shared: bool = False, wait: bool = True, why: str = ""):
    """An flock on PATH (made if need be), held until the returned file
    is closed: shared for readers, exclusive for writers (lib.sh's flock
    on the same file excludes it too).  wait=False: Locked at once if
    someone else holds it.  WHY: said while waiting."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    f = open(path, "a")
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(f, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if not wait:
            f.close()
            raise Locked(path) from None
        if why:
            print("# waiting for %s (%s)" % (why, path), file=sys.stderr, flush=True)
        fcntl.flock(f, mode)
    return f


def stage(name: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), with how long it took on stderr as the shell
    steps print it ("# stage NAME: T s")."""
    t0 = time.monotonic()
    print("# stage %s ..." % name, file=sys.stderr, flush=True)
    failed = " (failed)"
    try:
        value = fn(*args, **kwargs)
        failed = ""
        return value
    finally:
        print("# stage %s: %.1f s%s" % (name, time.monotonic() - t0, failed), file=sys.stderr, flush=True)


def script(name: str) -> str:
    return os.path.join(SCRIPTS, name)


def build_root() -> str:
    """The build root's directory (built or repaired first if need be)."""
    return _run("build root", [script("buildroot")])[1].strip()


def fetch_source(series: str = "", log: Optional[str] = None) -> Dict[str, str]:
    """The unpacked linux-source tree (the pinned one, or SERIES's
    newest): KSRC, its path, and KSRC_VERSION, its Debian version."""
    argv = [script("fetch-source")] + (["--series", series] if series else [])
    env = kv(_run("fetch linux-source", argv, log)[1])
    if not env.get("KSRC"):
        raise StepError("fetch linux-source", "no KSRC in its output", log)
    return env


def graft(ksrc: str) -> None:
    """The suite's KUnit directory grafted into the tree KSRC (kunit-graft)."""
    _run("graft", [script("kunit-graft"), ksrc], capture=False)


# What of a checkout a kernel tree's build reads through the graft
# (kunit-graft's link to /lmm-suite): the KUnit suite, the scenarios it
# includes and detect-api, which writes lmm_api.h.
SUITE_PATHS = ("kunit", "scenarios", "scripts/detect-api")


def built_here(name: str) -> bool:
    """Whether NAME is what a build in the checkout itself leaves beside
    the sources (build-modules' key leaves out the objects, modules,
    .mod and .cmd files too)."""
    return (name.endswith((".o", ".ko", ".a")) or ".mod" in name or
            (name.startswith(".") and name.endswith(".cmd")) or
            name in ("lmm_api.h", "modules.order", "Module.symvers"))


def suite_copy(bdir: str) -> str:
    """Where suite_copy_for makes BDIR's copy of the suite."""
    return bdir + ".suite"


def _copy_entry(path: str) -> Optional[Tuple]:
    """What suite_copy_for keeps of PATH: ("l", target) for a link,
    ("f", mode) for a file, None for anything else."""
    if os.path.islink(path):
        return ("l", os.readlink(path))
    if os.path.isfile(path):
        return ("f", os.stat(path).st_mode & 0o755 | 0o644)
    return None


def suite_copy_for(bdir: str, top: str = TOP) -> str:
    """The copy of TOP's suite that the builds in the kunit.py build
    directory BDIR see at /lmm-suite (kunit_tool's suite=): BDIR.suite,
    its SUITE_PATHS made TOP's by content.  kbuild compares times only.
    A file whose content differs (another checkout's, an edit) is
    written anew, so it is newer than every object built from what was
    there; a file whose content is the same keeps its time, so a fresh
    clone of the same suite (all its files new) rebuilds nothing, where
    the checkout itself would rebuild and relink the suite's objects.
    Symbolic links are copied as links; what an in-place build left in
    the checkout (objects, modules, .cmd files, its lmm_api.h) is not
    copied.  Call it holding BDIR's lock, before the build."""
    copy = suite_copy(bdir)
    if os.path.islink(copy):
        os.unlink(copy)         # never followed: what it points at stays
    want = {}           # relative path: ("d",), ("l", target) or ("f", mode)
    for p in SUITE_PATHS:
        full = os.path.join(top, p)
        if os.path.isdir(full) and not os.path.islink(full):
            for root, dirs, files in os.walk(full):
                want[os.path.relpath(root, top)] = ("d",)
                for n in dirs + [n for n in files if not built_here(n)]:
                    e = _copy_entry(os.path.join(root, n))
                    if e:
                        want[os.path.relpath(os.path.join(root, n), top)] = e
        else:
            e = _copy_entry(full)
            if e:
                want[p] = e
    for p in list(want):
        d = os.path.dirname(p)
        while d:
            want.setdefault(d, ("d",))
            d = os.path.dirname(d)
    # What the copy has that TOP no longer does goes first (deepest first).
    for root, dirs, files in os.walk(copy, topdown=False):
        for n in files + dirs:
            f = os.path.join(root, n)
            r = os.path.relpath(f, copy)
            kind = "l" if os.path.islink(f) else "d" if os.path.isdir(f) else "f"
            if want.get(r, ("",))[0] != kind:
                if kind == "d":
                    shutil.rmtree(f)
                else:
                    os.unlink(f)
    os.makedirs(copy, exist_ok=True)
    os.chmod(copy, 0o755)       # the sandbox uid reads it
    for r in sorted(want):
        kind, dst = want[r][0], os.path.join(copy, r)
        if kind == "d":
            os.makedirs(dst, exist_ok=True)
            os.chmod(dst, 0o755)
        elif kind == "l":
            if not os.path.islink(dst) or os.readlink(dst) != want[r][1]:
                if os.path.lexists(dst):
                    os.unlink(dst)
                os.symlink(want[r][1], dst)
        else:
            with open(os.path.join(top, r), "rb") as f:
                data = f.read()
            try:
                with open(dst, "rb") as f:
                    same = f.read() == data
            except OSError:
                same = False
            if not same:
                tmp = dst + ".tmp.%d" % os.getpid()
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, dst)
            if os.stat(dst).st_mode & 0o7777 != want[r][1]:
                os.chmod(dst, want[r][1])
    return copy


# kunit.py's output (with --raw_output=all, the guest's whole console)
# is kept up to this size, as a boot's console is (qemu.CONSOLE_LIMIT),
# with room for the build's own lines before it.
KUNIT_LOG_LIMIT = 80 << 20

# Inside the build root, the QEMU wrappers that drop KVM come first on
# PATH (lmm.kunit writes them).
KUNIT_PATH = "/usr/local/lmm-qemu:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def kunit_tool(ksrc: str, argv: Sequence[str], binds: Sequence[str], output: str,
               rw: Sequence[str] = (), suite: Optional[str] = None) -> int:
    """KSRC's tools/testing/kunit/kunit.py ARGV in the build root, BINDS
    visible, ccache in the cache; its output to OUTPUT; its exit status.
    rw: in the sandbox, the directories it writes (its build directory).
    suite: the directory shown at /lmm-suite (suite_copy_for's copy;
    default the checkout)."""
    ccache = os.path.join(cache_dir(), "ccache")
    os.makedirs(ccache, exist_ok=True)
    env = {"LMM_BIND": path_list([ksrc] + list(binds)),
           "LMM_ENV": "PATH=%s\nCCACHE_DIR=%s" % (KUNIT_PATH, ccache)}
    if suite:
        env["LMM_SUITE"] = suite
    if sandboxed():
        env["LMM_RW"] = path_list(rw)
    return _run("kunit.py", [script("buildroot"), "--", "/bin/sh", "-c",
                             'cd "$1" && shift && exec python3 tools/testing/kunit/kunit.py "$@"',
                             "kunit", ksrc] + list(argv), env=env, ok=None, output=output,
                limit=KUNIT_LOG_LIMIT)[0]


def fetch_kernel(arch: str, kernel: str, log: Optional[str] = None) -> Dict[str, str]:
    """fetch-kernel's memo: KREL, KIMAGE, KDIR (the last inside the build root)."""
    env = kv(_run("fetch kernel (%s)" % arch,
                  [script("fetch-kernel"), "--arch", arch, "--kernel", kernel], log)[1])
    for key in ("KREL", "KIMAGE", "KDIR"):
        if not env.get(key):
            raise StepError("fetch kernel (%s)" % arch, "no %s in its output" % key, log)
    return env


def kernel_store_lock(env: Dict[str, str]):
    """A shared lock on the cached kernel ENV (fetch_kernel's) names, to
    hold while its image and headers are used: fetch-kernel replaces a
    store (another upload of the same ABI), and the cache-repair test
    breaks one, only under the exclusive lock.  Once held, the store
    must still be the one ENV names; StepError if not (fetch again)."""
    store = os.path.dirname(env["KIMAGE"])
    f = lock(store + ".lock", shared=True, why="the kernel %s being replaced or repaired" % env.get("KREL"))
    try:
        with open(os.path.join(store, ".version")) as v:
            version = v.read().strip()
        whole = os.path.getsize(env["KIMAGE"]) > 0
    except OSError:
        version, whole = None, False
    if not whole or (env.get("KVER") and version != env["KVER"]):
        f.close()
        raise StepError("fetch kernel", "the cached kernel %s changed after it was fetched" % env.get("KREL"))
    return f


def fetch_xen(pin: str, log: Optional[str] = None) -> str:
    """The hypervisor image a lane's Xen pin names."""
    xen = kv(_run("fetch xen", [script("fetch-xen"), "--pin", pin], log)[1]).get("XEN")
    if not xen:
        raise StepError("fetch xen", "no XEN in its output", log)
    return xen


PATCH_DOES_NOT_APPLY = 4        # build-modules --patch


def build_modules(kdir: str, out: str, make_args: Sequence[str] = (),
                  quiet: bool = True, cache: bool = False, src: Optional[str] = None,
                  wrap: Sequence[str] = (), patch: Optional[str] = None) -> List[str]:
    """Build the modules against KDIR into OUT; their paths.  quiet: the
    step's own messages go to OUT/build-modules.log, not stderr.  cache:
    reuse an earlier build with the same inputs (build-modules --cache;
    only for a header tree that never changes in place).  src: another
    module source (default: this suite).  wrap: a command the build runs
    under (e.g. in-overlay TREE DIR PATCH --).  patch: against the headers
    with PATCH applied, for this build alone (build-modules --patch; a
    StepError with rc PATCH_DOES_NOT_APPLY when it does not apply)."""
    log = os.path.join(out, "build-modules.log") if quiet else None
    argv = list(wrap) + [script("build-modules"), "--kdir", kdir, "--out", out]
    argv += (["--cache"] if cache else []) + (["--src", src] if src else [])
    argv += ["--patch", patch] if patch else []
    if make_args:
        argv += ["--"] + list(make_args)
    try:
        _run("build modules", argv, log)
    except StepError as e:
        raise StepError("build modules", e.detail, os.path.join(out, "build.log"), e.rc) from None
    return sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".ko"))


def initramfs(arch: str, out: str, entries: Sequence[Tuple[str, str]],
              log: Optional[str] = None) -> str:
    """entries: (kind, value) in order; kind module (KO[:ARGS]),
    taskstate (KO), runner (KO[:ARGS]), kselftest (DIR[:ARGS]) or mark
    (NAME), as scripts/mkinitramfs takes them."""
    argv = [script("mkinitramfs"), "--arch", arch, "--out", out]
    for kind, value in entries:
        if kind not in ("module", "taskstate", "runner", "kselftest", "mark"):
            raise ValueError("bad initramfs entry kind: %s" % kind)
        argv += ["--" + kind, value]
    _run("initramfs", argv, log)
    return out


def boot(lane: str, kernel: str, initrd: str, console: str, append: str = "",
         timeout: int = 180, xen: Optional[str] = None, smp: Optional[int] = None,
         log: Optional[str] = None, verbose: bool = False) -> str:
    """Boot under QEMU; the status: ok, timeout or error:<rc>.  verbose:
    the console also goes to stderr as the guest prints it."""
    argv = [script("boot"), "--lane", lane, "--kernel", kernel, "--initrd", initrd,
            "--console", console, "--append", " ".join(filter(None, (APPEND, append))),
            "--timeout", str(timeout)]
    if xen:
        argv += ["--xen", xen]
    if smp:
        argv += ["--smp", str(smp)]
    if verbose:
        argv.append("--verbose")
    lines = _run("boot (%s)" % lane, argv, log, echo=verbose)[1].splitlines()
    status = kv(lines[-1] if lines else "").get("qemu-status", "")
    return status or "error:no-status"


def config_value(config: str, key: str) -> str:
    """KEY's value in a kernel .config (a string's quotes removed), or "".
    Never through a link (a sandboxed build writes its .config)."""
    try:
        with open(os.open(config, os.O_RDONLY | os.O_NOFOLLOW), errors="replace") as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep and k == key:
                    return v[1:-1] if len(v) > 1 and v[0] == v[-1] == '"' else v
    except OSError:
        pass
    return ""


def meta_args(facts: Dict[str, str]) -> List[str]:
    """ktap-verdict's --meta options for FACTS (the empty ones left out)."""
    return [a for k in sorted(facts) if facts[k] for a in ("--meta", "%s=%s" % (k, facts[k]))]


def verdict(bind: str, args: Sequence[str], log: Optional[str] = None,
            capture: bool = True) -> Tuple[int, str]:
    """scripts/ktap-verdict with ARGS, in the build root with BIND visible:
    its exit status (0 pass, 1 fail, 4 skip) and what it printed.  In the
    sandbox, it writes into a directory of its own, whose files are then
    taken into the directory ARGS name (--outdir, or --merge's first)."""
    args = list(args)
    env = {"LMM_BIND": bindable(bind, "the output directory")}
    moves = []
    if sandboxed():
        for i, a in enumerate(args[:-1]):
            if a in ("--outdir", "--merge"):
                os.makedirs(args[i + 1], exist_ok=True)
                moves.append((sandbox_dir(os.path.join(args[i + 1], ".sandbox-verdict")), args[i + 1]))
                args[i + 1] = moves[-1][0]
        env["LMM_RW"] = path_list([m[0] for m in moves])
    try:
        return _run("verdict", [script("buildroot"), "--", "python3", script("ktap-verdict")] + args,
                    log, env=env, ok=(0, 1, 4), capture=capture)
    finally:
        for src, dst in moves:
            if os.path.isdir(src):
                take_outputs(src, dst)


def read_json(path: str):
    with open(path) as f:
        return json.load(f)
