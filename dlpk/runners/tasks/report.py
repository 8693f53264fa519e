"""What every task hands back to the entrypoint for out/result.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.atomic import sha256_file


@dataclass
class TaskReport:
    """The one report type from a task to out/result.json: `files` are filled in by the job's
    face of the task (jobs.py, export.run_job), which knows the job directory."""

    files: list[tuple[str, int, str]] = field(default_factory=list)  # (job path, size, sha256)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> dict[str, str]:
        """An inference task's model arguments, after defaults were resolved."""
        return dict(self.parameters.get("arguments", {}))

    @property
    def device(self) -> str:
        return str(self.parameters.get("device", "cpu"))


def inference_report(
    tiles: int,
    pixels: int,
    seconds: float,
    device: str,
    arguments: dict[str, str],
    counts: dict[str, int] | None = None,
    warnings: list[str] | None = None,
) -> TaskReport:
    """What every inference task reports: tiles and pixels first, then its own counts."""
    return TaskReport(
        counts={"tiles": tiles, "pixels": pixels, **(counts or {})},
        timings={"task": seconds},
        parameters={"arguments": arguments, "device": device},
        warnings=list(warnings or []),
    )


def output_files(jobdir: Path, output: Path) -> list[tuple[str, int, str]]:
    """Every file an output consists of: the file, a Shapefile's sidecars, a folder's content."""
    if output.is_dir():
        paths = sorted(p for p in output.rglob("*") if p.is_file())
    else:
        paths = sorted(p for p in output.parent.glob(f"{output.stem}.*") if p.is_file())
    return [(p.relative_to(jobdir).as_posix(), p.stat().st_size, sha256_file(p)) for p in paths]
