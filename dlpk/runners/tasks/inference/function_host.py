"""What every task run through a package's Python raster function shares: loading it with the
raster open (isLicensed, initialize), its arguments and getConfiguration's answer, the block
plan, the pixel blocks it receives and the report (dlpk plays ArcGIS's part,
docs/esri-formats.md#methods).

Pixel blocks are named by the function's first raster parameter (`raster` in every Esri and
arcgis.learn function, `rasters` for classify-objects): `<name>_pixels`, and `<name>_mask`
only with inputMask. updateRasterInfo, updateKeyMetadata and selectRasters describe and feed a
raster output, so only classify-pixels asks them (function_output.py, function_pixels.py);
vectorize gets the blocks alone, as ArcGIS's vector tools give them.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.raster_source import open_raster
from dlpk.runners.io.windows import Tile, TileGrid, Window, plan_tiles
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import (
    BlockConfiguration,
    RasterFunction,
    block_configuration,
    declared_parameters,
    function_file,
    loaded_function,
    scalars_for,
)
from dlpk.runners.tasks.inference.common import TaskRequest, crs_warnings
from dlpk.runners.tasks.report import TaskReport, inference_report

Block = tuple[NDArray[Any], NDArray[np.uint8]]


@dataclass(frozen=True)
class Prepared:
    """A function's configuration for one raster: getConfiguration's answer, the scalars it
    was called with (updateRasterInfo gets them too), the raster parameter's name and what
    the task reports of its arguments."""

    config: BlockConfiguration
    scalars: dict[str, Any]
    raster: str
    arguments: dict[str, str]


def plan_blocks(height: int, width: int, config: BlockConfiguration) -> list[Tile]:
    """Cores of ty x tx partitioning the raster, each read with `padding` around it; without
    fixedTileSize the edge blocks are cut to the raster (plus padding)."""
    p = config.padding
    grid = TileGrid(config.ty + 2 * p, config.tx + 2 * p, p)
    tiles = plan_tiles(height, width, grid)
    if config.fixed:
        return tiles
    return [
        Tile(t.index, Window(t.core.row - p, t.core.col - p, t.core.height + 2 * p,
                             t.core.width + 2 * p), t.core)
        for t in tiles
    ]  # fmt: skip


def pixel_blocks(
    raster: str, config: BlockConfiguration, block: Block, scale: Any
) -> dict[str, Any]:
    """`<raster>_pixels`, and `<raster>_mask` with inputMask; dataRange rescales the valid
    pixels (float32) and zeroes the others."""
    pixels, mask = block
    if scale is not None:
        pixels = scale(pixels) * (mask > 0)
    blocks: dict[str, Any] = {f"{raster}_pixels": pixels}
    if config.input_mask:
        blocks[f"{raster}_mask"] = mask
    return blocks


def function_summary(
    output: Path,
    tiles: int,
    dataset: Any,
    started: float,
    device: str,
    arguments: dict[str, str],
    counts: dict[str, int],
    warnings: list[str],
) -> TaskReport:
    """What a task run through a raster function reports (the device is the one asked for:
    dlpk cannot see which one the function used)."""
    return inference_report(
        tiles=tiles,
        pixels=int(dataset.height) * int(dataset.width),
        seconds=round(time.perf_counter() - started, 3),
        device="gpu" if device == "gpu" else "cpu",
        arguments=arguments,
        counts=counts,
        warnings=warnings,
    )


@contextlib.contextmanager
def function_and_raster(
    opened: OpenedModel, request: TaskRequest
) -> Iterator[tuple[RasterFunction, Any, list[str]]]:
    """The package's raster function loaded and initialised, the raster open, and the warnings
    the model and the raster give: what every task run through a function starts with."""
    path = function_file(opened.folder, opened.emd.InferenceFunction or "")
    with (
        loaded_function(path, opened.emd_path, request.device, request.trust_code) as function,
        open_raster(request.raster) as dataset,
    ):
        yield function, dataset, [*opened.warnings, *crs_warnings(dataset)]


def prepare_function(
    function: RasterFunction,
    opened: OpenedModel,
    dataset: Any,
    given: dict[str, str],
    device: str,
    raster: str = "raster",
) -> Prepared:
    """getParameterInfo, then getConfiguration with the scalars; `raster` names the pixel
    blocks when the function declares no raster parameter."""
    declared = declared_parameters(function)
    scalars = scalars_for(declared.arguments, given, opened.emd_path, device)
    raw = function.call("getConfiguration", **scalars)
    try:
        config = block_configuration(raw, opened.emd, int(dataset.count))
    except ModelError as exc:
        raise ModelError(f"{function.name}: {exc.message}", exc.hint) from exc
    arguments = {k: str(v) for k, v in scalars.items() if k in declared.arguments}
    return Prepared(config, scalars, declared.raster(raster), {**arguments, **config.resolved()})


def output_features(result: Any, name: str) -> list[dict[str, Any]]:
    """The features of vectorize()'s output_vectors (JSON text or an already parsed dict)."""
    text = result.get("output_vectors") if isinstance(result, dict) else None
    if text is None:
        raise ModelError(f"{name}: vectorize() must return {{'output_vectors': JSON text}}")
    try:
        document = json.loads(text) if isinstance(text, str | bytes) else text
        features = document.get("features", [])
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            raise TypeError("features must be a list of objects")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{name}: output_vectors is not a feature set ({exc})") from exc
    return features
