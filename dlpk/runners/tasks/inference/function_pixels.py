"""classify-pixels through a package's Python raster function: updatePixels
(docs/esri-formats.md#methods).

dlpk plays ArcGIS: it plans blocks of ty x tx pixels (the cores, which partition the raster),
reads each with `padding` pixels more on every side and hands it to
updatePixels(tlc, shape, props, **pixelBlocks), reading the next block while the function works
on this one. `tlc` is the core's top-left corner in map coordinates; `shape` is the output
block's (bands, ty, tx), as the reference gives it (Esri's wiki allows (rows, cols) for one
band; the deep-learning functions take either); `props` describe the output raster
(function_output.py). selectRasters(tlc, shape, props), where the function has it, decides per
block whether the raster is read: left out, updatePixels gets no `<raster>_pixels` or
`<raster>_mask`, and only output_mask and the processing area then mark nodata. Block k+1's
selectRasters comes before block k's updatePixels, as reading ahead needs. An extent or AOI
limits the blocks and the output exactly as for the built-in tasks (area.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.area import planned_tiles
from dlpk.runners.io.data_range import rescaler
from dlpk.runners.io.raster_source import read_block
from dlpk.runners.io.windows import Tile
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import RasterFunction
from dlpk.runners.models.raster_info import spatial_reference
from dlpk.runners.tasks.inference.common import TaskRequest
from dlpk.runners.tasks.inference.function_host import (
    Block,
    function_and_raster,
    function_summary,
    pixel_blocks,
    plan_blocks,
    prepare_function,
)
from dlpk.runners.tasks.inference.function_output import OutputPlan, OutputWriter, plan_output
from dlpk.runners.tasks.report import TaskReport


def output_props(dataset: Any, plan: OutputPlan) -> dict[str, Any]:
    """updatePixels' `props`: the output raster's extent, type, reference, cells, size, nodata."""
    bounds = dataset.bounds
    return {
        "extent": (bounds.left, bounds.bottom, bounds.right, bounds.top),
        "pixelType": plan.code if plan.code not in ("t1", "t2", "t4") else "u1",
        "spatialReference": spatial_reference(dataset),
        "cellSize": (abs(dataset.transform.a), abs(dataset.transform.e)),
        "width": int(dataset.width),
        "height": int(dataset.height),
        "noData": np.full(plan.bands, plan.nodata),
    }


def reads_raster(function: RasterFunction, raster: str, *request: Any) -> bool:
    """selectRasters' answer for one block: is `raster` among the names it gives? None
    (no choice made) reads it."""
    answer = function.call("selectRasters", *request)
    if answer is None:
        return True
    names = (answer,) if isinstance(answer, str) else answer
    try:
        unknown = sorted({str(n) for n in names} - {raster})
    except TypeError:
        raise ModelError(
            f"{function.name}: selectRasters() returned {type(answer).__name__}",
            "it must return a tuple of raster parameter names",
        ) from None
    if unknown:
        raise ModelError(
            f"{function.name}: selectRasters() named {', '.join(unknown)}",
            f"its raster parameter is {raster!r}",
        )
    return raster in names


def selected_reads(
    tiles: Sequence[Tile], wanted: Callable[[Tile], bool], read: Callable[[Tile], Block]
) -> Iterator[tuple[Tile, Block | None]]:
    """Each tile with its block, or None where `wanted` says no; `wanted` runs on the
    caller's thread, the next tile's read on a reader thread while the caller works."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlpk-read") as reader:

        def submit(tile: Tile) -> Future[Block] | None:
            return reader.submit(read, tile) if wanted(tile) else None

        pending = submit(tiles[0]) if tiles else None
        for number, tile in enumerate(tiles):
            block = pending.result() if pending is not None else None
            following = number + 1
            pending = submit(tiles[following]) if following < len(tiles) else None
            yield tile, block


def block_output(
    result: Any, key: str, bands: int, rows: int, cols: int, name: str
) -> NDArray[Any]:
    """`key` of updatePixels' answer as [bands, rows, cols] ([rows, cols] for one band)."""
    if not isinstance(result, dict) or result.get(key) is None:
        raise ModelError(f"{name}: updatePixels() must return the pixelBlocks with {key}")
    try:
        array = np.asarray(result[key])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name}: updatePixels() gave {key} that is no array ({exc})") from exc
    if array.dtype.kind not in "biuf":
        raise ModelError(f"{name}: updatePixels() gave {key} of {array.dtype}, not numbers")
    if array.ndim == 2:
        array = array[np.newaxis]
    if key == "output_mask" and array.ndim == 3 and array.shape[0] == 1:
        array = np.broadcast_to(array, (bands, *array.shape[1:]))
    if array.ndim != 3 or array.shape[1:] != (rows, cols):
        raise ModelError(
            f"{name}: updatePixels() gave {key} of shape {tuple(np.shape(result[key]))} for a "
            f"block of {rows} x {cols}; the padding must be cropped off"
        )
    if array.shape[0] != bands:
        raise ModelError(
            f"{name}: updatePixels() gave {key} of {array.shape[0]} band(s); the output has "
            f"{bands}",
            "give as many bands as updateRasterInfo's bandCount",
        )
    return array


def checked_values(
    values: NDArray[Any], valid: NDArray[np.bool_], plan: OutputPlan, name: str
) -> NDArray[Any]:
    """The block in the output's type; the valid pixels of an integer output must fit it."""
    limits = plan.limits
    if limits is None:
        return values.astype(plan.dtype)
    kept = values[valid]
    if kept.dtype.kind == "f" and not np.all(np.isfinite(kept)):
        raise ModelError(f"{name}: updatePixels() gave non-finite output_pixels")
    if kept.size and (kept.min() < limits[0] or kept.max() > limits[1]):
        source = (
            "chosen from the Classes Values"
            if plan.rows is not None
            else "as updateRasterInfo declared it"
        )
        raise ModelError(
            f"{name}: updatePixels() gave values {kept.min()}..{kept.max()}; the output is "
            f"{plan.code if plan.rows is None else plan.dtype}, {source}"
        )
    return np.where(valid, values, 0).astype(plan.dtype)


class FunctionPixels:
    """A raster function set up to classify a raster as ArcGIS runs it: getParameterInfo,
    getConfiguration and updateRasterInfo called, the blocks planned (an extent or AOI limits
    them), and each block's updatePixels turned into output values and validity. A whole run
    and each share of a run in shares (tasks/shares/) classify their blocks through it."""

    def __init__(
        self, function: RasterFunction, opened: OpenedModel, dataset: Any, request: TaskRequest
    ) -> None:
        self.function, self.dataset = function, dataset
        self.prepared = prepare_function(
            function, opened, dataset, request.arguments, request.device
        )
        config = self.prepared.config
        planned = plan_blocks(int(dataset.height), int(dataset.width), config)
        self.tiles, self.area = planned_tiles(dataset, planned, request.extent, request.aoi)
        self.scale = rescaler(dataset, config.bands, config.data_range)
        self.plan = plan_output(function, self.prepared, opened, dataset, self.scale)
        self.props = output_props(dataset, self.plan)

    def corner(self, tile: Tile) -> tuple[float, float]:
        x, y = self.dataset.transform @ (tile.core.col, tile.core.row)
        return float(x), float(y)

    def shape(self, tile: Tile) -> tuple[int, int, int]:
        p = self.prepared.config.padding
        return self.plan.bands, tile.read.height - 2 * p, tile.read.width - 2 * p

    def wanted(self, tile: Tile) -> bool:
        if not self.function.has("selectRasters"):
            return True
        raster = self.prepared.raster
        return reads_raster(self.function, raster, self.corner(tile), self.shape(tile), self.props)

    def classified(
        self, tiles: Sequence[Tile]
    ) -> Iterator[tuple[Tile, NDArray[Any], NDArray[np.bool_]]]:
        """Each tile with its core's values in the output's type and their validity
        [bands, rows, cols], the next tile read while the function works on this one."""
        config, raster, name = self.prepared.config, self.prepared.raster, self.function.name
        p, bands, plan = config.padding, self.plan.bands, self.plan
        read = lambda t: read_block(self.dataset, config.bands, t.read)  # noqa: E731
        for tile, block in selected_reads(tiles, self.wanted, read):
            _, rows, cols = self.shape(tile)
            height, width = tile.core.height, tile.core.width
            blocks = {} if block is None else pixel_blocks(raster, config, block, self.scale)
            result = self.function.call(
                "updatePixels", self.corner(tile), self.shape(tile), self.props, **blocks
            )
            values = block_output(result, "output_pixels", bands, rows, cols, name)
            valid = np.ones((bands, height, width), dtype=bool)
            if block is not None:
                valid &= np.all(block[1][:, p : p + height, p : p + width] > 0, axis=0)
            if isinstance(result, dict) and result.get("output_mask") is not None:
                mask = block_output(result, "output_mask", bands, rows, cols, name)
                valid &= mask[:, :height, :width] > 0
            if self.area is not None:
                valid &= self.area.mask(tile.core)
            yield tile, checked_values(values[:, :height, :width], valid, plan, name), valid

    def notes(self, held: int) -> list[str]:
        """What the output plan says, valid pixels holding the nodata dlpk chose, and what the
        function said through arcpy.AddWarning."""
        notes = list(self.plan.warnings)
        if held:
            notes.append(
                f"{self.function.name}: {held} valid pixel(s) hold {self.plan.nodata:g}, the "
                "nodata dlpk chose because the function declares none; declare noData in "
                "updateRasterInfo"
            )
        return notes + self.function.warnings_said()


def nodata_count(valid: NDArray[np.bool_]) -> int:
    """Pixels of a block that are nodata in some band."""
    return int((~np.all(valid, axis=0)).sum())


def classify_with_function(opened: OpenedModel, request: TaskRequest) -> TaskReport:
    """classify-pixels through updatePixels, into the raster plan_output chose. With an
    `extent` and/or `aoi`, only blocks meeting that area go to the function and pixels whose
    centre lies outside it are nodata."""
    started = time.perf_counter()
    with function_and_raster(opened, request) as (function, dataset, warnings):
        run = FunctionPixels(function, opened, dataset, request)
        nodata_pixels = 0
        writer = OutputWriter(run.plan, request.output, dataset, request.overwrite)
        with writer.opened():
            request.progress("infer", 0, len(run.tiles))
            for done, (tile, values, valid) in enumerate(run.classified(run.tiles), start=1):
                nodata_pixels += nodata_count(valid)
                writer.write(tile.core, values, valid)
                request.progress("infer", done, len(run.tiles))
            held = writer.nodata_held
    return function_summary(
        request.output, len(run.tiles), dataset, started, request.device,
        run.prepared.arguments, {"nodata_pixels": nodata_pixels},
        [*warnings, *run.notes(held)],
    )  # fmt: skip
