"""classify-pixels: a raster of class Values, one per pixel, from a PixelClassifier model.

The finished tiles are recorded as the run goes (io/checkpoint.py), so `resume` finishes a
killed run of the same model, inputs and arguments from the tiles it had written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from dlpk.errors import ModelError
from dlpk.runners.io.area import Area, planned_tiles
from dlpk.runners.io.checkpoint import Checkpoint, file_identity, model_identity
from dlpk.runners.io.classified import ClassifiedRasterWriter
from dlpk.runners.io.outputs import RASTER_SUFFIXES, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.io.windows import Tile, Window, plan_tiles
from dlpk.runners.models.opened import OpenedModel, open_model
from dlpk.runners.tasks.inference.arguments import PIXEL_ARGUMENTS, parse_arguments
from dlpk.runners.tasks.inference.classes import (
    BACKGROUND,
    ChannelMap,
    channel_map,
    class_rows,
    pixels_key,
    value_counts,
)
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


class TileWriter(Protocol):
    """Where classify_tiles writes class Values: the classified raster, or a share's part
    raster (tasks/shares)."""

    nodata: int

    def write(self, window: Window, values: np.ndarray) -> None: ...

    def sync(self) -> None: ...


def classify_tiles(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    mapping_for: Callable[[int], ChannelMap],
    writer: TileWriter,
    batch_size: int,
    fill: str,
    progress: Progress,
    area: Area | None = None,
    checkpoint: Checkpoint | None = None,
) -> dict[str, int]:
    """Run every tile not yet finished, write each core's class Values (nodata where the input
    was nodata or, with an `area`, outside it), recording finished tiles in the `checkpoint`.
    The channel mapping comes from the first batch's channel count (`mapping_for`); a mismatch
    with the Classes then stops the task before the output is published. The counts: nodata
    pixels, then the pixels of each class Value the mapping may write (`pixels_key`), kept in
    the checkpoint so that a resumed run reports the whole raster's."""
    done = set(checkpoint.done) if checkpoint is not None else set()
    counts = {"nodata_pixels": 0, **(checkpoint.counts if checkpoint is not None else {})}
    numbers = [number for number in range(len(tiles)) if number not in done]
    position = 0
    mapping: ChannelMap | None = None
    remaining = [tiles[number] for number in numbers]
    for batch in run_tiles(source, remaining, forward, batch_size, fill, _offset(progress, done)):
        first = batch.tiles[0].read
        scores = _scores(batch.outputs, len(batch.tiles), first.height, first.width)
        if mapping is None:
            mapping = mapping_for(int(scores.shape[1]))
            for value in mapping.written_values():
                counts.setdefault(pixels_key(value), 0)
        for number, tile in enumerate(batch.tiles):
            # only the core is written: the padding's pixels need no class
            core = mapping.classify(core_of(tile, scores[number])[np.newaxis])[0]
            valid = np.asarray(core_of(tile, batch.valid[number]), dtype=bool)
            if area is not None:
                valid &= area.mask(tile.core)
            counts["nodata_pixels"] += int((~valid).sum())
            for value, pixels in value_counts(core[valid]).items():
                counts[pixels_key(value)] = counts.get(pixels_key(value), 0) + pixels
            writer.write(tile.core, np.where(valid, core, writer.nodata))
        done.update(numbers[position : position + len(batch.tiles)])
        position += len(batch.tiles)
        if checkpoint is not None:
            checkpoint.note(done, counts)
            if checkpoint.due():
                writer.sync()
                checkpoint.record()
    return counts


def _offset(progress: Progress, done: set[int]) -> Progress:
    """Progress over the whole plan when a resume runs only part of it."""
    if not done:
        return progress
    return lambda stage, count, total: progress(stage, count + len(done), total + len(done))


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
    resume: bool = False,
    inputs: list[object] | None = None,
) -> TaskReport:
    """Classify every pixel of `raster` with `model`; write a COG of class Values to `output`.

    With `extent` (raster CRS) and/or `aoi` (polygons), only tiles meeting that area run and
    pixels outside it are nodata. With `resume`, a killed run's finished tiles are taken up
    when its model, arguments, area and `inputs` (what identifies the raster, as the job
    gives it) are the same."""
    started = time.perf_counter()
    check_device(device)
    check_output(output, overwrite, RASTER_SUFFIXES)
    with open_model(model, TASK) as opened:
        request = TaskRequest(
            raster, output, arguments, device, progress, overwrite, trust_code, extent, aoi
        )
        resuming = Resuming(resume, inputs if inputs is not None else [str(raster)])
        if opened.runs_function:
            from dlpk.runners.tasks.inference.function_tasks import classify_with_function

            report = classify_with_function(opened, request)
            if resume:
                report.warnings.append(
                    "--resume takes up tiles of built-in models only: the package's raster "
                    "function classified the raster from the start"
                )
            return report
        classifier = PixelClassifier(opened, arguments, device, trust_code)
        summary = classifier.classify(request, resuming)
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
        self.mapping: ChannelMap | None = None
        if self.args.test_time_augmentation:
            square = self.args.grid.tile_height == self.args.grid.tile_width
            transforms = transforms_for(opened.emd.ImageSpaceUsed, square)
            self.forward = augmented(self.forward, transforms, self.args.merge_policy)

    def mapping_for(self, channels: int) -> ChannelMap:
        emd = self.opened.emd
        self.mapping = channel_map(
            self.opened.classes, channels, self.args.predict_background, emd.ignore_mapped_class
        )
        return self.mapping

    def background_notes(self, writer: ClassifiedRasterWriter, counts: dict[str, int]) -> list[str]:
        """The background's row in the attribute table where 0 may be written (the counts
        hold a key for every Value the mapping may write, a resumed run's too), and what the
        summary says of it when the user did not choose. A resume that found every tile done
        ran no batch: a background channel is then known from those counts."""
        classes = self.opened.classes
        written = pixels_key(0) in counts
        if written:
            writer.add_first_row(BACKGROUND)
        if self.mapping is None and written and all(c.Value != 0 for c in classes):
            self.mapping_for(len(classes) + 1)
        mapping = self.mapping
        if mapping is None or self.args.predict_background is not None:
            return []
        note = mapping.note(len(self.opened.classes))
        return [note] if note is not None else []

    def classify(self, request: TaskRequest, resuming: Resuming | None = None) -> TaskReport:
        """One raster to one classified GeoTIFF; with `resuming`, checkpointed."""
        started = time.perf_counter()
        opened, args = self.opened, self.args
        with open_source(request.raster, opened.emd, opened.configuration.normalised) as source:
            warnings = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, area = planned_tiles(source.dataset, planned, request.extent, request.aoi)
            rows = class_rows(opened.classes)
            output, overwrite = request.output, request.overwrite
            checkpoint = None
            if resuming is not None:
                checkpoint = resuming.checkpoint(self, request, len(tiles))
                if resuming.wanted and not checkpoint.resumed:
                    warnings.append(
                        f"no interrupted run of {output.name} with this model, these inputs "
                        "and arguments to resume: classified from the start"
                    )
            with ClassifiedRasterWriter(
                output, source.dataset, rows, overwrite, checkpoint
            ) as writer:
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
                    checkpoint,
                )
                warnings += self.background_notes(writer, counts)
        return inference_report(
            tiles=len(tiles),
            pixels=source.height * source.width,
            seconds=round(time.perf_counter() - started, 3),
            device=self.adapter.device,
            arguments=args.resolved(),
            counts=counts,
            warnings=warnings,
        )


class Resuming:
    """Whether a run takes up a killed one's tiles, and what must match for it to."""

    def __init__(self, wanted: bool, inputs: list[object]) -> None:
        self.wanted = wanted
        self.inputs = inputs

    def checkpoint(
        self, classifier: PixelClassifier, request: TaskRequest, tiles: int
    ) -> Checkpoint:
        signature = {
            "task": TASK,
            "model": model_identity(classifier.opened.emd_path),
            "inputs": self.inputs,
            "arguments": classifier.args.resolved(),
            "extent": request.extent,
            "aoi": file_identity(request.aoi) if request.aoi is not None else None,
            "tiles": tiles,
        }
        # JSON's view of it: what a record read back compares equal to
        signature = json.loads(json.dumps(signature))
        return Checkpoint.start(request.output, signature, self.wanted)
