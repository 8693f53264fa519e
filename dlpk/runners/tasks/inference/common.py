"""Steps every inference task shares: device checks, CRS warnings, cropping a tile to its core."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import UsageError
from dlpk.runners.io.windows import Tile
from dlpk.runners.models.base import DEVICES
from dlpk.runners.tasks.inference.engine import Progress


@dataclass(frozen=True)
class TaskRequest:
    """What the user asked of an inference task, handed whole to the path that runs it (the
    built-in adapters or the package's raster function)."""

    raster: Path
    output: Path
    arguments: dict[str, str]
    device: str
    progress: Progress
    overwrite: bool = False
    trust_code: bool = False
    extent: list[float] | None = None
    aoi: Path | None = None


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise UsageError(f"device {device!r}: expected one of {', '.join(DEVICES)}")


def crs_warnings(dataset: Any) -> list[str]:
    if dataset.crs is None:
        return [f"{dataset.name} has no CRS: the output is in pixel space (column, row)"]
    return []


def core_of(tile: Tile, array: NDArray[np.generic]) -> NDArray[np.generic]:
    """The tile's core from a [..., H, W] array covering the whole tile."""
    top, left = tile.core_offset
    return array[..., top : top + tile.core.height, left : left + tile.core.width]
