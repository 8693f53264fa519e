"""GitHub Actions workflow commands: annotations on the pull request's files.

The commands are read from a log that people also read on a terminal: package data goes
through `terminal_safe` first (its own newlines shown as `\\n`, never a second command), then
through the workflow-command escapes.
"""

from __future__ import annotations

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.reporters.safe_text import terminal_safe

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    # terminal_safe leaves no CR or LF: one diagnostic is always one workflow command
    return terminal_safe(text).replace("%", "%25")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(files: list[str], diagnostics: list[Diagnostic], colour: bool) -> str:
    lines = []
    for d in diagnostics:
        props = [f"file={_escape_property(d.file)}"]
        if d.line is not None and d.member is None:
            props += [f"line={d.line}", f"col={d.column}"]
        props.append(f"title={_escape_property(d.code)}")
        member = f"{d.member}: " if d.member else ""
        message = _escape_data(f"{member}{d.message} [{d.code}]")
        lines.append(f"::{_LEVEL[d.severity.value]} {','.join(props)}::{message}")
    return "".join(line + "\n" for line in lines)
