"""What every task hands back to the entrypoint for out/result.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.atomic import sha256_file


@dataclass
class TaskReport:
    files: list[tuple[str, int, str]] = field(default_factory=list)  # (job path, size, sha256)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def output_files(jobdir: Path, output: Path) -> list[tuple[str, int, str]]:
    """Every file an output consists of: the file, a Shapefile's sidecars, a folder's content."""
    if output.is_dir():
        paths = sorted(p for p in output.rglob("*") if p.is_file())
    else:
        paths = sorted(p for p in output.parent.glob(f"{output.stem}.*") if p.is_file())
    return [(p.relative_to(jobdir).as_posix(), p.stat().st_size, sha256_file(p)) for p in paths]
