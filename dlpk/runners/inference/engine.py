"""The tiling loop shared by the tasks: plan, read a batch, run the model, hand results on in order.

Reading the next batch overlaps the model's forward pass (one reader thread), and results are
yielded in plan order so a single writer can consume them without reordering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlpk.runners.inference.source import RasterSource
from dlpk.runners.inference.windows import Tile, batched

Progress = Callable[[str, int, int], None]
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


def run_tiles(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    batch_size: int,
    fill: str,
    progress: Progress,
) -> Iterator[Batch]:
    """Yield each batch's outputs in plan order, reading batch k+1 while batch k runs."""
    groups = batched(tiles, batch_size)
    done = 0
    progress("infer", 0, len(tiles))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlpk-read") as reader:
        pending: Future[tuple[NDArray[np.float32], NDArray[np.bool_]]] | None = None
        if groups:
            pending = reader.submit(_read, source, groups[0], fill)
        for number, group in enumerate(groups):
            assert pending is not None
            pixels, valid = pending.result()
            following = number + 1
            pending = (
                reader.submit(_read, source, groups[following], fill)
                if following < len(groups)
                else None
            )
            outputs = forward(pixels)
            yield Batch(group, outputs, valid)
            done += len(group)
            progress("infer", done, len(tiles))
