"""Reporters turn diagnostics into text for people or versioned documents for machines."""

from __future__ import annotations

from collections.abc import Callable

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.reporters.github import render_github
from dlpk.validator.reporters.json import render_json
from dlpk.validator.reporters.sarif import render_sarif
from dlpk.validator.reporters.text import render_text

Reporter = Callable[[list[str], list[Diagnostic], bool], str]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}

__all__ = ["REPORTERS", "Reporter"]
