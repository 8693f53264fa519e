"""Counts shared by every reporter."""

from __future__ import annotations

from collections import Counter

from dlpk.validator.diagnostics import Diagnostic


def summarize(files: list[str], diagnostics: list[Diagnostic]) -> dict[str, int]:
    counts = Counter(d.severity.value for d in diagnostics)
    fixable = sum(1 for d in diagnostics if d.fix is not None and d.fix.safe)
    return {
        "files": len(files),
        "errors": counts["error"],
        "warnings": counts["warning"],
        "infos": counts["info"],
        "fixable": fixable,
    }
