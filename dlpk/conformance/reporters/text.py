"""The report for people: one line per check, its fix under a failure or a warning, a summary.

Everything from the package or the runner (messages, names) goes through `terminal_safe`."""

from __future__ import annotations

from dlpk.spec.conformance import ConformanceReport
from dlpk.validator.reporters.safe_text import terminal_safe

_COLOURS = {"pass": "32", "fail": "31", "warn": "33", "skip": "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def render_text(report: ConformanceReport, colour: bool = False) -> str:
    what = "package" if report.kind == "model" else "runner"
    lines = [_paint(f"dlpk conformance: {what} {terminal_safe(report.target)}", "1", colour)]
    width = max((len(c.name) for c in report.checks), default=0)
    for check in report.checks:
        status = _paint(f"{check.status.upper():<4}", _COLOURS[check.status], colour)
        lines.append(
            f"  {check.id}  {check.name:<{width}}  {status}  {terminal_safe(check.summary)}"
        )
        if check.status in ("fail", "warn") and check.fix:
            lines.append(f"{'':{width + 15}}fix: {terminal_safe(check.fix)}")
        for artifact in check.artifacts:
            lines.append(f"{'':{width + 15}}see: {terminal_safe(artifact)}")
    s = report.summary
    verdict = "passed" if report.ok else "failed"
    tally = f"{s.passed} passed, {s.failed} failed, {s.warned} warned, {s.skipped} skipped"
    strict = " (--strict: warnings fail)" if report.strict and s.warned else ""
    lines.append(_paint(f"{verdict}: {tally}{strict}", "1", colour))
    return "\n".join(lines) + "\n"
