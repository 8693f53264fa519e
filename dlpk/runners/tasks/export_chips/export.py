"""Task export_chips: ArcGIS's Export Training Data For Deep Learning, streamed chip by chip.

Check and read the inputs (chips.inputs, chips.labelling) before the output folder is touched
(chips.output), plan the windows once (chips.plan), let workers make the chips group by group
(chips.pool, chips.schedule, chips.worker), merge their statistics in plan order (chips.merge)
and write the root files last (chips.rootfiles). CycleGAN's two unpaired halves are two such
exports (chips.unpaired).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from dlpk.atomic import sha256_file, write_text_atomic
from dlpk.errors import BadInputError
from dlpk.runners.io.rasters import RasterInfo, open_raster_info
from dlpk.runners.io.sources import check_items, list_rasters, skipped_warning, write_mosaic
from dlpk.runners.progress import Progress, no_progress
from dlpk.runners.tasks.export_chips import rootfiles
from dlpk.runners.tasks.export_chips.formats import FORMATS, FormatTraits
from dlpk.runners.tasks.export_chips.inputs import (
    Inputs,
    Item,
    check_chip_format,
    check_feature_tile_options,
    fitting_items,
    second_raster,
)
from dlpk.runners.tasks.export_chips.labelling import Labelling, read_labelling
from dlpk.runners.tasks.export_chips.merge import Totals, merge_groups
from dlpk.runners.tasks.export_chips.output import STATE_FILE, prepare_output, run_signature
from dlpk.runners.tasks.export_chips.plan import make_plan
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.pool import make_chips
from dlpk.runners.tasks.export_chips.unpaired import export_unpaired
from dlpk.runners.tasks.export_chips.worker import ChipConfig, GroupResult
from dlpk.runners.tasks.report import TaskReport
from dlpk.scratch import scratch
from dlpk.spec.job import ExportChipsJob, ExportChipsParameters

__all__ = ["STATE_FILE", "ExportReport", "export_chips", "resolve", "run_job", "usable_cores"]

ExportReport = TaskReport


def usable_cores() -> int:
    """The cores this process may run on (a CPU affinity or cpuset can allow fewer than the
    machine has): the default worker count, and the budget of GDAL decoding threads."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve(params: ExportChipsParameters) -> ExportChipsParameters:
    """Fill the defaults that depend on other parameters or on the machine."""
    return params.model_copy(
        update={
            "tile_size_y": params.tile_size_y or params.tile_size_x,
            "stride_y": params.stride_y or params.stride_x,
            "workers": params.workers or usable_cores(),
        }
    )


def export_chips(
    raster: Path,
    labels: Path | None,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress = no_progress,
    *,
    raster2: Path | None = None,
    mask_polygons: Path | None = None,
    instance_data: Path | None = None,
    metadata_mode: str | None = None,
) -> ExportReport:
    """Write an Export Training Data folder at `out`; raises BadInputError on unusable input.
    `raster` is a raster or a folder of images (a mosaic, or items one by one, as
    params.processing_mode says). `metadata_mode` names the format in the root files when it
    differs from the chips' layout (the halves of a CycleGAN export are Export_Tiles folders
    that say CycleGAN)."""
    params = resolve(params)
    if params.metadata_format == "CycleGAN":
        return export_unpaired(
            export_chips,
            raster,
            labels,
            out,
            params,
            progress,
            raster2,
            mask_polygons,
            instance_data,
        )
    sources = list_rasters(raster)
    if raster2 is not None and len(sources.rasters) > 1:
        raise BadInputError(
            f"a second raster pairs with one raster, and {raster} is a folder of "
            f"{len(sources.rasters)}",
            hint="pass one raster as --raster",
        )
    inputs = Inputs(raster, sources, labels, raster2, mask_polygons, instance_data)
    with scratch("dlpk-mosaic-") as folder:
        rasters = sources.rasters
        if len(rasters) > 1 and params.processing_mode == "PROCESS_AS_MOSAICKED_IMAGE":
            rasters = [open_raster_info(write_mosaic(rasters, folder / "mosaic.vrt"))]
        return _export(rasters, inputs, out, params, progress, metadata_mode)


def _export(
    rasters: list[RasterInfo],
    inputs: Inputs,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress,
    metadata_mode: str | None,
) -> ExportReport:
    """The export of one raster or of a folder's images, step by step: every input is checked
    and read before the output folder is touched, and each step is timed for the report."""
    t0 = time.monotonic()
    traits = FORMATS[params.metadata_format]
    info, tile_y = rasters[0], params.tile_size_y or params.tile_size_x
    info2 = _check_rasters(rasters, inputs, params, traits)
    items, small = fitting_items([Item(each) for each in rasters], params, tile_y)
    labelling = read_labelling(inputs, items, info, params, traits, several=len(rasters) > 1)
    prepare_output(out, run_signature(inputs.signature(), params), params.resume, params.overwrite)

    t_plan = time.monotonic()
    numbered = _plan(items, params, traits, labelling.label_raster, inputs, progress)

    t_chips = time.monotonic()
    jobs = _chip_jobs(items, out, params, labelling, info2)
    groups = _make(jobs, params.workers or 1, numbered, progress)
    band_count2 = info2.count if info2 is not None else None
    totals = merge_groups(groups, traits, labelling.classes, info.count, band_count2)

    t_root = time.monotonic()
    export = _summary(info, info2, params, labelling, totals, numbered, metadata_mode)
    root_files = _write_root_files(out, export, totals.map_lines)
    t_end = time.monotonic()

    report = _report(inputs, params, traits, items, small, numbered, totals)
    report.warnings = [*labelling.warnings, *report.warnings]
    report.files += root_files
    report.timings = {
        "check": t_plan - t0,
        "plan": t_chips - t_plan,
        "chips": t_root - t_chips,
        "root_files": t_end - t_root,
        "total": t_end - t0,
    }
    return report


def _check_rasters(
    rasters: list[RasterInfo], inputs: Inputs, params: ExportChipsParameters, traits: FormatTraits
) -> RasterInfo | None:
    """Refuse rasters the chips cannot be made of, and options the format would ignore; the
    second raster's info, when there is one."""
    check_items(rasters)
    for each in rasters:
        check_chip_format(each, params.image_chip_format)
    check_feature_tile_options(params, traits)
    if inputs.raster2 is None:
        return None
    return second_raster(inputs.raster2, rasters[0], params)


def _plan(
    items: list[Item],
    params: ExportChipsParameters,
    traits: FormatTraits,
    label_raster: str | None,
    inputs: Inputs,
    progress: Progress,
) -> int:
    """Plan every item's chips, numbered across the items so chip names never clash in a
    folder export; the number of chips, of which there must be one at least."""
    numbered = 0
    for item in items:
        plan = make_plan(
            item.info, params, traits, item.features, label_raster, item.mask, progress
        )
        item.plan = [replace(chip, index=chip.index + numbered) for chip in plan]
        numbered += len(plan)
    if not numbered:
        if inputs.mask_polygons is not None:
            raise BadInputError("no tile lies completely inside the mask polygons")
        raise BadInputError("no tile of the raster holds a feature; nothing to export")
    return numbered


def _chip_jobs(
    items: list[Item],
    out: Path,
    params: ExportChipsParameters,
    labelling: Labelling,
    info2: RasterInfo | None,
) -> list[tuple[ChipConfig, list[PlanItem]]]:
    """Each item's worker configuration with its plan: what a worker needs, sent once."""
    workers = params.workers or 1
    return [
        (
            ChipConfig(
                raster=item.info,
                out_dir=str(out),
                metadata_format=params.metadata_format,
                chip_format=params.image_chip_format,
                class_names=labelling.classes,
                label_dtype=labelling.label_dtype,
                features=item.features,
                label_raster=labelling.label_raster,
                raster2=info2,
                min_overlap=params.min_polygon_overlap_ratio,
                resume=params.resume,
                pixel_space=params.reference_system == "PIXEL_SPACE",
                blacken=_blackens(params),
                instances=item.instances,
                instance_class_names=labelling.instance_classes,
                instance_dtype=labelling.instance_dtype,
                # one worker may decode a strip's blocks on every core; several share the cores
                gdal_threads=max(1, usable_cores() // workers),
            ),
            item.plan,
        )
        for item in items
    ]


def _make(
    jobs: list[tuple[ChipConfig, list[PlanItem]]], workers: int, numbered: int, progress: Progress
) -> list[GroupResult]:
    """Make every chip, reporting progress as the groups come back (in schedule order)."""
    progress("chips", 0, numbered)
    groups: list[GroupResult] = []
    done = 0
    for group in make_chips(jobs, workers):
        groups.append(group)
        done += len(group.chips)
        progress("chips", done, numbered)
    return groups


def _summary(
    info: RasterInfo,
    info2: RasterInfo | None,
    params: ExportChipsParameters,
    labelling: Labelling,
    totals: Totals,
    numbered: int,
    metadata_mode: str | None,
) -> rootfiles.ExportSummary:
    """What the root files say of the export: its rasters, format, classes and statistics."""
    return rootfiles.ExportSummary(
        raster=info,
        metadata_format=metadata_mode or params.metadata_format,
        tile_x=params.tile_size_x,
        tile_y=params.tile_size_y or params.tile_size_x,
        classes=labelling.classes,
        bands=totals.bands,
        summary=totals.summary,
        num_tiles=numbered,
        raster2=info2,
        bands2=totals.bands2,
        reference_system=params.reference_system,
        variable_size=params.crop_mode == "BOUNDING_BOX",
        blacken=_blackens(params),
        instance_classes=labelling.instance_classes,
    )


def _write_root_files(
    out: Path, export: rootfiles.ExportSummary, map_lines: list[str]
) -> list[tuple[str, int, str]]:
    """The root files, written last: a folder with them holds a finished export."""
    texts = {
        "esri_model_definition.emd": rootfiles.dumps(rootfiles.model_definition(export)),
        "esri_accumulated_stats.json": rootfiles.dumps(rootfiles.accumulated_stats(export)),
        "stats.txt": rootfiles.stats_txt(export),
        "map.txt": rootfiles.map_txt(map_lines),
    }
    files = []
    for name, text in texts.items():
        write_text_atomic(out / name, text)
        files.append((name, (out / name).stat().st_size, sha256_file(out / name)))
    return files


def _report(
    inputs: Inputs,
    params: ExportChipsParameters,
    traits: FormatTraits,
    items: list[Item],
    small: list[str],
    numbered: int,
    totals: Totals,
) -> ExportReport:
    """What the export did, in counts, files and warnings (timings are the caller's)."""
    report = ExportReport(files=list(totals.files))
    report.counts = {
        "chips": numbered,
        "chips_written": totals.written,
        "chips_reused": numbered - totals.written,
        "classes": len(totals.summary.values),
    }
    if inputs.sources.folder:
        report.counts["rasters"] = len(inputs.sources.rasters)
        if params.processing_mode == "PROCESS_ITEMS_SEPARATELY":  # a mosaic is one item
            report.counts["rasters_with_chips"] = sum(1 for item in items if item.plan)
        report.counts["files_not_rasters"] = len(inputs.sources.skipped)
        report.warnings += _folder_warnings(inputs, small)
    if traits.labels != "none":
        key = "features" if traits.output_features else "labelled_pixels"
        report.counts[key] = int(sum(totals.summary.amount_per_class.values()))
    report.parameters = params.model_dump()
    return report


def _blackens(params: ExportChipsParameters) -> bool:
    """Whether per-feature chips keep only their feature's pixels (the workers do it, and the
    root files say so)."""
    return params.blacken_around_feature == "BLACKEN_AROUND_FEATURE"


def _folder_warnings(inputs: Inputs, small: list[str]) -> list[str]:
    """Files of the folder that gave no chip for a reason the user may not expect."""
    warnings = skipped_warning(inputs.raster, inputs.sources)
    if small:
        names = ", ".join(small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
        warnings.append(
            f"{len(small)} raster(s) in {inputs.raster} are smaller than a tile: {names}"
        )
    return warnings


def run_job(job: ExportChipsJob, jobdir: Path, progress: Progress) -> ExportReport:
    """The job-contract face of the task: paths resolve against the job directory."""
    inputs = job.inputs
    labels = jobdir / inputs.in_class_data if inputs.in_class_data else None
    out_folder = job.outputs.out_folder
    report = export_chips(
        jobdir / inputs.in_raster,
        labels,
        jobdir / out_folder,
        job.parameters,
        progress,
        raster2=jobdir / inputs.in_raster2 if inputs.in_raster2 else None,
        mask_polygons=jobdir / inputs.in_mask_polygons if inputs.in_mask_polygons else None,
        instance_data=jobdir / inputs.in_instance_data if inputs.in_instance_data else None,
    )
    report.files = [(f"{out_folder}/{path}", size, sha) for path, size, sha in report.files]
    return report
