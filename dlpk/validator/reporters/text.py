"""Human output: grouped per file, the offending line with a caret, colour on a terminal.

Every piece of package data (file and member names, messages, fix descriptions, the source
line) goes through `terminal_safe`: only this reporter's own newlines and colours reach the
terminal raw.
"""

from __future__ import annotations

from itertools import groupby

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.reporters.safe_text import terminal_safe
from dlpk.validator.reporters.summary import summarize

_COLOURS = {"error": "31", "warning": "33", "info": "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _fix_note(diagnostic: Diagnostic) -> str:
    fix = diagnostic.fix
    if fix is None:
        return ""
    kind = "fix" if fix.safe else "unsafe fix"
    return f"\n      {kind}: {terminal_safe(fix.description)}"


def _excerpt(line: str, column: int, colour: bool) -> list[str]:
    """The source line (at most 120 characters of it, around the column) and a caret under it.

    The window is cut before anything else is done to the line, so a one-line 16 MB .emd costs
    120 characters per diagnostic; the caret is placed after the escapes the window shows.
    """
    if len(line) > 120:
        start = max(0, column - 60)
        shown, caret_at = line[start : start + 120], column - start
    else:
        shown, caret_at = line, column
    shown = shown.replace("\t", " ")  # what expandtabs(1) does, one column per tab
    before = terminal_safe(shown[: max(caret_at - 1, 0)])
    return [
        f"      | {terminal_safe(shown)}",
        "      | " + " " * len(before) + _paint("^", "1", colour),
    ]


def render_text(files: list[str], diagnostics: list[Diagnostic], colour: bool) -> str:
    lines: list[str] = []
    for file, group in groupby(diagnostics, key=lambda d: d.file):
        lines.append(_paint(terminal_safe(file), "1", colour))
        for d in group:
            where = terminal_safe(d.member) + " " if d.member else ""
            position = f"{d.line}:{d.column}" if d.line is not None else "-"
            severity = _paint(f"{d.severity.value:<7}", _COLOURS[d.severity.value], colour)
            code, message = terminal_safe(d.code), terminal_safe(d.message)
            lines.append(f"  {where}{position:>7}  {severity} {code}  {message}{_fix_note(d)}")
            if d.excerpt is not None and d.column is not None:
                lines += _excerpt(d.excerpt, d.column, colour)
    s = summarize(files, diagnostics)
    tail = (
        f"{s['files']} file(s) checked: {s['errors']} error(s), {s['warnings']} warning(s), "
        f"{s['infos']} info"
    )
    if s["fixable"]:
        tail += f"; {s['fixable']} fixable with `dlpk fix`"
    lines.append(tail)
    return "\n".join(lines) + "\n"
