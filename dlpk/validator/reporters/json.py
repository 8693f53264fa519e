"""The documented, versioned JSON report (docs/lint-json.md). Bump VERSION on any change."""

from __future__ import annotations

import json
from typing import Any

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.reporters.summary import summarize

VERSION = 1


def diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        fix = {
            "description": d.fix.description,
            "safe": d.fix.safe,
            "edits": [
                {"start": e.start, "end": e.end, "replacement": e.replacement} for e in d.fix.edits
            ],
            "action": d.fix.action,
        }
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "file": d.file,
        "member": d.member,
        "pointer": d.pointer,
        "line": d.line,
        "column": d.column,
        "fix": fix,
    }


def render_json(files: list[str], diagnostics: list[Diagnostic], colour: bool) -> str:
    document = {
        "version": VERSION,
        "diagnostics": [diagnostic_dict(d) for d in diagnostics],
        "summary": summarize(files, diagnostics),
    }
    # ASCII only: control, C1 and bidi characters of package data become \u escapes
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"
