"""Human output: grouped per file, the offending line with a caret, colour on a terminal."""

from __future__ import annotations

from itertools import groupby

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.reporters.summary import summarize

_COLOURS = {"error": "31", "warning": "33", "info": "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _fix_note(diagnostic: Diagnostic) -> str:
    fix = diagnostic.fix
    if fix is None:
        return ""
    kind = "fix" if fix.safe else "unsafe fix"
    return f"\n      {kind}: {fix.description}"


def render_text(files: list[str], diagnostics: list[Diagnostic], colour: bool) -> str:
    lines: list[str] = []
    for file, group in groupby(diagnostics, key=lambda d: d.file):
        lines.append(_paint(file, "1", colour))
        for d in group:
            where = d.member + " " if d.member else ""
            position = f"{d.line}:{d.column}" if d.line is not None else "-"
            severity = _paint(f"{d.severity.value:<7}", _COLOURS[d.severity.value], colour)
            lines.append(f"  {where}{position:>7}  {severity} {d.code}  {d.message}{_fix_note(d)}")
            if d.excerpt is not None and d.column is not None:
                shown = d.excerpt.expandtabs(1)
                if len(shown) > 120:
                    start = max(0, d.column - 60)
                    shown, caret_at = shown[start : start + 120], d.column - start
                else:
                    caret_at = d.column
                lines.append(f"      | {shown}")
                lines.append("      | " + " " * (caret_at - 1) + _paint("^", "1", colour))
    s = summarize(files, diagnostics)
    tail = (
        f"{s['files']} file(s) checked: {s['errors']} error(s), {s['warnings']} warning(s), "
        f"{s['infos']} info"
    )
    if s["fixable"]:
        tail += f"; {s['fixable']} fixable with `dlpk fix`"
    lines.append(tail)
    return "\n".join(lines) + "\n"
