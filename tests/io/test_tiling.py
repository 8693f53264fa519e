"""The window plan: coverage, bounds and stride, as properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpk.runners.io.tiles import axis_offsets, plan_windows
from dlpk.runners.io.windows import Window

sizes = st.integers(min_value=1, max_value=300)
steps = st.integers(min_value=1, max_value=64)


# 1-pixel tiles of a 300 x 300 raster are 90000 windows: no deadline on a shared machine
@settings(deadline=None)
@given(width=sizes, height=sizes, tile_x=steps, tile_y=steps, data=st.data(), pad=st.booleans())
def test_plan_covers_every_pixel_and_respects_bounds_and_stride(
    width: int, height: int, tile_x: int, tile_y: int, data: st.DataObject, pad: bool
) -> None:
    stride_x = data.draw(st.integers(1, tile_x))
    stride_y = data.draw(st.integers(1, tile_y))
    if not pad and (tile_x > width or tile_y > height):
        with pytest.raises(ValueError, match="larger than the raster"):
            plan_windows(width, height, tile_x, tile_y, stride_x, stride_y, pad)
        return
    windows = plan_windows(width, height, tile_x, tile_y, stride_x, stride_y, pad)
    covered = np.zeros((height, width), dtype=bool)
    for w in windows:
        assert (w.width, w.height) == (tile_x, tile_y)
        assert w.col >= 0 and w.row >= 0
        if not pad:
            assert w.inside(width, height)
        else:  # padding only past the right and bottom edges, and never a whole empty tile
            assert w.col < width and w.row < height
        covered[w.row : w.row + tile_y, w.col : w.col + tile_x] = True
    assert covered.all()
    assert len(set(windows)) == len(windows)
    for offsets, stride in (
        (sorted({w.col for w in windows}), stride_x),
        (sorted({w.row for w in windows}), stride_y),
    ):
        steps_between = np.diff(offsets)
        assert offsets[0] == 0
        if pad:
            assert (steps_between == stride).all()
        else:  # every step is the stride except the last, shifted back to the edge
            assert (steps_between[:-1] == stride).all()
            assert (steps_between <= stride).all()


@given(size=sizes, tile=steps, stride=steps)
def test_offsets_with_stride_larger_than_tile_keep_stride(
    size: int, tile: int, stride: int
) -> None:
    if tile > size:
        return
    offsets = axis_offsets(size, tile, stride, pad=False)
    assert offsets[-1] + tile == size
    assert all(b - a <= stride for a, b in itertools.pairwise(offsets))


def test_plan_is_row_major() -> None:
    windows = plan_windows(10, 6, 4, 3, 4, 3)
    assert windows[:3] == [Window(0, 0, 3, 4), Window(0, 4, 3, 4), Window(0, 6, 3, 4)]
    assert windows[3].row == 3
