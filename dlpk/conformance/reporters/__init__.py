"""Reporters: the conformance report as text for people, or as versioned JSON and JUnit XML for
machines and CI, or as Markdown for a pull-request comment."""

from __future__ import annotations

from collections.abc import Callable

from dlpk.conformance.reporters.json import render_json
from dlpk.conformance.reporters.junit import render_junit
from dlpk.conformance.reporters.markdown import render_markdown
from dlpk.conformance.reporters.text import render_text
from dlpk.spec.conformance import ConformanceReport

Reporter = Callable[[ConformanceReport, bool], str]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "markdown": render_markdown,
}


def render(report: ConformanceReport, format: str = "text", colour: bool = False) -> str:
    """The report in `format` (text, json, junit or markdown)."""
    reporter = REPORTERS.get(format)
    if reporter is None:
        from dlpk.errors import UsageError

        raise UsageError(f"unknown report format {format!r}", f"use {', '.join(REPORTERS)}")
    return reporter(report, colour)


__all__ = ["REPORTERS", "Reporter", "render"]
