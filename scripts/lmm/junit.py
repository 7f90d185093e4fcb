# SPDX-License-Identifier: GPL-2.0-only
"""The one JUnit XML writer: ktap-verdict's lanes and gate-report's
comparison both come out through render()."""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

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


def render(suites: Iterable[Tuple[str, List[Entry]]], name: Optional[str] = None) -> bytes:
    """suites: (testsuite name, entries) in order."""
    root = ET.Element("testsuites")
    if name:
        root.set("name", clean(name))
    for sname, entries in suites:
        suite = ET.SubElement(root, "testsuite", name=clean(sname))
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for e in entries:
            tc = ET.SubElement(suite, "testcase", classname=clean(e.classname), name=clean(e.name))
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
        suite.set("errors", "0")
        for k, v in counts.items():
            suite.set(k, str(v))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
