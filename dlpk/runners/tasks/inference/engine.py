"""The tiling loop shared by the tasks: plan, read a batch, run the model, hand results on in order.

Reading the next batch overlaps the model's forward pass (one reader thread), and results are
yielded in plan order so a single writer can consume them without reordering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dlpk.runners.io.raster_source import RasterSource
from dlpk.runners.io.windows import Tile, batched

Progress = Callable[[str, int, int], None]
Item = TypeVar("Item")
Read = TypeVar("Read")
Forward = Callable[[NDArray[np.float32]], list[NDArray[np.generic]]]


@dataclass
class Batch:
    """One batch of tiles with the model's outputs and each tile's validity mask [N, H, W]."""

    tiles: list[Tile]
    outputs: list[NDArray[np.generic]]
    valid: NDArray[np.bool_]


def _read(
    source: RasterSource, tiles: list[Tile], fill: str
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    pairs = [source.read_tile(tile.read, fill) for tile in tiles]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def read_ahead(items: Sequence[Item], read: Callable[[Item], Read]) -> Iterator[tuple[Item, Read]]:
    """Yield each item with what `read` gave for it, in order, reading item k+1 while the
    caller works on item k (one reader thread)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlpk-read") as reader:
        pending: Future[Read] | None = reader.submit(read, items[0]) if items else None
        for number, item in enumerate(items):
            assert pending is not None
            result = pending.result()
            following = number + 1
            pending = reader.submit(read, items[following]) if following < len(items) else None
            yield item, result


def run_tiles(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    batch_size: int,
    fill: str,
    progress: Progress,
) -> Iterator[Batch]:
    """Yield each batch's outputs in plan order, reading batch k+1 while batch k runs."""
    done = 0
    progress("infer", 0, len(tiles))
    for group, (pixels, valid) in read_ahead(
        batched(tiles, batch_size), lambda group: _read(source, group, fill)
    ):
        outputs = forward(pixels)
        yield Batch(group, outputs, valid)
        done += len(group)
        progress("infer", done, len(tiles))
