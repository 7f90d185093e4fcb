# SPDX-License-Identifier: GPL-2.0-only
"""A verdict's cases as data, and the files CI systems take from them.

scripts/ktap-verdict turns a console into Cases (one per test case, with
its parameters); this module writes them out:

  results.ktap        KTAP v1, nested: lane > module > suite > case >
                      parameter, as kunit.py parse reads it (each lane's
                      "# <lane>: N passed, ..." summary, counted in cases,
                      follows its result line at the top level)
  junit.xml           one <testsuite> per node whose children are leaves,
                      the leaves its <testcase>s (a case with parameters
                      is a suite of them, never counted itself, as
                      kunit.py --junit does it), times from the console's
                      printk stamps, the lane's kernel as <properties>
  results.kcidb.json  a KCIDB v5 submission: one checkout per kernel
                      source, one build per lane, one test per case and
                      parameter (MISS for those a plan promised but the
                      guest never reported)

The tree is built once (lane_tree) and every format walks it, so their
counts agree by construction: a leaf is a test, a node with children is
a group whose own result is reported only when no leaf below says it (a
"result" leaf).
"""

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from lmm import junit

ORIGIN = "lazy_mmu_tests"   # the KCIDB origin: [a-z0-9_]+
KCIDB_VERSION = {"major": 5, "minor": 3}
MAX_EXCERPT = 16384         # bytes of a failure's log kept in a KCIDB test
RE_PATH_BAD = re.compile(r"[^A-Za-z0-9_-]+")


# A console line's printk stamp ("[    6.507907]", "[    6.5][   T61]", "<6>").
RE_STAMP = re.compile(r"^(?:<\d+>)?\[\s*(\d+\.\d+)\](?:\[\s*[TC]\d+\])? ?")


def unstamp(line: str) -> str:
    return RE_STAMP.sub("", line, count=1)


def stamp(line: str) -> Optional[float]:
    """The printk time of a console line (printk.time=1), if it has one."""
    m = RE_STAMP.match(line)
    return float(m.group(1)) if m else None


@dataclass
class Param:
    name: str
    status: str
    reason: str = ""
    diagnostics: List[str] = field(default_factory=list)
    duration: Optional[float] = None


@dataclass
class Case:
    name: str
    module: str
    suite: Optional[str]
    case: Optional[str]
    status: str                     # pass, fail, skip, xfail
    reason: str = ""
    diagnostics: List[str] = field(default_factory=list)
    params: List[Param] = field(default_factory=list)
    lane: str = ""
    kind: str = "test"              # test (from a module) or check (synthetic)
    duration: Optional[float] = None
    missing: List[str] = field(default_factory=list)    # tests a plan promised, never reported


def case_from_dict(d: dict) -> Case:
    params = [Param(p.get("name", "?"), p.get("status", "fail"), p.get("reason", ""),
                    p.get("diagnostics", []), p.get("duration")) for p in d.get("params", [])]
    return Case(d.get("name", "?"), d.get("module", "?"), d.get("suite"), d.get("case"),
                d.get("status", "fail"), d.get("reason", ""), d.get("diagnostics", []),
                params, d.get("lane", ""), d.get("kind", "test"), d.get("duration"),
                d.get("missing", []))


def totals(cases: Iterable) -> dict:
    """Counts by status of CASES (Cases or leaves: anything with .status)."""
    t = dict.fromkeys(("pass", "fail", "xfail", "xpass", "skip", "error"), 0)
    for c in cases:
        t[c.status] += 1
    return t


def verdict(cases: List[Case]) -> str:
    """A lane's verdict: fail if any case failed; skip if every test case
    (not the checks) skipped; else pass."""
    if any(c.status == "fail" for c in cases):
        return "fail"
    tests = [c for c in cases if c.kind == "test"]
    return "skip" if tests and all(c.status == "skip" for c in tests) else "pass"


def summary(lane: str, t: dict) -> str:
    return "# %s: %d passed, %d failed, %d skipped" % (lane, t["pass"], t["fail"], t["skip"])


def ktap_name(name: str) -> str:
    """A test name KTAP readers take as a name: no directive, one line."""
    return re.sub(r"\s+", " ", name.replace("#", "_")).strip() or "unnamed"


# ------------------------------------------------------------------ tree

@dataclass
class Test:
    """A node of the result tree.  own: the node's own result when a
    Case or Param gave it one (a leaf always has one)."""
    name: str
    flat: str = ""                  # lane:module:suite:case[param], for people
    own: Optional[str] = None       # pass, fail, skip, xfail
    reason: str = ""
    diagnostics: List[str] = field(default_factory=list)
    duration: Optional[float] = None
    kind: str = "test"
    children: List["Test"] = field(default_factory=list)

    def child(self, name: str) -> "Test":
        name = ktap_name(name)
        for c in self.children:
            if c.name == name:
                return c
        c = Test(name, kind=self.kind)
        self.children.append(c)
        return c

    def leaves(self) -> List["Test"]:
        if not self.children:
            return [self]
        return [l for c in self.children for l in c.leaves()]

    @property
    def status(self) -> str:
        if not self.children:
            return self.own or "fail"
        below = [c.status for c in self.children]
        if "fail" in below or self.own == "fail":
            return "fail"
        if all(s == "skip" for s in below):
            return "skip"
        return "pass"


def _set(node: Test, flat: str, status: str, reason: str, diags: List[str],
         duration: Optional[float], kind: str) -> None:
    """Give NODE its own result; a second result for one path never
    hides a failure."""
    if node.own == "fail" and status != "fail":
        return
    node.flat, node.own, node.reason, node.diagnostics = flat, status, reason, list(diags)
    node.duration, node.kind = duration, kind


def lane_tree(lane: str, cases: List[Case], missing: bool = False) -> Test:
    """LANE's cases as a tree: lane > module > suite > case > parameter
    (a parameter "a/b" is b below a).  missing: also the tests a plan
    promised and the guest never reported, as "miss" leaves beside the
    case that says so (KCIDB's MISS; KTAP and JUnit have the failing
    "incomplete" case alone)."""
    root = Test(ktap_name(lane), flat=lane)
    for c in cases:
        path = [c.module] + [p for p in (c.suite, c.case) if p]
        parent = node = root
        for part in path:
            parent, node = node, node.child(part)
            node.kind = c.kind
        _set(node, c.name, c.status, c.reason, c.diagnostics, c.duration, c.kind)
        for p in c.params:
            pnode = node
            for part in p.name.split("/"):
                pnode = pnode.child(part)
            _set(pnode, "%s[%s]" % (c.name, p.name), p.status, p.reason, p.diagnostics,
                 p.duration, c.kind)
        for m in c.missing if missing else ():
            _set(parent.child(m), "%s:%s" % (c.name.rsplit(":", 1)[0], m), "miss",
                 "its plan promised it, it never reported", [], None, c.kind)
    _resolve(root)
    return root


def _resolve(node: Test) -> None:
    """A group whose own result failed with no failing leaf below gets a
    "result" leaf saying so: leaf counts then carry every failure."""
    for c in node.children:
        _resolve(c)
    if node.children and node.own == "fail" and all(l.status != "fail" for l in node.leaves()):
        leaf = node.child("result")
        _set(leaf, node.flat, "fail", node.reason, node.diagnostics, None, node.kind)
        node.reason, node.diagnostics = "", []


# ------------------------------------------------------------------ KTAP

def _diag_lines(t: Test) -> List[str]:
    """A test's diagnostics before its result line: why it failed (or
    the note a pass carries), under its flat name so a reader of any one
    line knows which case it is about."""
    status = t.status
    if status == "fail" and (t.reason or not t.children):
        out = ["%s: %s" % (t.flat or t.name, t.reason or "failed")]
        return out + [d for d in t.diagnostics if d != t.reason]
    if status == "fail" and t.diagnostics:
        return list(t.diagnostics)
    if t.reason and status == "pass":
        return ["%s: %s" % (t.flat or t.name, t.reason)]
    return []


def _result_line(t: Test, n: int) -> str:
    status = t.status
    directive = ""
    if status == "skip":
        directive = " # SKIP" + (" " + t.reason if t.reason else "")
    elif status == "xfail":
        directive = " # XFAIL" + (" " + t.reason if t.reason else "")
    return "%s %d %s%s" % ("not ok" if status == "fail" else "ok", n, t.name, directive)


def _ktap_group(t: Test, indent: int, out: List[str]) -> None:
    pad = " " * indent
    out += [pad + "KTAP version 1", pad + "# Subtest: " + t.name, pad + "1..%d" % len(t.children)]
    for n, c in enumerate(t.children, 1):
        if c.children:
            _ktap_group(c, indent + 4, out)
        out += [pad + "# " + d for d in _diag_lines(c)]
        out.append(pad + _result_line(c, n))


def render_ktap(groups: List[Tuple[str, List[Case]]]) -> str:
    """groups: (lane name, cases).  Each lane is a top-level subtest; its
    summary line (counted in cases, as people read a lane) comes just
    before its result line, so a KTAP reader files it under that lane.
    The Totals line counts the leaves, as kunit.py does."""
    out = ["KTAP version 1", "1..%d" % len(groups)]
    leaves: List[Test] = []
    for n, (lane, cases) in enumerate(groups, 1):
        tree = lane_tree(lane, cases)
        if tree.children:
            _ktap_group(tree, 4, out)
        else:
            tree.own, tree.reason = "fail", "no results"
        leaves += tree.leaves()
        out.append(summary(lane, totals(cases)))
        line = _result_line(tree, n)
        if verdict(cases) == "skip" and " # " not in line:
            line += " # SKIP every test case skipped"
        out.append(line)
    t = totals(leaves)
    out.append("# Totals: pass:%d fail:%d xfail:%d xpass:%d skip:%d error:%d"
               % (t["pass"], t["fail"], t["xfail"], t["xpass"], t["skip"], t["error"]))
    return "\n".join(out) + "\n"


def flat_lines(groups: List[Tuple[str, List[Case]]]) -> List[str]:
    """One line per case, for people watching a run: "ok lane:...:case"."""
    out = []
    for _, cases in groups:
        for c in cases:
            mark = "not ok" if c.status == "fail" else "ok"
            directive = {"skip": " # SKIP", "xfail": " # XFAIL"}.get(c.status, "")
            out.append("%s %s%s%s" % (mark, c.name, directive,
                                      " " + c.reason if directive and c.reason else ""))
    return out


# ----------------------------------------------------------------- JUnit

def _junit_suites(t: Test, path: List[str], props: List[Tuple[str, str]], out: list) -> None:
    leaves = [c for c in t.children if not c.children]
    if leaves:
        entries = []
        for l in leaves:
            status = l.status
            if status == "xfail":
                status = "skip"
            msg = l.reason if status != "pass" else ""
            text = "\n".join(_diag_lines(l)) if status == "fail" else ""
            entries.append(junit.Entry(".".join(path), l.name, status, msg, text, l.duration))
        out.append(junit.Suite(".".join(path), entries, props))
    for c in t.children:
        if c.children:
            _junit_suites(c, path + [c.name], props, out)


def render_junit(groups: List[Tuple[str, List[Case]]], meta: Optional[Dict[str, dict]] = None) -> bytes:
    """meta: lane -> its kernel facts, as <properties> of its suites."""
    suites: List[junit.Suite] = []
    for lane, cases in groups:
        m = (meta or {}).get(lane, {})
        props = [("lane", lane)] + [(k, str(m[k])) for k in sorted(m) if m[k] not in (None, "")]
        _junit_suites(lane_tree(lane, cases), [ktap_name(lane)], props, suites)
    return junit.render(suites)


# ----------------------------------------------------------------- KCIDB

def kcidb_path(parts: List[str]) -> str:
    """A KCIDB test path: dot-separated segments of [A-Za-z0-9_-]."""
    return ".".join(RE_PATH_BAD.sub("_", p).strip("_") or "_" for p in parts)


def _local_id(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


KCIDB_STATUS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "xfail": "DONE", "miss": "MISS"}


def kcidb(groups: List[Tuple[str, List[Case]]], meta: Dict[str, dict],
          files: Dict[str, Dict[str, str]]) -> dict:
    """A KCIDB v5 submission for GROUPS.  meta: lane -> facts (checkout,
    arch, compiler, config, kernel_release, kernel_build, qemu);
    files: lane -> {file name: URL} of its outputs (the console first)."""
    checkouts, builds, tests = {}, [], []
    for lane, cases in groups:
        m = meta.get(lane, {})
        source = m.get("checkout") or "unknown kernel source"
        cid = "%s:%s" % (ORIGIN, _local_id("checkout", source, m.get("patchset", "")))
        if cid not in checkouts:
            co = {"id": cid, "origin": ORIGIN, "comment": source, "valid": True}
            if re.match(r"^[0-9a-f]{40}$", m.get("git_commit", "")):
                co["git_commit_hash"] = m["git_commit"]
            if re.match(r"^[0-9a-f]{64}$", m.get("patchset", "")):
                co["patchset_hash"] = m["patchset"]
            checkouts[cid] = co
        # One build per lane and run: a later run of the lane is new data.
        bid = "%s:%s-%s" % (ORIGIN, kcidb_path([lane]), _local_id("build", lane, source,
                                                                    m.get("kernel_build", ""),
                                                                    m.get("run", "")))
        build = {"id": bid, "origin": ORIGIN, "checkout_id": cid,
                 "comment": "lane %s: %s" % (lane, m.get("kernel_release") or "kernel not seen")}
        arch = re.sub(r"[^a-z0-9_]", "_", m.get("arch", "").lower())
        if arch:
            build["architecture"] = arch
        for key in ("compiler", "config_name"):
            if m.get(key):
                build[key] = m[key]
        # A kernel that booted (it said its version, or ran a module) is a
        # good build; of one that did not, this run cannot tell why.
        if m.get("kernel_release") or any(c.kind == "test" for c in cases):
            build["status"] = "PASS"
        build["misc"] = {k: v for k, v in m.items() if k in ("kernel_release", "kernel_build", "qemu", "run")}
        builds.append(build)
        outputs = [{"name": n, "url": u} for n, u in files.get(lane, {}).items()]
        env = {"comment": m.get("qemu") or "QEMU guest"}
        tree = lane_tree(lane, cases, missing=True)
        seen: Dict[str, int] = {}
        for node, parts in tests_of(tree):
            status = node.own if not node.children else node.status
            path = kcidb_path(parts)
            seen[path] = seen.get(path, 0) + 1
            if seen[path] > 1:      # names that differ only in what a path cannot hold
                path += "_%d" % seen[path]
            t = {"id": "%s:%s" % (bid, path), "build_id": bid, "origin": ORIGIN,
                 "path": path, "status": KCIDB_STATUS.get(status, "ERROR"),
                 "environment": env, "misc": {"lane": lane, "name": node.flat or node.name}}
            if node.duration is not None:
                t["duration"] = round(node.duration, 6)
            excerpt = "\n".join(_diag_lines(node))
            if status in ("fail", "skip", "miss") and (excerpt or node.reason):
                t["log_excerpt"] = (excerpt or node.reason).encode()[:MAX_EXCERPT].decode(errors="ignore")
            if outputs:
                t["output_files"] = outputs
            tests.append(t)
    return {"version": dict(KCIDB_VERSION), "checkouts": list(checkouts.values()),
            "builds": builds, "tests": tests}


def tests_of(t: Test, parts: Optional[List[str]] = None):
    """(node, path) of every node below T that is a case, a parameter or a
    check, a KCIDB test each (modules and suites are groups, not tests)."""
    for c in t.children:
        here = (parts or []) + [c.name]
        if c.own is not None:
            yield c, here
        yield from tests_of(c, here)


def file_urls(lane_dir: str, names: Iterable[str], base: str) -> Dict[str, str]:
    """{name: URL} of the files of lane_dir that exist, under BASE (where a
    CI publishes the lane directories); none without BASE: a path of this
    machine means nothing to a KCIDB reader, and outlives the run."""
    if not base:
        return {}
    return {n: base.rstrip("/") + "/" + os.path.basename(os.path.normpath(lane_dir)) + "/" + n
            for n in names if os.path.isfile(os.path.join(lane_dir, n))}
