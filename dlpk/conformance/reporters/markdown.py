"""`--format markdown`: a table for a pull-request comment or a CI job summary
($GITHUB_STEP_SUMMARY), failures and warnings with their fix below it."""

from __future__ import annotations

from dlpk.spec.conformance import ConformanceReport
from dlpk.validator.reporters.safe_text import terminal_safe

_ICONS = {"pass": "✅ pass", "fail": "❌ fail", "warn": "⚠️ warn", "skip": "⏭️ skip"}


def _cell(text: str) -> str:
    """Text safe in one table cell: no pipe, no line break, no control character."""
    return terminal_safe(text).replace("|", "\\|")


def render_markdown(report: ConformanceReport, colour: bool = False) -> str:
    what = "package" if report.kind == "model" else "runner"
    s = report.summary
    verdict = "passed" if report.ok else "failed"
    lines = [
        f"### dlpk conformance: {what} `{_cell(report.target)}` {verdict}",
        "",
        f"{s.passed} passed, {s.failed} failed, {s.warned} warned, {s.skipped} skipped "
        f"(dlpk {report.dlpk})",
        "",
        "| Id | Check | Status | Summary |",
        "|---|---|---|---|",
    ]
    for c in report.checks:
        lines.append(f"| {c.id} | `{c.name}` | {_ICONS[c.status]} | {_cell(c.summary)} |")
    trouble = [c for c in report.checks if c.status in ("fail", "warn") and c.fix]
    if trouble:
        lines += ["", "#### What to fix", ""]
        lines += [f"- **{c.id}** `{c.name}`: {_cell(c.fix or '')}" for c in trouble]
    return "\n".join(lines) + "\n"
