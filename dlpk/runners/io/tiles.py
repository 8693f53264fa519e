"""The window plan: where chips are cut. Planned once; workers take windows from it."""

from __future__ import annotations

import math

from dlpk.runners.io.windows import Window


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
) -> list[Window]:
    """Row-major windows (rows of tiles top to bottom), which keeps each worker's reads local."""
    cols = axis_offsets(width, tile_x, stride_x, pad)
    rows = axis_offsets(height, tile_y, stride_y, pad)
    return [Window(r, c, tile_y, tile_x) for r in rows for c in cols]
