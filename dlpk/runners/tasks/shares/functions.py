"""classify-pixels through a package's raster function, in shares: the function's blocks
(its getConfiguration tile plan) are cut into consecutive ranges; each share calls updatePixels
on its range and keeps every block's values and validity, in plan order, in a part file; the
assemble step writes them through the one output writer a whole run uses (the classified
raster, or the raster updateRasterInfo declared), so the bytes are the same.

The function runs in every step's process, under the rules of a whole run: its code runs only
with --trust-code (a Ray worker is no sandbox) or inside a container.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import InvalidJobError
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.tasks.inference.common import TaskRequest
from dlpk.runners.tasks.inference.function_host import function_and_raster, function_summary
from dlpk.runners.tasks.inference.function_output import OutputWriter
from dlpk.runners.tasks.inference.function_pixels import FunctionPixels, nodata_count
from dlpk.runners.tasks.report import TaskReport
from dlpk.runners.tasks.shares.parts import (
    UNITS,
    Share,
    finished_shares,
    merged_counts,
    new_warnings,
    share_range,
)
from dlpk.spec.job import JobPart

BLOCKS = "blocks.npy"  # a share's part file: values then validity of each block, in order


def plan(opened: OpenedModel, request: TaskRequest) -> TaskReport:
    """The function's blocks, counted as the work units (calling what a whole run calls before
    its first block: initialize, getParameterInfo, getConfiguration, updateRasterInfo)."""
    with function_and_raster(opened, request) as (function, dataset, _):
        run = FunctionPixels(function, opened, dataset, request)
    return TaskReport(counts={"tiles": len(run.tiles), UNITS: max(1, len(run.tiles))})


def share(opened: OpenedModel, request: TaskRequest, part: JobPart, parts: Path) -> TaskReport:
    """updatePixels on the share's range of blocks; their output kept for the assemble step."""
    started = time.perf_counter()
    with function_and_raster(opened, request) as (function, dataset, warnings):
        run = FunctionPixels(function, opened, dataset, request)
        numbers = share_range(len(run.tiles), part.count, part.index)
        mine = run.tiles[numbers.start : numbers.stop]
        nodata_pixels = 0
        request.progress("infer", 0, len(mine))
        with open(parts / BLOCKS, "wb") as handle:
            for done, (_, values, valid) in enumerate(run.classified(mine), start=1):
                nodata_pixels += nodata_count(valid)
                np.save(handle, values, allow_pickle=False)
                np.save(handle, valid, allow_pickle=False)
                request.progress("infer", done, len(mine))
    report = function_summary(
        request.output, len(mine), dataset, started, request.device, run.prepared.arguments,
        {"nodata_pixels": nodata_pixels}, [*warnings, *run.notes(held=0)],
    )  # fmt: skip
    report.files = []
    report.counts["pixels"] = sum(tile.core.height * tile.core.width for tile in mine)
    return report


def assemble(opened: OpenedModel, request: TaskRequest, part: JobPart, home: Path) -> TaskReport:
    """The output from every share's blocks, written in plan order as a whole run writes it."""
    started = time.perf_counter()
    shares = finished_shares(home, part)
    with function_and_raster(opened, request) as (function, dataset, warnings):
        run = FunctionPixels(function, opened, dataset, request)
        writer = OutputWriter(run.plan, request.output, dataset, False)
        request.progress("assemble", 0, len(shares))
        with writer.opened():
            for done, each in enumerate(shares, start=1):
                numbers = share_range(len(run.tiles), part.count, each.index)
                mine = run.tiles[numbers.start : numbers.stop]
                for tile, (values, valid) in zip(mine, _blocks(each, len(mine)), strict=True):
                    writer.write(tile.core, values, valid)
                request.progress("assemble", done, len(shares))
            held = writer.nodata_held
    counts = merged_counts(shares, {"nodata_pixels": 0}, skip=("tiles", "pixels"))
    notes = [*warnings, *run.notes(held)]
    return function_summary(
        request.output, len(run.tiles), dataset, started, request.device,
        run.prepared.arguments, counts, notes + new_warnings(shares, notes),
    )  # fmt: skip


def _blocks(share: Share, count: int) -> Iterator[tuple[NDArray[Any], NDArray[np.bool_]]]:
    path = share.parts / BLOCKS
    try:
        with open(path, "rb") as handle:
            for _ in range(count):
                yield _read(handle), _read(handle).astype(bool)
            if handle.read(1):
                raise ValueError("more blocks than the share's range")
    except (OSError, ValueError, EOFError) as exc:
        raise InvalidJobError(f"part file {path} is unreadable ({exc})") from None


def _read(handle: BinaryIO) -> NDArray[Any]:
    return np.asarray(np.load(handle, allow_pickle=False))
