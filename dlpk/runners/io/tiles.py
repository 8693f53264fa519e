"""The window plan: where chips are cut. Planned once; workers take windows from it."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChipWindow:
    """A tile in pixel coordinates of the source raster; may reach past its edge when padded."""

    col_off: int
    row_off: int
    width: int
    height: int

    def inside(self, width: int, height: int) -> bool:
        return (
            self.col_off >= 0
            and self.row_off >= 0
            and self.col_off + self.width <= width
            and self.row_off + self.height <= height
        )


def axis_offsets(size: int, tile: int, stride: int, pad: bool) -> list[int]:
    """Tile offsets along one axis: 0, stride, 2*stride, ... until the axis is reached.

    Without padding the last tile is shifted back to end exactly at the edge, so every chip holds
    real data; with padding it keeps its stride position and reaches past the edge.
    """
    if size <= 0 or tile <= 0 or stride <= 0:
        raise ValueError("size, tile and stride must be positive")
    if tile > size and not pad:
        raise ValueError(f"tile {tile} is larger than the raster ({size})")
    count = 1 + math.ceil(max(0, size - tile) / stride)
    if pad:
        return [k * stride for k in range(count)]
    return sorted({min(k * stride, size - tile) for k in range(count)})


def plan_windows(
    width: int,
    height: int,
    tile_x: int,
    tile_y: int,
    stride_x: int,
    stride_y: int,
    pad: bool = False,
) -> list[ChipWindow]:
    """Row-major windows (rows of tiles top to bottom), which keeps each worker's reads local."""
    cols = axis_offsets(width, tile_x, stride_x, pad)
    rows = axis_offsets(height, tile_y, stride_y, pad)
    return [ChipWindow(c, r, tile_x, tile_y) for r in rows for c in cols]
