"""Task export_chips: ArcGIS's Export Training Data For Deep Learning, streamed chip by chip.

Plan the windows once, decide which to keep, then let worker processes write chips in contiguous
runs of the plan while this process merges their statistics in plan order and writes the root
files last.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely

from dlpk.atomic import remove_partials, sha256_file, write_text_atomic
from dlpk.errors import BadInputError
from dlpk.runners.chips import rootfiles
from dlpk.runners.chips.formats import FORMATS, FormatTraits
from dlpk.runners.chips.stats import BandMoments, ClassSummary
from dlpk.runners.chips.worker import (
    ChipConfig,
    ChipResult,
    ChipWriter,
    PlanItem,
    init_worker,
    open_label_raster,
    run_items,
)
from dlpk.runners.progress import Progress, no_progress
from dlpk.runners.raster import RasterInfo, open_raster_info, read_chip
from dlpk.runners.tasks.report import TaskReport
from dlpk.runners.tiling import ChipWindow, plan_windows
from dlpk.runners.vectors import Features, features_in_window, is_vector, read_features
from dlpk.spec.job import ExportChipsJob, ExportChipsParameters

STATE_FILE = ".dlpk-export.json"
ROOT_FILES = ("esri_model_definition.emd", "esri_accumulated_stats.json", "map.txt", "stats.txt")
OWNED = ("images", "labels", "images2", STATE_FILE, *ROOT_FILES)
BATCH = 8  # plan items per worker task: contiguous, so a worker's reads share source blocks


ExportReport = TaskReport


def resolve(params: ExportChipsParameters) -> ExportChipsParameters:
    """Fill the defaults that depend on other parameters or on the machine."""
    return params.model_copy(
        update={
            "tile_size_y": params.tile_size_y or params.tile_size_x,
            "stride_y": params.stride_y or params.stride_x,
            "workers": params.workers or os.cpu_count() or 1,
        }
    )


def check_chip_format(info: RasterInfo, chip_format: str) -> None:
    if chip_format in ("PNG", "JPEG"):
        if info.count > 3:
            raise BadInputError(
                f"{chip_format} chips hold at most 3 bands; the raster has {info.count}",
                hint="use --chip-format TIFF",
            )
        if info.dtype != "uint8":
            raise BadInputError(
                f"{chip_format} chips need 8-bit data; the raster is {info.dtype}",
                hint="use --chip-format TIFF",
            )


def _classes(values: list[int], traits: FormatTraits) -> dict[int, str]:
    if traits.labels in ("raster", "masks") and any(v < 1 for v in values):
        raise BadInputError(
            f"class values must be 1 or more for {traits.name} (0 is NoData/background); "
            f"found {min(values)}"
        )
    return {v: str(v) for v in sorted(values)}


def _raster_class_values(path: str, info: RasterInfo) -> list[int]:
    """Distinct non-zero class values of a classified raster, read block by block."""
    found: set[int] = set()
    with rasterio.open(path) as raw:
        if raw.count != 1 or not np.issubdtype(np.dtype(raw.dtypes[0]), np.integer):
            raise BadInputError(f"classified raster {path} must have one integer band")
    src = open_label_raster(path, info)
    try:
        for _, window in src.block_windows(1):
            data = src.read(1, window=window)
            if src.nodata is not None:
                data = data[data != src.nodata]
            found.update(int(v) for v in np.unique(data) if v != 0)
    finally:
        src.close()
    if not found:
        raise BadInputError(f"classified raster {path} has no class pixels over the raster")
    return sorted(found)


def _identity(path: Path) -> dict[str, Any]:
    """What identifies an input across runs and backends (a container sees other paths)."""
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime": int(stat.st_mtime)}


def _prepare_output(out: Path, signature: dict[str, Any], resume: bool, overwrite: bool) -> None:
    """Never touch a user's files without --overwrite; --resume only into our own export."""
    state = out / STATE_FILE
    if out.exists() and not out.is_dir():
        raise BadInputError(f"output {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if resume:
            if not state.exists():
                raise BadInputError(
                    f"cannot resume into {out}: it is not an unfinished dlpk export",
                    hint="use --overwrite to replace it",
                )
            previous = json.loads(state.read_text(encoding="utf-8"))
            if previous != signature:
                changed = sorted(k for k in signature if previous.get(k) != signature[k])
                raise BadInputError(
                    f"cannot resume into {out}: parameters differ ({', '.join(changed)})"
                )
            remove_partials(out)
        elif overwrite:
            for name in OWNED:
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        else:
            raise BadInputError(
                f"output folder {out} exists and is not empty",
                hint="use --overwrite to replace it or --resume to finish it",
            )
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(state, json.dumps(signature, indent=2) + "\n")


def _plan(
    info: RasterInfo,
    params: ExportChipsParameters,
    traits: FormatTraits,
    features: Features | None,
    label_raster: str | None,
    progress: Progress,
) -> list[PlanItem]:
    tile_y, stride_y = params.tile_size_y or params.tile_size_x, params.stride_y or params.stride_x
    if traits.per_feature_tiles:
        assert features is not None
        return _feature_centred(info, params.tile_size_x, tile_y, features)
    windows = plan_windows(
        info.width,
        info.height,
        params.tile_size_x,
        tile_y,
        params.stride_x,
        stride_y,
        pad=params.pad_edges,
    )
    keep_all = params.output_nofeature_tiles == "ALL_TILES" or (
        features is None and label_raster is None
    )
    if keep_all:
        return [PlanItem(i, w) for i, w in enumerate(windows)]
    kept: list[ChipWindow] = []
    if features is not None:
        tree = shapely.STRtree(features.geoms)
        for n, w in enumerate(windows):
            idx, _ = features_in_window(
                features,
                tree,
                w.col_off,
                w.row_off,
                w.width,
                w.height,
                params.min_polygon_overlap_ratio,
            )
            if idx.size:
                kept.append(w)
            progress("plan", n + 1, len(windows))
    else:
        assert label_raster is not None
        src = open_label_raster(label_raster, info)
        try:
            for n, w in enumerate(windows):
                data, _, _ = read_chip(src, w, 1)
                nonzero = data != 0 if src.nodata is None else (data != 0) & (data != src.nodata)
                if nonzero.any():
                    kept.append(w)
                progress("plan", n + 1, len(windows))
        finally:
            src.close()
    return [PlanItem(i, w) for i, w in enumerate(kept)]


def _feature_centred(
    info: RasterInfo, tile_x: int, tile_y: int, features: Features
) -> list[PlanItem]:
    """Labeled_Tiles: one chip centred on each feature that touches the raster."""
    items: list[PlanItem] = []
    extent = shapely.box(0, 0, info.width, info.height)
    bounds = shapely.bounds(features.geoms)
    touching = shapely.intersects(features.geoms, extent)
    for i in np.flatnonzero(touching).tolist():
        cx = (bounds[i, 0] + bounds[i, 2]) / 2
        cy = (bounds[i, 1] + bounds[i, 3]) / 2
        window = ChipWindow(round(cx - tile_x / 2), round(cy - tile_y / 2), tile_x, tile_y)
        window = _clamp(window, info)
        items.append(PlanItem(len(items), window, focus=i))
    return items


def _clamp(w: ChipWindow, info: RasterInfo) -> ChipWindow:
    """Shift a window inside the raster where it fits (chips then hold no padding)."""
    col = min(max(w.col_off, 0), max(info.width - w.width, 0))
    row = min(max(w.row_off, 0), max(info.height - w.height, 0))
    return ChipWindow(col, row, w.width, w.height)


def _run_chips(config: ChipConfig, plan: list[PlanItem], workers: int) -> Iterator[ChipResult]:
    batches = [plan[i : i + BATCH] for i in range(0, len(plan), BATCH)]
    if workers <= 1 or len(batches) <= 1:
        writer = ChipWriter(config)
        try:
            for item in plan:
                yield writer.run(item)
        finally:
            writer.close()
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(batches)), initializer=init_worker, initargs=(config,)) as pool:
        for results in pool.imap(run_items, batches):
            yield from results


def export_chips(
    raster: Path,
    labels: Path | None,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress = no_progress,
) -> ExportReport:
    """Write an Export Training Data folder at `out`; raises BadInputError on unusable input."""
    t0 = time.monotonic()
    params = resolve(params)
    traits = FORMATS[params.metadata_format]
    tile_y = params.tile_size_y or params.tile_size_x
    info = open_raster_info(raster)
    check_chip_format(info, params.image_chip_format)
    if not params.pad_edges and (params.tile_size_x > info.width or tile_y > info.height):
        raise BadInputError(
            f"tile {params.tile_size_x}x{tile_y} is larger than the raster "
            f"({info.width}x{info.height})"
        )

    features: Features | None = None
    label_raster: str | None = None
    if labels is None:
        if traits.needs_class_data:
            raise BadInputError(f"{traits.name} needs class data (--labels)")
        values: list[int] = []
    elif not labels.exists():
        raise BadInputError(f"labels not found: {labels}")
    elif is_vector(labels):
        features = read_features(labels, info, params.class_value_field, params.buffer_radius)
        values = sorted({int(v) for v in features.values})
    else:
        if traits.labels != "raster" and traits.labels != "none":
            raise BadInputError(
                f"{traits.name} needs vector features; {labels} is not a vector dataset"
            )
        try:
            with rasterio.open(labels):
                pass
        except rasterio.errors.RasterioIOError:
            raise BadInputError(f"cannot read labels {labels} as features or raster") from None
        label_raster = str(labels)
        values = _raster_class_values(label_raster, info)
    if traits.labels == "none":
        features, label_raster, values = None, None, []
    classes = _classes(values, traits)
    if traits.labels == "masks":
        count = 0 if features is None else len(features.values)
        label_dtype = "uint8" if count < 256 else "uint16"
    else:
        label_dtype = "uint8" if not values or max(values) < 256 else "uint16"

    signature = {
        "raster": _identity(raster),
        "labels": _identity(labels) if labels else None,
        **params.model_dump(exclude={"workers", "resume", "overwrite"}),
    }
    _prepare_output(out, signature, params.resume, params.overwrite)
    t_plan = time.monotonic()
    plan = _plan(info, params, traits, features, label_raster, progress)
    if not plan:
        raise BadInputError("no tile of the raster holds a feature; nothing to export")
    config = ChipConfig(
        raster=info,
        out_dir=str(out),
        metadata_format=params.metadata_format,
        chip_format=params.image_chip_format,
        class_names=classes,
        label_dtype=label_dtype,
        features=features,
        label_raster=label_raster,
        min_overlap=params.min_polygon_overlap_ratio,
        resume=params.resume,
    )

    t_chips = time.monotonic()
    report = ExportReport()
    bands = BandMoments.empty(info.count)
    summary = ClassSummary(values=list(classes))
    map_lines: list[str] = []
    written = 0
    workers = params.workers or 1
    progress("chips", 0, len(plan))
    for n, result in enumerate(_run_chips(config, plan, workers), start=1):
        bands.merge(result.bands)
        if traits.labels == "raster":
            summary.add_pixels(result.class_pixels)
        elif traits.labels != "none":
            summary.add_features(result.features)
        map_lines.append(result.map_line)
        report.files.extend(result.files)
        written += result.written
        progress("chips", n, len(plan))

    t_root = time.monotonic()
    export = rootfiles.ExportSummary(
        raster=info,
        metadata_format=params.metadata_format,
        tile_x=params.tile_size_x,
        tile_y=tile_y,
        classes=classes,
        bands=bands,
        summary=summary,
        num_tiles=len(plan),
    )
    texts = {
        "esri_model_definition.emd": rootfiles.dumps(rootfiles.model_definition(export)),
        "esri_accumulated_stats.json": rootfiles.dumps(rootfiles.accumulated_stats(export)),
        "stats.txt": rootfiles.stats_txt(export),
        "map.txt": rootfiles.map_txt(map_lines),
    }
    for name, text in texts.items():
        write_text_atomic(out / name, text)
        report.files.append((name, (out / name).stat().st_size, sha256_file(out / name)))
    t_end = time.monotonic()

    report.counts = {
        "chips": len(plan),
        "chips_written": written,
        "chips_reused": len(plan) - written,
        "classes": len(classes),
    }
    if traits.labels != "none":
        key = "features" if traits.output_features else "labelled_pixels"
        report.counts[key] = int(sum(summary.amount_per_class.values()))
    report.timings = {
        "check": t_plan - t0,
        "plan": t_chips - t_plan,
        "chips": t_root - t_chips,
        "root_files": t_end - t_root,
        "total": t_end - t0,
    }
    report.parameters = params.model_dump()
    return report


def run_job(job: ExportChipsJob, jobdir: Path, progress: Progress) -> ExportReport:
    """The job-contract face of the task: paths resolve against the job directory."""
    labels = jobdir / job.inputs.in_class_data if job.inputs.in_class_data else None
    out_folder = job.outputs.out_folder
    report = export_chips(
        jobdir / job.inputs.in_raster, labels, jobdir / out_folder, job.parameters, progress
    )
    report.files = [(f"{out_folder}/{path}", size, sha) for path, size, sha in report.files]
    return report
