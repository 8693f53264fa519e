"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers."""

from __future__ import annotations

import json
from typing import Any

from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.rules import RULES
from dlpk.version import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "defaultConfiguration": {"level": _LEVEL[r.severity.value]},
            "properties": {"fix": r.fix or "none"},
        }
        for r in RULES.values()
    ]


def _result(d: Diagnostic, rule_index: dict[str, int]) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": d.file.replace("\\", "/")}}
    if d.line is not None and d.member is None:
        location["region"] = {"startLine": d.line, "startColumn": d.column}
    result: dict[str, Any] = {
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
        "level": _LEVEL[d.severity.value],
        "message": {"text": d.message},
        "locations": [{"physicalLocation": location}],
        "properties": {},
    }
    if d.member is not None:
        result["properties"]["member"] = d.member
        if d.line is not None:
            result["properties"]["memberLine"] = d.line
            result["properties"]["memberColumn"] = d.column
    if d.pointer is not None:
        result["properties"]["pointer"] = d.pointer
    if d.fix is not None:
        result["properties"]["fix"] = {"description": d.fix.description, "safe": d.fix.safe}
    if not result["properties"]:
        del result["properties"]
    return result


def render_sarif(files: list[str], diagnostics: list[Diagnostic], colour: bool) -> str:
    rules = _rules()
    rule_index = {r["id"]: i for i, r in enumerate(rules)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dlpk",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": [_result(d, rule_index) for d in diagnostics],
                "artifacts": [{"location": {"uri": f.replace("\\", "/")}} for f in files],
            }
        ],
    }
    # ASCII only: control, C1 and bidi characters of package data become \u escapes
    return json.dumps(log, indent=2, ensure_ascii=True) + "\n"
