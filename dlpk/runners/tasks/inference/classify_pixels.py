"""classify-pixels: a raster of class Values, one per pixel, from a PixelClassifier model."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dlpk.errors import ModelError
from dlpk.runners.io.area import Area, planned_tiles
from dlpk.runners.io.classified import ClassifiedRasterWriter
from dlpk.runners.io.outputs import RASTER_SUFFIXES, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.io.windows import Tile, plan_tiles
from dlpk.runners.models.opened import OpenedModel, open_model
from dlpk.runners.tasks.inference.arguments import PIXEL_ARGUMENTS, parse_arguments
from dlpk.runners.tasks.inference.classes import ChannelMap, channel_map, class_rows
from dlpk.runners.tasks.inference.common import (
    TaskRequest,
    check_device,
    core_of,
    crs_warnings,
)
from dlpk.runners.tasks.inference.engine import Forward, Progress, run_tiles
from dlpk.runners.tasks.inference.tta import augmented, transforms_for
from dlpk.runners.tasks.report import TaskReport, inference_report

TASK = "classify-pixels"


def _scores(outputs: list[np.ndarray], count: int, height: int, width: int) -> np.ndarray:
    if len(outputs) != 1 or outputs[0].ndim != 4:
        shapes = [tuple(o.shape) for o in outputs]
        raise ModelError(f"a PixelClassifier returns one [N, K, H, W] output; got {shapes}")
    scores = outputs[0]
    if scores.shape[0] != count or scores.shape[2:] != (height, width):
        raise ModelError(
            f"the model returned {tuple(scores.shape)} for a batch of {count} tiles of "
            f"{height}x{width}; the output must keep the input's size"
        )
    return scores


def classify_tiles(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    mapping_for: Callable[[int], ChannelMap],
    writer: ClassifiedRasterWriter,
    batch_size: int,
    fill: str,
    progress: Progress,
    area: Area | None = None,
) -> dict[str, int]:
    """Run every tile, write each core's class Values (nodata where the input was nodata or,
    with an `area`, outside it). The channel mapping comes from the first batch's channel
    count (`mapping_for`); a mismatch with the Classes then stops the task before the output
    is published."""
    counts = {"nodata_pixels": 0}
    mapping: ChannelMap | None = None
    for batch in run_tiles(source, tiles, forward, batch_size, fill, progress):
        first = batch.tiles[0].read
        scores = _scores(batch.outputs, len(batch.tiles), first.height, first.width)
        if mapping is None:
            mapping = mapping_for(int(scores.shape[1]))
        for number, tile in enumerate(batch.tiles):
            # only the core is written: the padding's pixels need no class
            core = mapping.classify(core_of(tile, scores[number])[np.newaxis])[0]
            valid = np.asarray(core_of(tile, batch.valid[number]), dtype=bool)
            if area is not None:
                valid &= area.mask(tile.core)
            counts["nodata_pixels"] += int((~valid).sum())
            writer.write(tile.core, np.where(valid, core, writer.nodata))
    return counts


def classify_pixels(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    overwrite: bool = False,
    trust_code: bool = False,
    extent: list[float] | None = None,
    aoi: Path | None = None,
) -> TaskReport:
    """Classify every pixel of `raster` with `model`; write a COG of class Values to `output`.

    With `extent` (raster CRS) and/or `aoi` (polygons), only tiles meeting that area run and
    pixels outside it are nodata."""
    started = time.perf_counter()
    check_device(device)
    check_output(output, overwrite, RASTER_SUFFIXES)
    with open_model(model, TASK) as opened:
        request = TaskRequest(
            raster, output, arguments, device, progress, overwrite, trust_code, extent, aoi
        )
        if opened.runs_function:
            from dlpk.runners.tasks.inference.function_tasks import classify_with_function

            return classify_with_function(opened, request)
        classifier = PixelClassifier(opened, arguments, device, trust_code)
        summary = classifier.classify(request)
    summary.timings["task"] = round(time.perf_counter() - started, 3)
    return summary


class PixelClassifier:
    """A PixelClassifier model loaded once, to classify one raster or each of many."""

    def __init__(
        self, opened: OpenedModel, arguments: dict[str, str], device: str, trust_code: bool
    ) -> None:
        self.opened = opened
        self.args = parse_arguments(arguments, opened.emd, PIXEL_ARGUMENTS)
        self.adapter = opened.load(device, trust_code)
        self.forward: Forward = self.adapter.forward
        if self.args.test_time_augmentation:
            square = self.args.grid.tile_height == self.args.grid.tile_width
            transforms = transforms_for(opened.emd.ImageSpaceUsed, square)
            self.forward = augmented(self.forward, transforms, self.args.merge_policy)

    def mapping_for(self, channels: int) -> ChannelMap:
        emd = self.opened.emd
        return channel_map(
            self.opened.classes, channels, self.args.predict_background, emd.ignore_mapped_class
        )

    def classify(self, request: TaskRequest) -> TaskReport:
        """One raster to one classified GeoTIFF."""
        started = time.perf_counter()
        opened, args = self.opened, self.args
        with open_source(request.raster, opened.emd, opened.configuration.normalised) as source:
            warnings = [*opened.warnings, *crs_warnings(source.dataset)]
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, area = planned_tiles(source.dataset, planned, request.extent, request.aoi)
            rows = class_rows(opened.classes)
            output, overwrite = request.output, request.overwrite
            with ClassifiedRasterWriter(output, source.dataset, rows, overwrite) as writer:
                counts = classify_tiles(
                    source,
                    tiles,
                    self.forward,
                    self.mapping_for,
                    writer,
                    args.batch_size,
                    args.edge_fill,
                    request.progress,
                    area,
                )
        return inference_report(
            tiles=len(tiles),
            pixels=source.height * source.width,
            seconds=round(time.perf_counter() - started, 3),
            device=self.adapter.device,
            arguments=args.resolved(),
            counts=counts,
            warnings=warnings,
        )
