"""The rule table of docs/lint-rules.md, rendered from the registry so the two cannot drift.

`python -m dlpk.validator.rules_doc docs/lint-rules.md` rewrites the table below the marker and
keeps the prose above it; tests/validator/test_rules_doc.py fails when they differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlpk.validator.rules import RULES

MARKER = "<!-- rule table: generated from dlpk/validator/rules.py -->"


def rule_table() -> str:
    rows = ["| Code | Name | Severity | Fix | Summary |", "|---|---|---|---|---|"]
    for rule in RULES.values():
        summary = rule.summary.replace("|", "\\|")
        rows.append(
            f"| {rule.code} | `{rule.name}` | {rule.severity.value} | {rule.fix or ''} | "
            f"{summary} |"
        )
    return "\n".join(rows) + "\n"


def with_table(document: str) -> str:
    """`document` with everything after MARKER replaced by the current table."""
    head = document.split(MARKER, 1)[0]
    return f"{head}{MARKER}\n\n{rule_table()}"


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.write_text(with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
