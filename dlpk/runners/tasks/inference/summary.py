"""What a finished task reports: enough for a job's result.json and for the command line."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TaskSummary:
    task: str
    output: Path
    tiles: int
    pixels: int
    seconds: float
    device: str
    arguments: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data
