"""JUnit XML for ``iqa check --junit FILE``: one testcase per pair.

A failing pair gets a ``<failure>`` whose message names each failing gate
with value, threshold and margin; a pair that could not be read gets an
``<error>``; a new output outside CI passes with a ``<system-out>`` note.
Every pair's warnings (``warning: ...`` lines) are in its text, passing
pairs' in ``<system-out>``.
Built with :mod:`xml.etree.ElementTree`, written atomically.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..atomic import atomic_write


def build_junit(rows: list[Any], *, verdict: str, settings: Any = None) -> ET.Element:
    failures = sum(1 for r in rows if r.regression and not r.action)
    errors = sum(1 for r in rows if r.status == "ERROR")
    suites = ET.Element("testsuites", name="iqa check", tests=str(len(rows)), failures=str(failures),
                        errors=str(errors))
    suite = ET.SubElement(suites, "testsuite", name="iqa check", tests=str(len(rows)), failures=str(failures),
                          errors=str(errors), skipped="0")
    if settings is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="settings", value=settings.describe())
        ET.SubElement(props, "property", name="verdict", value=verdict)
    for r in rows:
        case = ET.SubElement(suite, "testcase", classname="iqa.check", name=r.key,
                             file=str(r.output or r.baseline or r.key))
        lines = [g.describe() for g in r.gates]
        if r.where:
            lines.append(f"where: {r.where}")
        if r.baseline:
            lines.append(f"baseline: {r.baseline}")
        if r.output:
            lines.append(f"output: {r.output}")
        lines += [f"warning: {w}" for w in r.warnings]
        detail = "\n".join(lines)
        if r.status == "ERROR":
            el = ET.SubElement(case, "error", message=r.reason or "error", type="error")
            el.text = detail
        elif r.regression and not r.action:
            el = ET.SubElement(case, "failure", message=r.summary(), type=r.status.lower())
            el.text = (r.reason + "\n" if r.reason and r.gates else "") + detail
        else:
            note = "; ".join(x for x in (r.reason, f"baseline {r.action}" if r.action else None) if x)
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(x for x in (note, detail) if x)
    return suites


def write_junit(path: str, rows: list[Any], *, verdict: str, settings: Any = None) -> None:
    root = build_junit(rows, verdict=verdict, settings=settings)
    ET.indent(root)
    data = ET.tostring(root, encoding="unicode", xml_declaration=False)
    with atomic_write(path) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write(data + "\n")
