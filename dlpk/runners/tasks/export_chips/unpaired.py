"""CycleGAN's export (docs/esri-formats.md#folder-layout): two unpaired exports side by side, A/ for
the raster and B/ for the second one, each a complete Export_Tiles folder with the root files
arcgis.learn reads.

The images are unpaired, so the rasters need not share a grid or an extent: each half is an
export of its own, made by the ordinary export, and this module only checks the call, owns the
outer folder and adds the halves' reports up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dlpk.errors import BadInputError
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.export_chips.inputs import (
    identity,
    instance_data_refused,
    optional_identity,
)
from dlpk.runners.tasks.export_chips.output import UNPAIRED, prepare_output, run_signature
from dlpk.runners.tasks.report import TaskReport
from dlpk.spec.job import ExportChipsParameters


class ExportHalf(Protocol):
    """The export that makes one half (export.export_chips)."""

    def __call__(
        self,
        raster: Path,
        labels: Path | None,
        out: Path,
        params: ExportChipsParameters,
        progress: Progress,
        *,
        mask_polygons: Path | None,
        metadata_mode: str | None,
    ) -> TaskReport: ...


def export_unpaired(
    export_half: ExportHalf,
    raster: Path,
    labels: Path | None,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress,
    raster2: Path | None,
    mask_polygons: Path | None,
    instance_data: Path | None,
) -> TaskReport:
    """Export `raster` into out/A and `raster2` into out/B, both as Export_Tiles folders whose
    root files say CycleGAN; one report for both."""
    if instance_data is not None:
        raise instance_data_refused("CycleGAN")
    if raster2 is None:
        raise BadInputError(
            "CycleGAN needs a second raster", hint="pass --raster2; its chips go to B/"
        )
    if labels is not None:
        raise BadInputError("CycleGAN takes no class data", hint="drop --labels")
    named = {
        "raster": identity(raster),
        "raster2": identity(raster2),
        "mask_polygons": optional_identity(mask_polygons),
    }
    prepare_output(out, run_signature(named, params), params.resume, params.overwrite)
    half = params.model_copy(update={"metadata_format": "Export_Tiles", "overwrite": False})
    report = TaskReport()
    for name, source in zip(UNPAIRED, (raster, raster2), strict=True):
        part = export_half(
            source,
            None,
            out / name,
            half,
            progress,
            mask_polygons=mask_polygons,
            metadata_mode="CycleGAN",
        )
        _add_half(report, name, part)
    report.parameters = params.model_dump()
    return report


def _add_half(report: TaskReport, name: str, part: TaskReport) -> None:
    """A half's files under its folder; counts as totals and per half; timings summed."""
    report.files += [(f"{name}/{path}", size, sha) for path, size, sha in part.files]
    for key, value in part.counts.items():
        if key != "classes":
            report.counts[key] = report.counts.get(key, 0) + value
            report.counts[f"{key}_{name}"] = value
    for key, seconds in part.timings.items():
        report.timings[key] = report.timings.get(key, 0.0) + seconds
