# SPDX-License-Identifier: GPL-2.0-only
"""The one JUnit XML writer: ktap-verdict's lanes (through lmm.report)
and gate-report's comparison both come out through render().

The layout is the one Jenkins' JUnit plugin and kunit.py --junit read:
<testsuites> of <testsuite>s of <testcase>s; each testsuite counts its
own testcases (tests, failures, skipped, errors) and may carry
<properties>.  scripts/tests/junit.xsd describes it for a validator.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

RE_XML_BAD = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(s: str) -> str:
    """Text XML 1.0 can carry (a console may hold anything)."""
    return RE_XML_BAD.sub("", s)


@dataclass
class Entry:
    """One <testcase>."""
    classname: str
    name: str
    status: str             # pass, fail or skip
    message: str = ""       # why it failed or was skipped
    text: str = ""          # the failure's body; for a pass, its system-out
    time: Optional[float] = None    # seconds


@dataclass
class Suite:
    """One <testsuite>."""
    name: str
    entries: List[Entry]
    properties: Sequence[Tuple[str, str]] = field(default_factory=list)


def render(suites: Iterable[Suite], name: Optional[str] = None) -> bytes:
    """suites: in order."""
    root = ET.Element("testsuites")
    if name:
        root.set("name", clean(name))
    total = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    for s in suites:
        suite = ET.SubElement(root, "testsuite", name=clean(s.name))
        if s.properties:
            props = ET.SubElement(suite, "properties")
            for k, v in s.properties:
                ET.SubElement(props, "property", name=clean(k), value=clean(v))
        counts = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
        secs = 0.0
        for e in s.entries:
            tc = ET.SubElement(suite, "testcase", classname=clean(e.classname), name=clean(e.name))
            if e.time is not None:
                tc.set("time", "%.6f" % e.time)
                secs += e.time
            counts["tests"] += 1
            if e.status == "fail":
                counts["failures"] += 1
                el = ET.SubElement(tc, "failure", message=clean(e.message or "failed"))
                el.text = clean(e.text)
            elif e.status == "skip":
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=clean(e.message.strip()))
            elif e.text:
                ET.SubElement(tc, "system-out").text = clean(e.text)
        for k, v in counts.items():
            suite.set(k, str(v))
            total[k] += v
        suite.set("time", "%.6f" % secs)
    for k, v in total.items():
        root.set(k, str(v))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
