"""`--format junit`: JUnit XML, which CI systems (GitHub Actions' test reporters, GitLab,
Jenkins) show as a test suite. One testcase per check: a fail is a <failure>, a skip a
<skipped>, a warning passes with the warning in <system-out> (a <failure> with --strict).
The suite's properties carry the format's version (dlpk.conformance.version) and the dlpk
version; docs/conformance.md documents the layout."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from dlpk.spec.conformance import CONFORMANCE_VERSION, ConformanceReport
from dlpk.validator.reporters.safe_text import terminal_safe


def _text(value: object) -> str:
    """XML 1.0 cannot hold most control characters: they are shown as escapes instead."""
    return terminal_safe(value, multiline=True)


def render_junit(report: ConformanceReport, colour: bool = False) -> str:
    s = report.summary
    failures = s.failed + (s.warned if report.strict else 0)
    seconds = sum(c.seconds for c in report.checks)
    suites = ET.Element(
        "testsuites",
        name="dlpk conformance",
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped=str(s.skipped),
        time=f"{seconds:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_text(f"dlpk conformance {report.kind}: {report.target}"),
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped=str(s.skipped),
        time=f"{seconds:.3f}",
        timestamp=report.started,
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("dlpk.conformance.version", str(CONFORMANCE_VERSION)),
        ("dlpk.version", report.dlpk),
        ("dlpk.kind", report.kind),
        ("dlpk.target", report.target),
        ("dlpk.strict", str(report.strict)),
    ):
        ET.SubElement(properties, "property", name=name, value=_text(value))
    for c in report.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"dlpk.conformance.{c.group}",
            name=f"{c.id} {c.name}",
            time=f"{c.seconds:.3f}",
        )
        details = _text(_details(c.summary, c.fix, c.evidence, c.artifacts))
        if c.status == "fail" or (c.status == "warn" and report.strict):
            failure = ET.SubElement(
                case,
                "failure",
                message=_text(c.summary),
                type=c.id if c.status == "fail" else "warning",
            )
            failure.text = details
        elif c.status == "skip":
            ET.SubElement(case, "skipped", message=_text(c.summary))
        elif c.status == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {details}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _details(
    summary: str, fix: str | None, evidence: dict[str, object], artifacts: list[str]
) -> str:
    lines = [summary]
    if fix:
        lines.append(f"fix: {fix}")
    if evidence:
        lines.append("evidence: " + json.dumps(evidence, sort_keys=True, default=str))
    lines += [f"see: {a}" for a in artifacts]
    return "\n".join(lines)
