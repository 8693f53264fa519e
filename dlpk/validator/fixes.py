"""Applying fixes: text edits on the .emd, repeated until nothing fixable remains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlpk.validator.diagnostics import Diagnostic, TextEdit

MAX_PASSES = 10


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    """Apply non-overlapping edits (later overlapping ones are skipped, applied next pass)."""
    chosen: list[TextEdit] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if chosen and edit.start < chosen[-1].end:
            continue
        if chosen and edit.start == chosen[-1].end == chosen[-1].start == edit.end:
            continue  # two insertions at one point: keep the first
        chosen.append(edit)
    for edit in reversed(chosen):
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


def is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and bool(fix.edits) and (fix.safe or unsafe)


@dataclass
class FixOutcome:
    text: str
    applied: list[Diagnostic]
    remaining: list[Diagnostic]


def fix_text(text: str, lint: Callable[[str], list[Diagnostic]], unsafe: bool) -> FixOutcome:
    """Lint, apply every applicable fix, and repeat: fixing syntax can reveal value problems."""
    applied: list[Diagnostic] = []
    for _ in range(MAX_PASSES):
        diagnostics = lint(text)
        fixable = [d for d in diagnostics if is_applicable(d, unsafe)]
        if not fixable:
            return FixOutcome(text, applied, diagnostics)
        edits = [edit for d in fixable for edit in (d.fix.edits if d.fix else ())]
        new_text = apply_edits(text, edits)
        if new_text == text:
            return FixOutcome(text, applied, diagnostics)
        applied += fixable
        text = new_text
    return FixOutcome(text, applied, lint(text))
