"""export-chips in shares: every step checks the inputs and plans the chips as a whole export
does; the plan step then prepares the output folder, each share makes its range of chip groups
(in the order a whole export takes them) straight into that folder and keeps their statistics
in a part file, and the assemble step merges the statistics in plan order and writes the root
files, so the folder is the one a whole export writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlpk.errors import BadInputError, InvalidJobError
from dlpk.runners.io.rasters import RasterInfo, open_raster_info
from dlpk.runners.io.sources import list_rasters, write_mosaic
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.export_chips.export import (
    _check_rasters,
    _chip_jobs,
    _plan,
    _report,
    _summary,
    _write_root_files,
    resolve,
)
from dlpk.runners.tasks.export_chips.formats import FORMATS, FormatTraits
from dlpk.runners.tasks.export_chips.inputs import Inputs, Item, fitting_items
from dlpk.runners.tasks.export_chips.labelling import Labelling, read_labelling
from dlpk.runners.tasks.export_chips.merge import merge_groups
from dlpk.runners.tasks.export_chips.output import prepare_output, run_signature
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.pool import Writers
from dlpk.runners.tasks.export_chips.schedule import group_items, strip_width, tasks
from dlpk.runners.tasks.export_chips.stats import BandMoments
from dlpk.runners.tasks.export_chips.worker import ChipConfig, ChipResult, GroupResult
from dlpk.runners.tasks.report import TaskReport
from dlpk.runners.tasks.shares.parts import (
    UNITS,
    finished_shares,
    part_folder,
    read_json,
    share_range,
    write_json,
)
from dlpk.scratch import scratch
from dlpk.spec.job import ExportChipsJob, ExportChipsParameters

GROUPS = "groups.json"  # a share's part file, in its out/part/


@dataclass
class Export:
    """An export checked and planned, as every step sees it."""

    job: ExportChipsJob
    inputs: Inputs
    out: Path
    params: ExportChipsParameters
    traits: FormatTraits
    info: RasterInfo
    info2: RasterInfo | None
    items: list[Item]
    small: list[str]
    labelling: Labelling
    numbered: int


def plan(job: ExportChipsJob, jobdir: Path, progress: Progress) -> TaskReport:
    """Check and plan; prepare the output folder (refused, replaced or resumed as a whole
    export would); count the chip groups."""
    with _export(job, jobdir, progress, prepare=True) as export:
        groups = _groups(export)
    return TaskReport(counts={"chips": export.numbered, UNITS: len(groups)})


def share(job: ExportChipsJob, jobdir: Path, progress: Progress) -> TaskReport:
    """Make the share's range of chip groups in this process; keep their results."""
    started = time.monotonic()
    part = job.parameters.part
    assert part is not None
    with _export(job, jobdir, progress, prepare=False) as export:
        groups = _groups(export)
        mine = groups[_slice(share_range(len(groups), part.count, part.index))]
        total = sum(len(group) for _, group in mine)
        progress("chips", 0, total)
        configs = [config for config, _ in _chip_jobs_of(export)]
        writers = Writers(configs)
        results: list[GroupResult] = []
        try:
            for source, group in mine:
                results += writers.run((source, [group]))
                progress("chips", sum(len(r.chips) for r in results), total)
        finally:
            writers.close()
    write_json(part_folder(jobdir) / GROUPS, [group_json(result) for result in results])
    report = TaskReport(
        counts={
            "chips": total,
            "chips_written": sum(chip.written for r in results for chip in r.chips),
        }
    )
    report.timings = {"chips": time.monotonic() - started}
    return report


def assemble(job: ExportChipsJob, jobdir: Path, progress: Progress) -> TaskReport:
    """Merge the shares' statistics in plan order and write the root files, last."""
    started = time.monotonic()
    part = job.parameters.part
    assert part is not None
    shares = finished_shares(jobdir, part)
    with _export(job, jobdir, progress, prepare=False) as export:
        groups = [group_result(each) for s in shares for each in read_json(s.parts / GROUPS)]
        if sum(len(group.chips) for group in groups) != export.numbered:
            raise InvalidJobError(
                f"the shares made {sum(len(g.chips) for g in groups)} chips of "
                f"{export.numbered} planned: they ran another plan"
            )
        band_count2 = export.info2.count if export.info2 is not None else None
        labelling, params = export.labelling, export.params
        totals = merge_groups(
            groups, export.traits, labelling.classes, export.info.count, band_count2
        )
        t_root = time.monotonic()
        summary = _summary(
            export.info, export.info2, params, labelling, totals, export.numbered, None
        )
        root_files = _write_root_files(export.out, summary, totals.map_lines)
        report = _report(
            export.inputs,
            params,
            export.traits,
            export.items,
            export.small,
            export.numbered,
            totals,
        )
    report.warnings = [*labelling.warnings, *report.warnings]
    report.files += root_files
    report.timings = {
        "merge": t_root - started,
        "root_files": time.monotonic() - t_root,
        "total": time.monotonic() - started,
    }
    out_folder = job.outputs.out_folder
    report.files = [(f"{out_folder}/{path}", size, sha) for path, size, sha in report.files]
    return report


@contextmanager
def _export(
    job: ExportChipsJob, jobdir: Path, progress: Progress, prepare: bool
) -> Iterator[Export]:
    """The job's inputs checked and read and its chips planned, as export_chips does before
    it makes any chip; with `prepare`, the output folder made ready."""
    p = resolve(job.parameters)
    if p.metadata_format == "CycleGAN":
        raise InvalidJobError(
            "CycleGAN (two unpaired exports) does not run in shares",
            hint="run it with --backend local or docker",
        )
    i = job.inputs
    raster = jobdir / i.in_raster
    raster2 = jobdir / i.in_raster2 if i.in_raster2 else None
    sources = list_rasters(raster)
    if raster2 is not None and len(sources.rasters) > 1:
        raise BadInputError(
            f"a second raster pairs with one raster, and {raster} is a folder of "
            f"{len(sources.rasters)}",
            hint="pass one raster as --raster",
        )
    inputs = Inputs(
        raster,
        sources,
        jobdir / i.in_class_data if i.in_class_data else None,
        raster2,
        jobdir / i.in_mask_polygons if i.in_mask_polygons else None,
        jobdir / i.in_instance_data if i.in_instance_data else None,
    )
    out = jobdir / job.outputs.out_folder
    with scratch("dlpk-mosaic-") as folder:
        rasters = sources.rasters
        if len(rasters) > 1 and p.processing_mode == "PROCESS_AS_MOSAICKED_IMAGE":
            rasters = [open_raster_info(write_mosaic(rasters, folder / "mosaic.vrt"))]
        traits = FORMATS[p.metadata_format]
        info, tile_y = rasters[0], p.tile_size_y or p.tile_size_x
        info2 = _check_rasters(rasters, inputs, p, traits)
        items, small = fitting_items([Item(each) for each in rasters], p, tile_y)
        labelling = read_labelling(inputs, items, info, p, traits, several=len(rasters) > 1)
        if prepare:
            prepare_output(out, run_signature(inputs.signature(), p), p.resume, p.overwrite)
        numbered = _plan(items, p, traits, labelling.label_raster, inputs, progress)
        yield Export(job, inputs, out, p, traits, info, info2, items, small, labelling, numbered)


def _chip_jobs_of(export: Export) -> list[tuple[ChipConfig, list[PlanItem]]]:
    """The workers' configuration per raster; a share makes its chips in one process."""
    params = export.params.model_copy(update={"workers": 1})
    return _chip_jobs(export.items, export.out, params, export.labelling, export.info2)


def _groups(export: Export) -> list[tuple[int, list[PlanItem]]]:
    """Every chip group of the export with its raster's number, in the order a whole export
    makes them (column chunk by column chunk, so a share's groups share decoded strips)."""
    found: list[tuple[int, list[PlanItem]]] = []
    for source, item in enumerate(export.items):
        if not item.plan:
            continue
        info, first = item.info, item.plan[0].window
        width = strip_width(first.width, first.height, info.count, info.dtype)
        runs = tasks(group_items(item.plan, width), width)
        found += [(source, group) for run in runs for group in run]
    return found


def _slice(numbers: range) -> slice:
    return slice(numbers.start, numbers.stop)


def _moments_json(moments: BandMoments | None) -> dict[str, list[Any]] | None:
    if moments is None:
        return None
    return {
        "count": moments.count.tolist(),
        "mean": moments.mean.tolist(),
        "m2": moments.m2.tolist(),
        "min": moments.min.tolist(),
        "max": moments.max.tolist(),
    }


def _moments(value: dict[str, list[Any]] | None) -> BandMoments | None:
    if value is None:
        return None
    return BandMoments(
        count=np.asarray(value["count"], dtype=np.int64),
        mean=np.asarray(value["mean"], dtype=np.float64),
        m2=np.asarray(value["m2"], dtype=np.float64),
        min=np.asarray(value["min"], dtype=np.float64),
        max=np.asarray(value["max"], dtype=np.float64),
    )


def group_json(group: GroupResult) -> dict[str, Any]:
    """A group's result as JSON (floats round-trip exactly, so the merged statistics are the
    ones a whole export computes)."""
    return {
        "chips": [
            {
                "index": chip.index,
                "written": chip.written,
                "files": [list(record) for record in chip.files],
                "map_line": chip.map_line,
                "class_pixels": [[value, n] for value, n in chip.class_pixels.items()],
                "features": [list(feature) for feature in chip.features],
            }
            for chip in group.chips
        ],
        "bands": _moments_json(group.bands),
        "bands2": _moments_json(group.bands2),
    }


def group_result(value: dict[str, Any]) -> GroupResult:
    """A group's result read back from a share's part file."""
    try:
        chips = [
            ChipResult(
                index=int(chip["index"]),
                written=bool(chip["written"]),
                files=[(str(p), int(s), str(h)) for p, s, h in chip["files"]],
                map_line=str(chip["map_line"]),
                class_pixels={int(v): int(n) for v, n in chip["class_pixels"]},
                features=[(int(v), float(a), float(s)) for v, a, s in chip["features"]],
            )
            for chip in value["chips"]
        ]
        bands = _moments(value["bands"])
        assert bands is not None
        return GroupResult(chips, bands, _moments(value["bands2"]))
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise InvalidJobError(f"a share's chip groups are unreadable ({exc!r})") from None
