"""classify-objects in shares: the features to classify are cut into whole batches; each share
labels its batches and keeps the labels by feature number in a part file; the assemble step
puts them together and writes the layer (every input feature, its geometry and fields) as a
whole run does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import InvalidJobError
from dlpk.runners.io.area import features_in_area
from dlpk.runners.io.outputs import DRIVERS, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.models.opened import OpenedModel, open_model
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.inference.arguments import Arguments, parse_arguments
from dlpk.runners.tasks.inference.classify_objects import label_features
from dlpk.runners.tasks.inference.common import check_device, crs_warnings
from dlpk.runners.tasks.inference.jobs import _area, _run
from dlpk.runners.tasks.inference.object_chips import ChipShape
from dlpk.runners.tasks.inference.object_features import (
    FeatureLayer,
    Labels,
    label_counts,
    read_features,
    replaced_fields,
    to_raster_crs,
    write_labelled,
)
from dlpk.runners.tasks.inference.object_labels import OBJECT_ARGUMENTS, TASK
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.runners.tasks.shares.parts import (
    UNITS,
    batch_range,
    finished_shares,
    new_warnings,
    part_folder,
    read_json,
    write_json,
)
from dlpk.runners.tasks.shares.pixels import _no_function
from dlpk.spec.job import ClassifyObjectsJob, JobPart

LABELS = "labels.json"  # a share's part file, in its out/part/


def plan(job: ClassifyObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    return _run_step(_plan, job, jobdir, progress)


def share(job: ClassifyObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    extra = {"part": job.parameters.part, "parts": part_folder(jobdir)}
    report = _run_step(_share, job, jobdir, progress, **extra)
    report.files = []  # part files are no output of the job
    return report


def assemble(job: ClassifyObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    return _run_step(_assemble, job, jobdir, progress, part=job.parameters.part, home=jobdir)


def _run_step(
    step: Any, job: ClassifyObjectsJob, jobdir: Path, progress: Progress, **extra: Any
) -> TaskReport:
    if job.inputs.in_features is None:
        raise InvalidJobError(
            "classify-objects without features (each image one object) does not run in shares",
            hint="pass --features, or run it with --backend local or docker",
        )
    features = jobdir / job.inputs.in_features
    layer = job.parameters.features_layer
    output = job.outputs.out_classified_objects
    return _run(
        step, job, jobdir, output, progress, mosaic=True, features=features,
        features_layer=layer, **_area(job, jobdir), **extra,
    )  # fmt: skip


class Setting:
    """What every step reads the same way: the model's arguments and chip, the raster, the
    features in its CRS and those inside the processing area, in the order a run labels them."""

    def __init__(
        self,
        opened: OpenedModel,
        source: RasterSource,
        layer: FeatureLayer,
        arguments: dict[str, str],
        extent: list[float] | None,
        aoi: Path | None,
    ) -> None:
        self.args: Arguments = parse_arguments(arguments, opened.emd, OBJECT_ARGUMENTS)
        emd = opened.emd
        height, width = self.args.grid.tile_height, self.args.grid.tile_width
        self.chip = ChipShape(height, width, emd.CropSizeFixed != 0, emd.BlackenAroundFeature == 1)
        self.local = to_raster_crs(layer.geometries, layer.crs, source.dataset.crs)
        self.todo: NDArray[np.intp] = features_in_area(source.dataset, self.local, extent, aoi)

    def resolved(self) -> dict[str, str]:
        chip = self.chip
        fixed = {"chip": f"{chip.height}x{chip.width}", "CropSizeFixed": str(int(chip.fixed))}
        return self.args.resolved() | fixed


def _plan(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    features: Path,
    features_layer: str | None,
    extent: list[float] | None,
    aoi: Path | None,
) -> TaskReport:
    """Refuse what a whole run would refuse before its first chip; count the batches."""
    check_device(device)
    check_output(output, False, tuple(DRIVERS))
    layer = read_features(features, features_layer)
    with open_model(model, TASK) as opened:
        _no_function(opened)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            setting = Setting(opened, source, layer, arguments, extent, aoi)
    batches = -(-len(setting.todo) // setting.args.batch_size)
    return TaskReport(counts={"features": len(setting.todo), UNITS: max(1, batches)})


def _share(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    features: Path,
    features_layer: str | None,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    parts: Path,
) -> TaskReport:
    """Label the share's batches of features; keep their labels by feature number."""
    started = time.perf_counter()
    check_device(device)
    layer = read_features(features, features_layer)
    with open_model(model, TASK) as opened:
        _no_function(opened)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            setting = Setting(opened, source, layer, arguments, extent, aoi)
            adapter = opened.load(device, trust_code)
            args = setting.args
            numbers = batch_range(len(setting.todo), args.batch_size, part.count, part.index)
            mine = setting.todo[numbers.start : numbers.stop]
            labels = label_features(
                source, setting.local, mine, adapter.forward, opened.classes, setting.chip,
                args.batch_size, progress,
            )  # fmt: skip
            size = source.height * source.width
    kept = [int(n) for n in mine]
    write_json(
        parts / LABELS,
        {
            "numbers": kept,
            "names": [labels.names[n] for n in kept],
            "values": [labels.values[n] for n in kept],
            "confidence": [labels.confidence[n] for n in kept],
        },
    )
    return inference_report(
        tiles=len(mine),
        pixels=size,
        seconds=round(time.perf_counter() - started, 3),
        device=adapter.device,
        arguments=setting.resolved(),
        counts={"share_features": len(mine)},
        warnings=notes,
    )


def _assemble(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    features: Path,
    features_layer: str | None,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    home: Path,
) -> TaskReport:
    """The labelled layer from every share's labels, written as a whole run writes it."""
    started = time.perf_counter()
    check_output(output, False, tuple(DRIVERS))
    shares = finished_shares(home, part)
    layer = read_features(features, features_layer)
    replaced = replaced_fields(layer, features)
    with (
        open_model(model, TASK) as opened,
        open_source(raster, opened.emd, opened.configuration.normalised) as source,
    ):
        notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings, *replaced]
        setting = Setting(opened, source, layer, arguments, extent, aoi)
        size = source.height * source.width
    labels = Labels.empty(len(layer.geometries))
    for each in shares:
        read_labels(each.parts / LABELS, labels)
    progress("write", 0, 1)
    write_labelled(output, layer, labels, False)
    progress("write", 1, 1)
    return inference_report(
        tiles=len(setting.todo),
        pixels=size,
        seconds=round(time.perf_counter() - started, 3),
        device=str(shares[0].result.parameters.get("device", device)),
        arguments=setting.resolved(),
        counts=label_counts(labels, len(setting.todo)),
        warnings=notes + new_warnings(shares, notes),
    )


def read_labels(path: Path, labels: Labels) -> None:
    """A share's labels into `labels`, at their feature numbers."""
    data = read_json(path)
    try:
        rows = zip(data["numbers"], data["names"], data["values"], data["confidence"], strict=True)
        for number, name, value, confidence in rows:
            labels.names[number] = name
            labels.values[number] = value
            labels.confidence[number] = confidence
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InvalidJobError(f"part file {path} is unreadable ({exc})") from None
