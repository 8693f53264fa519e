"""The chip schedule: groups keep the plan, strips stay small, tasks go down column chunks, and
each source pixel is read once."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpk.runners.io.rasters import read_chip
from dlpk.runners.io.tiles import plan_windows
from dlpk.runners.io.windows import Window
from dlpk.runners.tasks.export_chips import worker
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.schedule import group_items, group_region, strip_width, tasks
from dlpk.runners.tasks.export_chips.worker import GDAL_CACHE_BYTES
from dlpk.spec.job import ExportChipsParameters
from tests.rasters import write_raster


@settings(deadline=None, max_examples=80)
@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    tile=st.integers(4, 128),
    stride=st.integers(4, 128),
    max_width=st.integers(1, 600),
    keep=st.integers(1, 5),
    workers=st.integers(1, 4),
)
def test_groups_and_tasks_keep_every_chip_once(
    width: int, height: int, tile: int, stride: int, max_width: int, keep: int, workers: int
) -> None:
    windows = plan_windows(width, height, tile, tile, stride, stride, pad=True)
    items = [PlanItem(i, w) for i, w in enumerate(windows) if i % keep == 0]  # a filtered plan
    groups = group_items(items, max_width)
    assert [i for g in groups for i in g] == items  # plan order kept, nothing lost
    for g in groups:
        region = group_region(g)
        assert region.height == tile and region.width <= max_width + tile
        assert len({i.window.row for i in g}) == 1
    scheduled = tasks(groups, max_width, workers, per_task=3)
    sizes = [len(task) for task in scheduled]
    assert all(1 <= n <= 3 for n in sizes)
    assert sizes == sorted(sizes, reverse=True)  # runs only shrink towards the end
    flat = [g for task in scheduled for g in task]
    assert sorted(id(g) for g in flat) == sorted(id(g) for g in groups)
    # column chunk by column chunk, each top to bottom
    keys = [(g[0].window.col // max_width, g[0].window.row) for g in flat]
    assert keys == sorted(keys)


def test_runs_shrink_so_two_workers_finish_together() -> None:
    """78 groups for 2 workers: long runs first, single groups last, so that when one worker
    takes the last run the other has at most one group's work left."""
    windows = plan_windows(256 * 78, 256, 256, 256, 256, 256)
    groups = [[PlanItem(i, w)] for i, w in enumerate(windows)]  # one group per tile column
    sizes = [len(task) for task in tasks(groups, 256, workers=2)]
    assert sum(sizes) == 78
    assert sizes[0] == 8 and sizes[-4:] == [1, 1, 1, 1]
    assert [len(task) for task in tasks(groups, 256, workers=1)][-1] == 1


def test_strip_width_bounds_the_bytes_read_at_once() -> None:
    assert strip_width(256, 256, 3, "uint8") == 4 * 1024 * 1024 // (256 * 3)
    assert strip_width(256, 256, 16, "float64") == 256  # never narrower than a tile


def test_each_source_pixel_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Side-by-side chips are cut from one read: the regions read tile the raster exactly."""
    rng = np.random.default_rng(5)
    raster = write_raster(tmp_path / "r.tif", rng.integers(0, 255, (3, 256, 320), np.uint8))
    reads: list[Window] = []

    def counting_read(src: Any, window: Window, count: int) -> Any:
        reads.append(window)
        return read_chip(src, window, count)

    monkeypatch.setattr(worker, "read_chip", counting_read)
    params = ExportChipsParameters(
        metadata_format="Export_Tiles",
        tile_size_x=64,
        stride_x=64,
        output_nofeature_tiles="ALL_TILES",
        workers=1,
    )
    export_chips(raster, None, tmp_path / "out", params)
    hits = np.zeros((256, 320), np.int32)
    for w in reads:
        hits[w.row : w.row + w.height, w.col : w.col + w.width] += 1
    assert (hits == 1).all()
    assert len(reads) == 4  # one strip per row of tiles, not one read per chip


def _decodes(order: list[Window], cache_bytes: int, block: int, block_bytes: int) -> int:
    """Block decodes when reading `order` region by region through an LRU block cache."""
    cache: OrderedDict[tuple[int, int], None] = OrderedDict()
    capacity = cache_bytes // block_bytes
    decodes = 0
    for w in order:
        for by in range(w.row // block, (w.row + w.height - 1) // block + 1):
            for bx in range(w.col // block, (w.col + w.width - 1) // block + 1):
                if (by, bx) in cache:
                    cache.move_to_end((by, bx))
                    continue
                decodes += 1
                cache[(by, bx)] = None
                if len(cache) > capacity:
                    cache.popitem(last=False)
    return decodes


def test_overlapping_strides_decode_each_block_once_on_a_wide_raster() -> None:
    """With half-tile strides every block row is read by two rows of tiles. Taken down column
    chunks, the second read finds the blocks still in the fixed-size cache, however wide the
    raster; taken row by row across a wide raster, it would not."""
    width, height, tile, block = 60_000, 2_048, 256, 256
    block_bytes = block * block * 3  # 3-band byte blocks
    items = [
        PlanItem(i, w) for i, w in enumerate(plan_windows(width, height, tile, tile, 128, 128))
    ]
    max_width = strip_width(tile, tile, 3, "uint8")
    groups = group_items(items, max_width)
    scheduled = [group_region(g) for task in tasks(groups, max_width) for g in task]
    blocks = (width // block + (width % block > 0)) * (height // block)
    assert _decodes(scheduled, GDAL_CACHE_BYTES, block, block_bytes) == blocks
    row_major = [group_region(g) for g in groups]
    assert _decodes(row_major, GDAL_CACHE_BYTES, block, block_bytes) > blocks
