"""The window plan, and the tiling engine's promise: tiled output equals one pass, bit for bit.

"One pass" is the model run once over the whole raster framed by `padding` pixels of the edge
fill (zero), which is what every edge tile sees beyond the raster; inside the raster the tiles
then agree with it exactly whenever the receptive radius fits in the padding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dlpk.errors import BadInputError
from dlpk.runners.io.raster_source import Normaliser, RasterSource, open_source
from dlpk.runners.io.windows import TileGrid, Window, plan_tiles
from dlpk.runners.tasks.inference.engine import run_tiles
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import write_raster


@st.composite
def geometry(draw: st.DrawFn) -> tuple[int, int, TileGrid]:
    tile_h = draw(st.integers(5, 24))
    tile_w = draw(st.integers(5, 24))
    padding = draw(st.integers(0, (min(tile_h, tile_w) - 1) // 2))
    return draw(st.integers(1, 60)), draw(st.integers(1, 60)), TileGrid(tile_h, tile_w, padding)


@given(geometry())
def test_cores_partition_the_raster(case: tuple[int, int, TileGrid]) -> None:
    height, width, grid = case
    hits = np.zeros((height, width), dtype=int)
    for tile in plan_tiles(height, width, grid):
        core, read = tile.core, tile.read
        hits[core.row : core.row + core.height, core.col : core.col + core.width] += 1
        assert (read.height, read.width) == (grid.tile_height, grid.tile_width)
        assert tile.core_offset == (grid.padding, grid.padding)
        assert read.intersection(core) == core
    assert (hits == 1).all()


@pytest.mark.parametrize(("size", "padding"), [(8, 4), (8, 5), (7, 4), (0, 0)])
def test_padding_must_leave_a_core(size: int, padding: int) -> None:
    with pytest.raises(BadInputError):
        TileGrid(size, size, padding)


def test_window_intersection() -> None:
    assert Window(-2, -2, 5, 5).intersection(Window(0, 0, 10, 10)) == Window(0, 0, 3, 3)
    assert Window(10, 0, 2, 2).intersection(Window(0, 0, 10, 10)) is None


def conv3(x: NDArray[np.float32], weight: NDArray[np.float32]) -> NDArray[np.float32]:
    """3x3 'same' convolution with zero padding, summed in a fixed order per pixel."""
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, weight.shape[0], h, w), dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            for o in range(weight.shape[0]):
                for c in range(weight.shape[1]):
                    out[:, o] += weight[o, c, dy, dx] * padded[:, c, dy : dy + h, dx : dx + w]
    return out


FIRST = np.random.default_rng(7).normal(size=(4, 3, 3, 3)).astype(np.float32)
SECOND = np.random.default_rng(8).normal(size=(3, 4, 3, 3)).astype(np.float32)


def numpy_model(batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
    """Fully convolutional, receptive radius 2: conv3 -> tanh -> conv3."""
    return [conv3(np.tanh(conv3(batch, FIRST)), SECOND)]


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    tile=st.integers(5, 20),
    padding=st.integers(2, 9),
    batch=st.integers(1, 5),
)
def test_tiled_scores_equal_one_pass(
    height: int, width: int, tile: int, padding: int, batch: int
) -> None:
    if 2 * padding >= tile:
        padding = (tile - 1) // 2
    if padding < 2:
        tile, padding = 5, 2
    data = np.random.default_rng(height * 41 + width).integers(0, 256, (3, height, width))
    emd = EsriModelDefinition(ExtractBands=[0, 1, 2])
    with tempfile.TemporaryDirectory() as tmp:
        path = write_raster(Path(tmp) / "in.tif", data.astype(np.uint8))
        with open_source(path, emd) as source:
            whole = source.normalise(source.dataset.read([1, 2, 3]).astype(np.float32))
            # One pass over the raster framed by `padding` zeros, the fill edge tiles get.
            framed = np.pad(whole, ((0, 0), (padding, padding), (padding, padding)))
            expected = numpy_model(framed[np.newaxis])[0][0, :, padding:-padding, padding:-padding]
            tiled = np.full_like(expected, np.nan)
            tiles = plan_tiles(height, width, TileGrid(tile, tile, padding))
            for result in run_tiles(source, tiles, numpy_model, batch, "zero", lambda *a: None):
                for number, t in enumerate(result.tiles):
                    top, left = t.core_offset
                    c = t.core
                    block = result.outputs[0][
                        number, :, top : top + c.height, left : left + c.width
                    ]
                    tiled[:, c.row : c.row + c.height, c.col : c.col + c.width] = block
    np.testing.assert_array_equal(tiled, expected)


def test_reflect_fill_mirrors_the_raster(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    path = write_raster(tmp_path / "in.tif", data)
    zeros, ones = np.zeros(1, np.float32), np.ones(1, np.float32)
    with open_source(path, EsriModelDefinition(ExtractBands=[0])) as opened:
        source = RasterSource(opened.dataset, [0], Normaliser(zeros, ones, zeros, ones))
        tile, valid = source.read_tile(Window(-1, -1, 5, 6), "reflect")
        zero_tile, _ = source.read_tile(Window(-1, -1, 5, 6), "zero")
    assert tile[0, 0, 0] == data[0, 1, 1]
    assert zero_tile[0, 0, 0] == 0
    np.testing.assert_array_equal(tile[0, 1:4, 1:5], data[0])
    assert valid.sum() == 12 and not valid[0].any()


def test_padding_below_the_receptive_radius_shows_seams(tmp_path: Path) -> None:
    """The equality above depends on the padding: with 1 pixel for a radius of 2 it breaks."""
    data = np.random.default_rng(3).integers(0, 256, (3, 20, 20)).astype(np.uint8)
    path = write_raster(tmp_path / "in.tif", data)
    with open_source(path, EsriModelDefinition(ExtractBands=[0, 1, 2])) as source:
        whole = source.normalise(source.dataset.read([1, 2, 3]).astype(np.float32))
        framed = np.pad(whole, ((0, 0), (1, 1), (1, 1)))
        expected = numpy_model(framed[np.newaxis])[0][0, :, 1:-1, 1:-1]
        tiled = np.zeros_like(expected)
        tiles = plan_tiles(20, 20, TileGrid(8, 8, 1))
        for result in run_tiles(source, tiles, numpy_model, 4, "zero", lambda *a: None):
            for number, t in enumerate(result.tiles):
                c = t.core
                block = result.outputs[0][number, :, 1 : 1 + c.height, 1 : 1 + c.width]
                tiled[:, c.row : c.row + c.height, c.col : c.col + c.width] = block
    assert not np.array_equal(tiled, expected)
