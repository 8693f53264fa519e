"""The table of docs/arcgis-names.md, rendered from dlpk/cli/arcgis_names.py (the table the
parsers read) so the two cannot drift.

`python -m dlpk.cli.names_doc docs/arcgis-names.md` rewrites the table below the marker and
keeps the prose above it; tests/cli/test_arcgis_names.py fails when they differ.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from dlpk.cli.arcgis_names import NAMES

MARKER = "<!-- name table: generated from dlpk/cli/arcgis_names.py -->"


def _code(words: Sequence[str]) -> str:
    shown = " ".join(f'"{word}"' if " " in word or ";" in word else word for word in words)
    return f"`{shown}`"


def name_table() -> str:
    rows = [
        "| ArcGIS parameter | Commands | ArcGIS form | dlpk form | Notes |",
        "|---|---|---|---|---|",
    ]
    for name in NAMES:
        commands = ", ".join(f"`{command}`" for command in name.commands)
        arcgis = _code((name.option, *name.values)) if name.mapped else "-"
        dlpk = _code(name.dlpk) if name.mapped else "no equivalent"
        note = name.note.replace("|", "\\|")
        rows.append(f"| `{name.arcgis}` | {commands} | {arcgis} | {dlpk} | {note} |")
    return "\n".join(rows) + "\n"


def with_table(document: str) -> str:
    """`document` with everything after MARKER replaced by the current table."""
    head = document.split(MARKER, 1)[0]
    return f"{head}{MARKER}\n\n{name_table()}"


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.write_text(with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
