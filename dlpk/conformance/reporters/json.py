"""`--format json`: the ConformanceReport model as JSON (schema: `dlpk schema conformance`,
documented in docs/conformance.md). Versioned: fields are only added; `version` is bumped on
any change that could break a reader."""

from __future__ import annotations

import json

from dlpk.spec.conformance import ConformanceReport


def render_json(report: ConformanceReport, colour: bool = False) -> str:
    # ASCII only: control, C1 and bidi characters from a package become \u escapes
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=True) + "\n"
