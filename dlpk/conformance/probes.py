"""Probes of the loaded model itself, on tiles read from the test raster as the runner reads them.

The receptive field is measured, not read from the architecture: one pixel of a tile is
changed and the output compared with the unchanged tile's; the farthest output pixel that moves
(by more than a ten-thousandth of the largest change) gives the radius the padding must cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dlpk.conformance.synthetic import Geometry
from dlpk.runners.io.raster_source import open_source
from dlpk.runners.io.windows import TileGrid, plan_tiles
from dlpk.runners.models.base import Adapter
from dlpk.spec.emd import EsriModelDefinition

#: A change is counted where it exceeds this fraction of the largest change.
RELATIVE = 1e-4


def read_tiles(
    raster: Path, emd: EsriModelDefinition, normalised: bool, geometry: Geometry, count: int
) -> NDArray[np.float32]:
    """The first `count` tiles of the raster's plan, as the model receives them [N, C, H, W]."""
    grid = TileGrid(geometry.tile_height, geometry.tile_width, geometry.padding)
    with open_source(raster, emd, normalised) as source:
        tiles = plan_tiles(source.height, source.width, grid)
        # interior tiles first: the edge tiles' fill says little about the model
        tiles.sort(key=lambda t: (t.read.row < 0 or t.read.col < 0, t.index))
        return np.stack([source.read_tile(t.read)[0] for t in tiles[:count]])


def first_output(adapter: Adapter, batch: NDArray[np.float32]) -> NDArray[np.float64]:
    return np.asarray(adapter.forward(batch)[0], dtype=np.float64)


@dataclass(frozen=True)
class Radius:
    """How far one pixel's change reaches in the output; `edge` when it reaches the tile's
    border (the output depends on the whole tile)."""

    radius: int
    edge: bool
    moved: bool  # whether the output changed at all
    unstable: bool = False  # the same tile gave other outputs twice: nothing to measure


def receptive_radius(adapter: Adapter, tile: NDArray[np.float32]) -> Radius:
    """The largest reach over a few changed pixels near the tile's centre, each changed up
    and down by a few standard deviations of the tile."""
    _, height, width = tile.shape
    base = first_output(adapter, tile[np.newaxis])[0]
    if largest_change([base], [first_output(adapter, tile[np.newaxis])[0]]):
        return Radius(0, False, False, unstable=True)
    spread = float(np.std(tile)) or 1.0
    reach, edge, moved = 0, False, False
    for row, col in ((height // 2, width // 2), (height // 2 - 2, width // 2 + 3)):
        for sign in (1.0, -1.0):
            changed = tile.copy()
            changed[:, row, col] += sign * (3 * spread + 1)
            after = first_output(adapter, changed[np.newaxis])[0]
            with np.errstate(invalid="ignore"):
                delta = np.abs(after - base)
            if after.ndim == 3:  # [K, H, W] -> the largest change over the channels
                delta = delta.max(axis=0)
            if delta.ndim != 2 or not np.isfinite(delta).all():
                continue
            peak = float(delta.max())
            if peak <= 0:
                continue
            moved = True
            rows, cols = np.nonzero(delta > RELATIVE * peak)
            reach = max(reach, int(np.max(np.maximum(np.abs(rows - row), np.abs(cols - col)))))
            edge = edge or bool(
                rows.min() == 0
                or cols.min() == 0
                or rows.max() == height - 1
                or cols.max() == width - 1
            )
    return Radius(reach, edge, moved)


def not_finite(adapter: Adapter, batch: NDArray[np.float32]) -> list[str]:
    """Which outputs hold NaN or infinity for `batch`: `output 0 (12 of 4096 values)`."""
    found = []
    for number, output in enumerate(adapter.forward(batch)):
        values = np.asarray(output)
        if values.dtype.kind in "fc":
            bad = int((~np.isfinite(values)).sum())
            if bad:
                found.append(f"output {number} ({bad} of {values.size} values)")
    return found


def largest_change(first: list[NDArray[np.generic]], second: list[NDArray[np.generic]]) -> float:
    """The largest absolute difference between two sets of outputs (inf when shapes differ)."""
    if len(first) != len(second):
        return float("inf")
    worst = 0.0
    for a, b in zip(first, second, strict=True):
        left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if left.shape != right.shape:
            return float("inf")
        both = np.isfinite(left) & np.isfinite(right)
        if (np.isfinite(left) != np.isfinite(right)).any() or (
            (~both) & (left != right) & ~(np.isnan(left) & np.isnan(right))
        ).any():
            return float("inf")
        if both.any():
            worst = max(worst, float(np.abs(left[both] - right[both]).max()))
    return worst


def scale(outputs: list[NDArray[np.generic]]) -> float:
    """The outputs' magnitude, to judge a difference against."""
    values = [np.abs(np.asarray(o, dtype=np.float64)) for o in outputs]
    finite = [v[np.isfinite(v)] for v in values]
    return max((float(v.max()) for v in finite if v.size), default=0.0) or 1.0


def batch_change(adapter: Adapter, batch: NDArray[np.float32]) -> float:
    """How much a tile's outputs change between being run in `batch` and alone."""
    together = adapter.forward(batch)
    worst = 0.0
    for number in range(len(batch)):
        alone = adapter.forward(batch[number : number + 1])
        mine = [np.asarray(o)[number : number + 1] for o in together]
        worst = max(worst, largest_change(mine, alone))
    return worst
