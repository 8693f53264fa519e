"""The order chips are made in, so that each source block is decoded once and memory stays flat.

Chips side by side in one band of rows form a group, whose source region is read in one call
(a strip of at most STRIP_BYTES). Groups are then taken column chunk by column chunk, top to
bottom: with overlapping strides the next group down re-reads rows the previous one decoded,
and those blocks are still in GDAL's cache, which therefore only has to hold a couple of strips,
however wide the raster. A worker's task is a run of consecutive groups of one chunk; runs
shrink towards the end of the schedule ("guided" scheduling), so that the workers finish
together instead of one idling while another works through a long last run.
"""

from __future__ import annotations

import numpy as np

from dlpk.runners.io.windows import Window
from dlpk.runners.tasks.export_chips.frames import source_window
from dlpk.runners.tasks.export_chips.plan_item import PlanItem

STRIP_BYTES = 4 * 1024 * 1024  # the largest region read at once (one strip of one raster)
GROUPS_PER_TASK = 8


def strip_width(tile_width: int, tile_height: int, count: int, dtype: str) -> int:
    """Widest group region (pixels) whose strip stays within STRIP_BYTES; at least one tile."""
    row_bytes = tile_height * count * np.dtype(dtype).itemsize
    return max(tile_width, STRIP_BYTES // max(row_bytes, 1))


def _chunk_key(item: PlanItem, max_width: int) -> tuple[int, int, int]:
    """(row band, chunk): chunks are fixed columns of `max_width`, whatever windows were kept,
    so groups line up from one row band to the next."""
    w = source_window(item.frame, item.window.width, item.window.height)
    return w.row, w.height, w.col // max_width


def group_items(items: list[PlanItem], max_width: int) -> list[list[PlanItem]]:
    """Runs of consecutive items in one row band and one chunk (a region at most a tile wider
    than `max_width`)."""
    groups: list[list[PlanItem]] = []
    last: tuple[int, int, int] | None = None
    for item in items:
        key = _chunk_key(item, max_width)
        if groups and key == last:
            groups[-1].append(item)
        else:
            groups.append([item])
            last = key
    return groups


def group_region(items: list[PlanItem]) -> Window:
    """The source window holding every pixel the group's chips sample."""
    windows = [source_window(i.frame, i.window.width, i.window.height) for i in items]
    c0 = min(w.col for w in windows)
    r0 = min(w.row for w in windows)
    c1 = max(w.col + w.width for w in windows)
    r1 = max(w.row + w.height for w in windows)
    return Window(r0, c0, r1 - r0, c1 - c0)


def tasks(
    groups: list[list[PlanItem]],
    max_width: int,
    workers: int = 1,
    per_task: int = GROUPS_PER_TASK,
) -> list[list[list[PlanItem]]]:
    """Groups in column-chunk order (chunk left to right, rows top to bottom), cut into runs of
    at most `per_task` groups, each at most 1/(2 x workers) of the groups still to hand out."""

    def key(n: int) -> tuple[int, int, int]:
        row, _, chunk = _chunk_key(groups[n][0], max_width)
        return chunk, row, n

    ordered = [groups[n] for n in sorted(range(len(groups)), key=key)]
    runs: list[list[list[PlanItem]]] = []
    start = 0
    while start < len(ordered):
        left = len(ordered) - start
        size = max(1, min(per_task, -(-left // (2 * max(workers, 1)))))
        runs.append(ordered[start : start + size])
        start += size
    return runs
