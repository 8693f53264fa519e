"""Task export_chips: ArcGIS's Export Training Data For Deep Learning, streamed chip by chip.

Check the inputs, plan the windows once (chips.plan), let workers make the chips group by group
(chips.pool, chips.schedule, chips.worker), merge their statistics in plan order and write the
root files last (chips.rootfiles).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely

from dlpk.atomic import remove_partials, sha256_file, write_text_atomic
from dlpk.errors import BadInputError
from dlpk.runners.io.labels import (
    Features,
    LoadedFeatures,
    is_vector,
    load_features,
    load_mask,
    overlaps,
    place_features,
    place_mask,
)
from dlpk.runners.io.rasters import RasterInfo, open_on_grid, open_raster_info
from dlpk.runners.io.sources import (
    RasterSet,
    check_items,
    list_rasters,
    skipped_warning,
    write_mosaic,
)
from dlpk.runners.progress import Progress, no_progress
from dlpk.runners.tasks.export_chips import rootfiles
from dlpk.runners.tasks.export_chips.formats import FORMATS, FormatTraits
from dlpk.runners.tasks.export_chips.plan import make_plan
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.pool import make_chips
from dlpk.runners.tasks.export_chips.stats import BandMoments, ClassSummary
from dlpk.runners.tasks.export_chips.worker import ChipConfig, GroupResult
from dlpk.runners.tasks.report import TaskReport
from dlpk.spec.job import ExportChipsJob, ExportChipsParameters

STATE_FILE = ".dlpk-export.json"
ROOT_FILES = ("esri_model_definition.emd", "esri_accumulated_stats.json", "map.txt", "stats.txt")
UNPAIRED = ("A", "B")  # CycleGAN's two exports
OWNED = ("images", "labels", "labels2", "images2", *UNPAIRED, STATE_FILE, *ROOT_FILES)
RASTER2_FORMATS = ("Classified_Tiles", "Export_Tiles", "CycleGAN")  # reference §4.1, in_raster2


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


def _second_raster(path: Path, info: RasterInfo, params: ExportChipsParameters) -> RasterInfo:
    """in_raster2: only for formats that pair two images; chips of it obey the same rules."""
    if params.metadata_format not in RASTER2_FORMATS:
        raise BadInputError(
            f"a second raster is used only with {' or '.join(RASTER2_FORMATS)}, "
            f"not {params.metadata_format}"
        )
    info2 = open_raster_info(path)
    check_chip_format(info2, params.image_chip_format)
    if info2.crs_wkt is None and (info2.width, info2.height) != (info.width, info.height):
        raise BadInputError(
            f"second raster {path} has no CRS and a different size from the first raster"
        )
    return info2


def _check_feature_tile_options(params: ExportChipsParameters, traits: FormatTraits) -> None:
    """blacken_around_feature and crop_mode shape the one-feature chips of Labeled_Tiles and
    Imagenet (reference §4.1); elsewhere they would be silently ignored, so say so."""
    asked = [
        f"{name} {value}"
        for name, value, default in (
            ("blacken_around_feature", params.blacken_around_feature, "NO_BLACKEN"),
            ("crop_mode", params.crop_mode, "FIXED_SIZE"),
        )
        if value != default
    ]
    if asked and not traits.per_feature_tiles:
        raise BadInputError(
            f"{' and '.join(asked)} apply to Labeled_Tiles and Imagenet only, not {traits.name}",
            hint="use --format Labeled_Tiles or Imagenet, or drop the option",
        )


def _instances(
    path: Path | None, info: RasterInfo, params: ExportChipsParameters, traits: FormatTraits
) -> LoadedFeatures | None:
    """Panoptic_Segmentation's instance features (in_instance_data); no other format uses them."""
    if traits.labels != "panoptic":
        if path is not None:
            raise BadInputError(
                f"instance data is used only with Panoptic_Segmentation, not {traits.name}",
                hint="drop --instance-data",
            )
        return None
    if path is None:
        raise BadInputError(
            "Panoptic_Segmentation needs instance features",
            hint="pass --instance-data; its masks go to labels2/<class>/",
        )
    if not is_vector(path):
        raise BadInputError(f"instance data {path} is not a vector dataset")
    return load_features(path, info, params.instance_class_value_field)


def _place(
    loaded: LoadedFeatures, items: list[_Item], params: ExportChipsParameters
) -> list[Features]:
    """The features on each raster of the export. One raster takes them all, and they must
    meet it; each image of a folder takes those near it (within two tiles: enough for chips
    padded past its edges or rotated), and only all of them missing is an error."""
    if len(items) == 1:
        return [place_features(loaded, items[0].info, params.buffer_radius)]
    near = 2 * max(params.tile_size_x, params.tile_size_y or params.tile_size_x)
    placed = [
        place_features(loaded, item.info, params.buffer_radius, require_overlap=False, near=near)
        for item in items
    ]
    if not any(overlaps(f.geoms, item.info) for f, item in zip(placed, items, strict=True)):
        raise BadInputError(f"features of {loaded.path} do not overlap any raster of the folder")
    return placed


def _classes(values: list[int], traits: FormatTraits) -> dict[int, str]:
    if traits.labels in ("raster", "masks", "panoptic") and any(v < 1 for v in values):
        raise BadInputError(
            f"class values must be 1 or more for {traits.name} (0 is NoData/background); "
            f"found {min(values)}"
        )
    return {v: str(v) for v in sorted(values)}


def _raster_class_values(path: str, info: RasterInfo) -> set[int]:
    """Distinct non-zero class values of a classified raster over `info`'s grid, read block by
    block (none when it holds no class pixel there)."""
    found: set[int] = set()
    with rasterio.open(path) as raw:
        if raw.count != 1 or not np.issubdtype(np.dtype(raw.dtypes[0]), np.integer):
            raise BadInputError(f"classified raster {path} must have one integer band")
    src = open_on_grid(path, info)
    try:
        for _, window in src.block_windows(1):
            data = src.read(1, window=window)
            if src.nodata is not None:
                data = data[data != src.nodata]
            found.update(int(v) for v in np.unique(data) if v != 0)
    finally:
        src.close()
    return found


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


@dataclass
class _Item:
    """One raster of the export with what was read for it: features and masks in its pixel
    space, and its chips, numbered after those of the items before it."""

    info: RasterInfo
    features: Features | None = None
    instances: Features | None = None
    mask: shapely.Geometry | None = None
    plan: list[PlanItem] = field(default_factory=list)


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
        if instance_data is not None:
            raise BadInputError(
                "instance data is used only with Panoptic_Segmentation, not CycleGAN",
                hint="drop --instance-data",
            )
        return _export_unpaired(raster, labels, out, params, progress, raster2, mask_polygons)
    sources = list_rasters(raster)
    if raster2 is not None and len(sources.rasters) > 1:
        raise BadInputError(
            f"a second raster pairs with one raster, and {raster} is a folder of "
            f"{len(sources.rasters)}",
            hint="pass one raster as --raster",
        )
    inputs = Inputs(raster, sources, labels, raster2, mask_polygons, instance_data)
    with tempfile.TemporaryDirectory(prefix="dlpk-mosaic-") as scratch:
        rasters = sources.rasters
        if len(rasters) > 1 and params.processing_mode == "PROCESS_AS_MOSAICKED_IMAGE":
            rasters = [open_raster_info(write_mosaic(rasters, Path(scratch) / "mosaic.vrt"))]
        return _export(rasters, inputs, out, params, progress, metadata_mode)


@dataclass(frozen=True)
class Inputs:
    """The export's inputs as the user named them."""

    raster: Path
    sources: RasterSet
    labels: Path | None
    raster2: Path | None
    mask_polygons: Path | None
    instance_data: Path | None

    def signature(self) -> dict[str, Any]:
        """What identifies the inputs across runs and backends (a resume must match)."""
        raster: Any = _identity(self.raster)
        if self.sources.folder:
            items = [_identity(path) for path in self.sources.paths]
            raster = {"name": self.raster.name, "items": items}
        return {
            "raster": raster,
            "labels": _identity(self.labels) if self.labels else None,
            "raster2": _identity(self.raster2) if self.raster2 else None,
            "mask_polygons": _identity(self.mask_polygons) if self.mask_polygons else None,
            "instance_data": _identity(self.instance_data) if self.instance_data else None,
        }


def _export(
    rasters: list[RasterInfo],
    inputs: Inputs,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress,
    metadata_mode: str | None,
) -> ExportReport:
    t0 = time.monotonic()
    traits = FORMATS[params.metadata_format]
    tile_y = params.tile_size_y or params.tile_size_x
    labels = inputs.labels
    items = [_Item(each) for each in rasters]
    check_items(rasters)
    for each in rasters:
        check_chip_format(each, params.image_chip_format)
    info = rasters[0]
    several = len(items) > 1
    _check_feature_tile_options(params, traits)
    info2 = _second_raster(inputs.raster2, info, params) if inputs.raster2 is not None else None
    small: list[str] = []
    if not params.pad_edges:
        fitting = [
            i for i in items if params.tile_size_x <= i.info.width and tile_y <= i.info.height
        ]
        if not fitting:
            smallest = min(rasters, key=lambda i: i.width * i.height)
            raise BadInputError(
                f"tile {params.tile_size_x}x{tile_y} is larger than the raster"
                + ("s" if several else "")
                + f" ({smallest.width}x{smallest.height})"
            )
        small = [Path(i.info.path).name for i in items if all(i is not f for f in fitting)]
        items = fitting  # smaller items of a folder give no chip, as their tiles would not fit

    label_raster: str | None = None
    if labels is None:
        if traits.needs_class_data:
            raise BadInputError(f"{traits.name} needs class data (--labels)")
        values: list[int] = []
    elif not labels.exists():
        raise BadInputError(f"labels not found: {labels}")
    elif is_vector(labels):
        loaded = load_features(labels, info, params.class_value_field, params.class_data_layer)
        for item, placed in zip(items, _place(loaded, items, params), strict=True):
            item.features = placed
        values = sorted({int(v) for v in loaded.values})
    else:
        if traits.labels not in ("raster", "panoptic", "none"):
            raise BadInputError(
                f"{traits.name} needs vector features; {labels} is not a vector dataset"
            )
        try:
            with rasterio.open(labels):
                pass
        except rasterio.errors.RasterioIOError:
            raise BadInputError(f"cannot read labels {labels} as features or raster") from None
        label_raster = str(labels)
        found = {v for item in items for v in _raster_class_values(label_raster, item.info)}
        if not found:
            raise BadInputError(f"classified raster {labels} has no class pixels over the raster")
        values = sorted(found)
    if traits.labels == "none":
        label_raster, values = None, []
        for item in items:
            item.features = None
    classes = _classes(values, traits)
    if traits.labels == "masks":
        count = max(len(item.features.values) if item.features else 0 for item in items)
        label_dtype = "uint8" if count < 256 else "uint16"
    else:
        label_dtype = "uint8" if not values or max(values) < 256 else "uint16"

    instance_classes: dict[int, str] = {}
    loaded_instances = _instances(inputs.instance_data, info, params, traits)
    if loaded_instances is not None:
        for item, placed in zip(items, _place(loaded_instances, items, params), strict=True):
            item.instances = placed
        instance_values = sorted({int(v) for v in loaded_instances.values})
        instance_classes = _classes(instance_values, traits) if instance_values else {}
    most_instances = max(len(i.instances.values) if i.instances else 0 for i in items)
    if inputs.mask_polygons is not None:
        loaded_mask = load_mask(inputs.mask_polygons, info)
        for item in items:
            item.mask = place_mask(loaded_mask, item.info, require_overlap=not several)

    signature = {
        **inputs.signature(),
        **params.model_dump(exclude={"workers", "resume", "overwrite"}),
    }
    _prepare_output(out, signature, params.resume, params.overwrite)
    t_plan = time.monotonic()
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
    workers = params.workers or 1

    t_chips = time.monotonic()
    report = ExportReport()
    bands = BandMoments.empty(info.count)
    bands2 = BandMoments.empty(info2.count) if info2 is not None else None
    summary = ClassSummary(values=list(classes))
    map_lines: list[str] = []
    written = done = 0
    progress("chips", 0, numbered)
    jobs: list[tuple[ChipConfig, list[PlanItem]]] = []
    for item in items:
        config = ChipConfig(
            raster=item.info,
            out_dir=str(out),
            metadata_format=params.metadata_format,
            chip_format=params.image_chip_format,
            class_names=classes,
            label_dtype=label_dtype,
            features=item.features,
            label_raster=label_raster,
            raster2=info2,
            min_overlap=params.min_polygon_overlap_ratio,
            resume=params.resume,
            pixel_space=params.reference_system == "PIXEL_SPACE",
            blacken=params.blacken_around_feature == "BLACKEN_AROUND_FEATURE",
            instances=item.instances,
            instance_class_names=instance_classes,
            instance_dtype="uint8" if most_instances < 256 else "uint16",
            # one worker may decode a strip's blocks on every core; several share the cores
            gdal_threads=max(1, usable_cores() // workers),
        )
        jobs.append((config, item.plan))
    groups: list[GroupResult] = []
    for group in make_chips(jobs, workers):
        groups.append(group)
        done += len(group.chips)
        progress("chips", done, numbered)
    # merged in plan order, so the statistics do not depend on the workers or the schedule
    groups.sort(key=lambda g: g.chips[0].index)
    for group in groups:
        bands.merge(group.bands)
        if bands2 is not None and group.bands2 is not None:
            bands2.merge(group.bands2)
        for result in group.chips:
            if traits.labels in ("raster", "panoptic"):
                summary.add_pixels(result.class_pixels)
            elif traits.labels != "none":
                summary.add_features(result.features)
            map_lines.append(result.map_line)
            report.files.extend(result.files)
            written += result.written

    t_root = time.monotonic()
    export = rootfiles.ExportSummary(
        raster=info,
        metadata_format=metadata_mode or params.metadata_format,
        tile_x=params.tile_size_x,
        tile_y=tile_y,
        classes=classes,
        bands=bands,
        summary=summary,
        num_tiles=numbered,
        raster2=info2,
        bands2=bands2,
        reference_system=params.reference_system,
        variable_size=params.crop_mode == "BOUNDING_BOX",
        blacken=params.blacken_around_feature == "BLACKEN_AROUND_FEATURE",
        instance_classes=instance_classes,
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
        "chips": numbered,
        "chips_written": written,
        "chips_reused": numbered - written,
        "classes": len(classes),
    }
    if inputs.sources.folder:
        report.counts["rasters"] = len(inputs.sources.rasters)
        if params.processing_mode == "PROCESS_ITEMS_SEPARATELY":  # a mosaic is one item
            report.counts["rasters_with_chips"] = sum(1 for item in items if item.plan)
        report.counts["files_not_rasters"] = len(inputs.sources.skipped)
        report.warnings += _folder_warnings(inputs, small)
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


def _folder_warnings(inputs: Inputs, small: list[str]) -> list[str]:
    """Files of the folder that gave no chip for a reason the user may not expect."""
    warnings = skipped_warning(inputs.raster, inputs.sources)
    if small:
        names = ", ".join(small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
        warnings.append(
            f"{len(small)} raster(s) in {inputs.raster} are smaller than a tile: {names}"
        )
    return warnings


def _export_unpaired(
    raster: Path,
    labels: Path | None,
    out: Path,
    params: ExportChipsParameters,
    progress: Progress,
    raster2: Path | None,
    mask_polygons: Path | None,
) -> ExportReport:
    """CycleGAN (reference §4.3): the chips of each raster in a folder of its own, A/ for the
    raster and B/ for the second one, each with the root files arcgis.learn reads. The images
    are unpaired, so the rasters need not share a grid or an extent."""
    if raster2 is None:
        raise BadInputError(
            "CycleGAN needs a second raster", hint="pass --raster2; its chips go to B/"
        )
    if labels is not None:
        raise BadInputError("CycleGAN takes no class data", hint="drop --labels")
    signature = {
        "raster": _identity(raster),
        "raster2": _identity(raster2),
        "mask_polygons": _identity(mask_polygons) if mask_polygons else None,
        **params.model_dump(exclude={"workers", "resume", "overwrite"}),
    }
    _prepare_output(out, signature, params.resume, params.overwrite)
    half = params.model_copy(update={"metadata_format": "Export_Tiles", "overwrite": False})
    report = ExportReport()
    for name, source in zip(UNPAIRED, (raster, raster2), strict=True):
        part = export_chips(
            source,
            None,
            out / name,
            half,
            progress,
            mask_polygons=mask_polygons,
            metadata_mode="CycleGAN",
        )
        report.files += [(f"{name}/{path}", size, sha) for path, size, sha in part.files]
        for key, value in part.counts.items():
            if key != "classes":
                report.counts[key] = report.counts.get(key, 0) + value
                report.counts[f"{key}_{name}"] = value
        for key, seconds in part.timings.items():
            report.timings[key] = report.timings.get(key, 0.0) + seconds
    report.parameters = params.model_dump()
    return report


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
