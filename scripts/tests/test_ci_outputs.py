#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The result files of runs, read by their real consumers (make check).

  test_ci_outputs.py RUN_DIR...

For each RUN_DIR (the output of scripts/run or scripts/kunit: merged
results.ktap, junit.xml, results.kcidb.json, and a directory per lane):

  ktap   kunit.py parse (the kernel's own tools/testing/kunit, from the
         pinned linux-source) of the merged results.ktap gives, below
         each lane's module, the same tree, statuses and counts as
         kunit.py parse of that lane's console.log;
  junit  xmllint validates junit.xml against scripts/tests/junit.xsd; its
         tests/failures/skipped equal the KTAP leaf counts; its testcases
         of each lane's module are kunit.py --junit's leaves of that
         lane's console, with the same outcomes;
  kcidb  results.kcidb.json validates against KCIDB's schema
         (../shared/kcidb/, Debian's python3-jsonschema, with formats
         checked); one build per lane, one test per case and parameter.
         SKIP with the reason when the schema is not there.

Each validator is also shown a broken copy it must refuse, so a check
that cannot fail is caught too.  Runs itself in the build root (xmllint,
jsonschema).  Prints KTAP; exit 0 all passed, 1 a check failed, 4 all
skipped, 2 usage.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)
from lmm import pipeline, report  # noqa: E402

XSD = os.path.join(SCRIPTS, "tests", "junit.xsd")
KCIDB_SCHEMA = os.path.join(os.path.dirname(pipeline.TOP), "shared", "kcidb", "kcidb-v5.3.schema.json")


class Ktap:
    def __init__(self):
        self.n, self.failed, self.skipped, self.lines = 0, 0, 0, []

    def result(self, name: str, why: List[str], skip: str = "") -> None:
        self.n += 1
        if skip:
            self.skipped += 1
            self.lines.append("ok %d %s # SKIP %s" % (self.n, name, skip))
            return
        self.lines += ["# " + w for w in why[:20]]
        if len(why) > 20:
            self.lines.append("# ... %d more" % (len(why) - 20))
        self.failed += bool(why)
        self.lines.append("%s %d %s" % ("not ok" if why else "ok", self.n, name))


# ------------------------------------------------------------ kunit.py

def kunit_json(kunit: str, ktap_file: str, tmp: str) -> dict:
    out = os.path.join(tmp, "parsed.json")
    p = subprocess.run([sys.executable, os.path.join(kunit, "kunit.py"), "parse", "--json=" + out, ktap_file],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not os.path.isfile(out):
        raise RuntimeError("kunit.py parse %s gave no JSON (rc %d): %s" % (ktap_file, p.returncode, p.stdout[-300:]))
    with open(out) as f:
        return json.load(f)


def shape(group: dict) -> tuple:
    """A kunit.py JSON group as (name, leaves, subgroups), recursively."""
    return (group["name"], tuple((c["name"], c["status"]) for c in group["test_cases"]),
            tuple(shape(g) for g in group["sub_groups"]))


def leaf_counts(group: dict) -> Dict[str, int]:
    t = {"PASS": 0, "FAIL": 0, "SKIP": 0, "ERROR": 0}
    for c in group["test_cases"]:
        t[c["status"]] += 1
    for g in group["sub_groups"]:
        for k, v in leaf_counts(g).items():
            t[k] += v
    return t


def diff(a: tuple, b: tuple, where: str) -> List[str]:
    """Where two shapes first differ, in words."""
    if a[0] != b[0]:
        return ["%s: name %r, the console's %r" % (where, a[0], b[0])]
    here = "%s/%s" % (where, a[0])
    if a[1] != b[1]:
        return ["%s: leaves %s, the console's %s" % (here, list(a[1])[:6], list(b[1])[:6])]
    if len(a[2]) != len(b[2]):
        return ["%s: %d groups, the console's %d" % (here, len(a[2]), len(b[2]))]
    return [d for x, y in zip(a[2], b[2]) for d in diff(x, y, here)][:1]


def lane_dirs(run: str) -> List[Tuple[str, str]]:
    """(lane, its directory) of the lanes whose guest completed: the
    console of one that crashed holds a tree cut short, which the verdict
    completes with the cases it says are missing."""
    with open(os.path.join(run, "results.json")) as f:
        data = json.load(f)
    done = {c["lane"] for c in data["cases"] if c["name"].endswith(":guest:completed") and c["status"] == "pass"}
    return [(l["lane"], os.path.join(run, l["lane"])) for l in data["lanes"] if l["lane"] in done]


def check_ktap(kunit: str, run: str, tmp: str, ktap: str = "") -> List[str]:
    """ktap: a results.ktap other than RUN's own (the negative control)."""
    merged = kunit_json(kunit, ktap or os.path.join(run, "results.ktap"), tmp)
    lanes = {g["name"]: g for g in merged["sub_groups"]}
    why = []
    for lane, d in lane_dirs(run):
        if lane not in lanes:
            why.append("lane %s is not a top-level subtest of results.ktap" % lane)
            continue
        console = kunit_json(kunit, os.path.join(d, "console.log"), tmp)
        want = tuple(shape(g) for g in console["sub_groups"])
        if not want:
            continue        # a lane whose console holds no KTAP (it never ran a module)
        # kunit.py reads every module's KTAP of a console into one tree:
        # their suites, in order, are the lane's modules' suites.
        suites = [g for m in lanes[lane]["sub_groups"] for g in m["sub_groups"]]
        got = tuple(shape(g) for g in suites)
        if got != want:
            why += ["%s: %s" % (lane, d) for d in diff(("", (), got), ("", (), want), "")]
        else:
            mine = leaf_counts({"test_cases": [], "sub_groups": suites})
            if mine != leaf_counts(console):
                why.append("%s: counts %s, the console's %s" % (lane, mine, leaf_counts(console)))
    return why


# ---------------------------------------------------------------- JUnit

def xmllint(xml: str) -> Optional[str]:
    p = subprocess.run(["xmllint", "--noout", "--schema", XSD, xml],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return None if p.returncode == 0 else p.stdout.strip()[-400:]


def junit_leaves(xml: str) -> Dict[Tuple[str, str], str]:
    """{(suite path, testcase): outcome} of a JUnit file, nested
    (kunit.py) or flat (ours: the path is the testsuite's dotted name)."""
    import xml.etree.ElementTree as ET
    out: Dict[Tuple[str, str], str] = {}

    def walk(el, path):
        for child in el:
            if child.tag == "testsuite":
                walk(child, path + [child.get("name")])
            elif child.tag == "testcase":
                outcome = next((o.tag for o in child if o.tag in ("failure", "error", "skipped")), "pass")
                out[(".".join(path), child.get("name"))] = {"error": "failure"}.get(outcome, outcome)
    root = ET.parse(xml).getroot()
    walk(root, [root.get("name")] if root.tag == "testsuite" else [])
    return out


def check_junit(kunit: str, run: str, tmp: str, xml: str = "") -> List[str]:
    """xml: a junit.xml other than RUN's own (the negative control)."""
    import xml.etree.ElementTree as ET
    xml = xml or os.path.join(run, "junit.xml")
    why = []
    bad = xmllint(xml)
    if bad:
        why.append("xmllint refuses %s: %s" % (xml, bad))
    root = ET.parse(xml).getroot()
    merged = leaf_counts(kunit_json(kunit, os.path.join(run, "results.ktap"), tmp))
    counts = {k: int(root.get(k, "-1")) for k in ("tests", "failures", "skipped")}
    want = {"tests": sum(merged.values()), "failures": merged["FAIL"] + merged["ERROR"], "skipped": merged["SKIP"]}
    if counts != want:
        why.append("junit.xml counts %s, the KTAP leaves %s" % (counts, want))
    ours = junit_leaves(xml)
    for lane, d in lane_dirs(run):
        ref = os.path.join(tmp, "console.junit")
        subprocess.run([sys.executable, os.path.join(kunit, "kunit.py"), "parse", "--junit=" + ref,
                        os.path.join(d, "console.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.path.isfile(ref):
            why.append("%s: kunit.py parse --junit gave nothing" % lane)
            continue
        theirs = {(p.split(".", 1)[1] if "." in p else "", n): o for (p, n), o in junit_leaves(ref).items()}
        os.remove(ref)
        if not theirs:
            continue
        # Ours below lane.module., as kunit.py's below its root: every
        # module's suites (kunit.py reads a console's modules as one tree).
        mine = {}
        for (p, n), o in ours.items():
            parts = p.split(".")
            if parts[0] == report.ktap_name(lane) and len(parts) > 2:
                mine[(".".join(parts[2:]), n)] = o
        if mine != theirs:
            odd = sorted(set(theirs.items()) ^ set(mine.items()))[:4]
            why.append("%s: testcases differ from kunit.py --junit's of the console: %s" % (lane, odd))
    return why


# ---------------------------------------------------------------- KCIDB

def check_kcidb(run: str, schema: dict) -> List[str]:
    import jsonschema
    with open(os.path.join(run, "results.kcidb.json")) as f:
        doc = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    why = ["schema: %s at %s" % (e.message[:200], "/".join(map(str, e.absolute_path)))
           for e in sorted(v.iter_errors(doc), key=str)][:10]
    with open(os.path.join(run, "results.json")) as f:
        data = json.load(f)
    lanes = [l["lane"] for l in data["lanes"]]
    if len(doc.get("builds", [])) != len(lanes):
        why.append("%d builds for %d lanes" % (len(doc.get("builds", [])), len(lanes)))
    by_lane: Dict[str, list] = {}
    for c in data["cases"]:
        by_lane.setdefault(c["lane"], []).append(report.case_from_dict(c))
    want = sum(1 for lane, cases in by_lane.items() for _ in report.tests_of(report.lane_tree(lane, cases)))
    got = sum(t["status"] != "MISS" for t in doc.get("tests", []))
    if got != want:
        why.append("%d tests that ran, for %d cases and parameters" % (got, want))
    missing = sum(len(c.get("missing", [])) for c in data["cases"])
    miss = sum(t["status"] == "MISS" for t in doc.get("tests", []))
    if miss != missing:
        why.append("%d MISS tests for %d tests the plans promised and never saw" % (miss, missing))
    return why


def refused_by_schema(schema: dict, good: dict) -> List[str]:
    """Broken copies the schema must refuse: a check that cannot fail."""
    import jsonschema
    cls = jsonschema.validators.validator_for(schema)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    why = []
    for what, edit in (("a lower-case status", lambda d: d["tests"][0].update(status="pass")),
                       ("a path with '='", lambda d: d["tests"][0].update(path="a.depth=1")),
                       ("an id without its origin", lambda d: d["builds"][0].update(id="nocolon")),
                       ("a relative output URL", lambda d: d["tests"][0].update(
                           output_files=[{"name": "console.log", "url": "console.log"}]))):
        bad = copy.deepcopy(good)
        edit(bad)
        if v.is_valid(bad):
            why.append("the KCIDB schema accepts %s" % what)
    return why


def broken_copy(src: str, dst: str, old: str, new: str) -> str:
    with open(src) as f:
        text = f.read()
    if old not in text:
        raise ValueError("%s holds no %r to break" % (src, old))
    with open(dst, "w") as f:
        f.write(text.replace(old, new, 1))
    return dst


def refusals(kunit: str, run: str, tmp: str) -> List[str]:
    why = []
    src = os.path.join(run, "results.ktap")
    with open(src) as f:
        case = next((l for l in f if re.match(r"^ {12,}ok \d+ \S+$", l)), None)
    if not case:
        return ["%s has no passing case to break a copy of" % src]
    ktap = broken_copy(src, os.path.join(tmp, "broken.ktap"), case, case.replace("ok ", "not ok ", 1))
    if not check_ktap(kunit, run, tmp, ktap):
        why.append("the KTAP comparison accepts a case whose result differs from the console's")
    xml = os.path.join(run, "junit.xml")
    bad = broken_copy(xml, os.path.join(tmp, "broken.xml"), "<testcase ", "<testcase nameless=\"1\" ")
    if not xmllint(bad):
        why.append("xmllint accepts a testcase with an unknown attribute")
    import xml.etree.ElementTree as ET
    root = ET.parse(xml).getroot()
    bad = broken_copy(xml, os.path.join(tmp, "miscounted.xml"), 'tests="%s"' % root.get("tests"),
                      'tests="%d"' % (int(root.get("tests")) + 1))
    if not any("counts" in w for w in check_junit(kunit, run, tmp, bad)):
        why.append("the JUnit check accepts counts that are not the KTAP leaf counts")
    return why


def main(argv: List[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or any(a.startswith("-") for a in argv if a != "--in-root"):
        print(__doc__.split("\n\n")[1].strip() if argv and argv[0] in ("-h", "--help") else
              "usage: test_ci_outputs.py RUN_DIR...", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] != "--in-root":
        ksrc = pipeline.fetch_source()["KSRC"]
        runs = [os.path.abspath(r) for r in argv]
        for r in runs:
            if not os.path.isfile(os.path.join(r, "results.json")):
                print("test_ci_outputs: not a run's output directory: %s" % r, file=sys.stderr)
                return 2
        bind = ":".join(runs + ([os.path.dirname(KCIDB_SCHEMA)] if os.path.isfile(KCIDB_SCHEMA) else []))
        kunit = os.path.join(ksrc, "tools", "testing", "kunit")
        return subprocess.run([pipeline.script("buildroot"), "--", "python3", os.path.abspath(__file__),
                               "--in-root", kunit] + runs, env=dict(os.environ, LMM_BIND=bind)).returncode
    kunit, runs = argv[1], argv[2:]
    k = Ktap()
    schema = None
    if os.path.isfile(KCIDB_SCHEMA):
        with open(KCIDB_SCHEMA) as f:
            schema = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            name = os.path.basename(os.path.normpath(run))
            for what, check in (("ktap", lambda: check_ktap(kunit, run, tmp)),
                                ("junit", lambda: check_junit(kunit, run, tmp))):
                if not lane_dirs(run):
                    k.result("%s_%s" % (what, name), [],
                             skip="no lane whose guest completed: its console's tree is cut short")
                    continue
                try:
                    k.result("%s_%s" % (what, name), check())
                except (OSError, ValueError, KeyError, RuntimeError) as e:
                    k.result("%s_%s" % (what, name), ["%s: %s" % (type(e).__name__, e)])
            if schema is None:
                k.result("kcidb_" + name, [], skip="no KCIDB schema: %s is absent" % KCIDB_SCHEMA)
                continue
            try:
                k.result("kcidb_" + name, check_kcidb(run, schema))
            except (OSError, ValueError, KeyError) as e:
                k.result("kcidb_" + name, ["%s: %s" % (type(e).__name__, e)])
        # The checks refuse what they must: a broken copy of each file.
        full = next((r for r in runs if lane_dirs(r)), None)
        if full:
            try:
                k.result("checks_refuse_broken_files", refusals(kunit, full, tmp))
            except (OSError, ValueError, RuntimeError) as e:
                k.result("checks_refuse_broken_files", ["%s: %s" % (type(e).__name__, e)])
        else:
            k.result("checks_refuse_broken_files", ["no run whose guest completed to break a copy of"])
        if schema is not None:
            with open(os.path.join(runs[0], "results.kcidb.json")) as f:
                k.result("kcidb_schema_refuses_broken_files", refused_by_schema(schema, json.load(f)))
    print("KTAP version 1")
    print("1..%d" % k.n)
    print("\n".join(k.lines))
    print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0"
          % (k.n - k.failed - k.skipped, k.failed, k.skipped))
    if k.failed:
        return 1
    return 4 if k.skipped == k.n else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
