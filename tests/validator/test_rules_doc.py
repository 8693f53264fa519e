"""docs/lint-rules.md lists every rule as the registry has it (code, severity, fix, summary)."""

from __future__ import annotations

from pathlib import Path

from dlpk.validator.rules import RULES
from dlpk.validator.rules_doc import MARKER, rule_table, with_table

DOC = Path(__file__).parents[2] / "docs" / "lint-rules.md"


def test_the_rule_table_matches_the_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == with_table(text), (
        "docs/lint-rules.md is stale: run `python -m dlpk.validator.rules_doc docs/lint-rules.md`"
    )


def test_the_table_has_one_row_per_rule_with_its_severity() -> None:
    rows = [line for line in rule_table().splitlines()[2:] if line.startswith("| DL")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(RULES)
    assert "| DL303 | `duplicate-class-name` | warning |" in rule_table()
    assert MARKER in DOC.read_text(encoding="utf-8")


def test_with_table_keeps_the_prose_and_replaces_an_old_table() -> None:
    stale = f"# Title\n\nprose\n\n{MARKER}\n\n| old | table |\n"
    assert with_table(stale) == f"# Title\n\nprose\n\n{MARKER}\n\n{rule_table()}"
