"""Command-line wiring of the runner: `dlpk export-chips` and `dlpk run JOBDIR`.

`register` adds the subcommands to the main CLI's subparsers; each sets `func`, a callable
taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from dlpk.errors import BadInputError, DlpkError
from dlpk.runners.backends.choose import add_backend_options, run_prepared
from dlpk.runners.backends.launch import JobBuilder, PreparedJob
from dlpk.runners.images.commands import register as register_images
from dlpk.spec.job import (
    ChipFormat,
    CropMode,
    ExportChipsParameters,
    MetadataFormat,
    ProcessingMode,
    ProgressRecord,
    ReferenceSystem,
    Result,
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export-chips",
        help="write training chips, labels and metadata as Export Training Data does",
        description="Export image chips and labels in an Esri training-data layout.",
    )
    p.add_argument(
        "--raster",
        required=True,
        type=Path,
        help="input raster (any GDAL format), or a folder of images (see --processing-mode)",
    )
    p.add_argument("--labels", type=Path, help="class data: vector features or a classified raster")
    p.add_argument("--class-field", help="class value field (default: value or classvalue)")
    p.add_argument("--labels-layer", help="layer of a multi-layer --labels dataset (GeoPackage)")
    p.add_argument(
        "--instance-data",
        type=Path,
        help="Panoptic_Segmentation: instance features, masks in labels2/<class>/",
    )
    p.add_argument(
        "--instance-class-field",
        help="class value field of --instance-data (default: value or classvalue)",
    )
    p.add_argument(
        "--raster2",
        type=Path,
        help="second raster: chips in images2/ (Classified_Tiles, Export_Tiles), or in B/ "
        "(CycleGAN)",
    )
    p.add_argument(
        "--mask-polygons", type=Path, help="only chips lying completely inside these polygons"
    )
    p.add_argument(
        "--format",
        dest="metadata_format",
        default="PASCAL_VOC_rectangles",
        choices=get_args(MetadataFormat),
        help="metadata format (default: %(default)s)",
    )
    p.add_argument("--tile-size", type=int, default=256, help="tile width in pixels")
    p.add_argument("--tile-size-y", type=int, help="tile height (default: --tile-size)")
    p.add_argument("--stride", type=int, default=128, help="horizontal stride in pixels")
    p.add_argument("--stride-y", type=int, help="vertical stride (default: --stride)")
    p.add_argument("--chip-format", default="TIFF", choices=get_args(ChipFormat))
    p.add_argument("--all-tiles", action="store_true", help="also export tiles without features")
    p.add_argument("--buffer-radius", type=float, default=0.0, help="buffer for point labels")
    p.add_argument("--min-overlap", type=float, default=0.0, help="min polygon overlap ratio, 0-1")
    p.add_argument(
        "--rotation-angle",
        type=float,
        default=0.0,
        help="also write chips rotated by every multiple of this angle, degrees (default: 0)",
    )
    p.add_argument(
        "--reference-system",
        default="MAP_SPACE",
        choices=get_args(ReferenceSystem),
        help="georeference chips in map or pixel space (default: %(default)s)",
    )
    p.add_argument(
        "--blacken-around-feature",
        action="store_true",
        help="Labeled_Tiles, Imagenet: set the pixels outside each chip's feature to 0",
    )
    p.add_argument(
        "--crop-mode",
        default="FIXED_SIZE",
        choices=get_args(CropMode),
        help="Labeled_Tiles, Imagenet: chips of the tile size centred on each feature, or cut "
        "to each feature's bounding box (default: %(default)s)",
    )
    p.add_argument(
        "--processing-mode",
        default="PROCESS_AS_MOSAICKED_IMAGE",
        choices=get_args(ProcessingMode),
        help="a folder of images as --raster: one mosaic (images on one grid), or each image "
        "tiled on its own, chips numbered on (default: %(default)s)",
    )
    p.add_argument(
        "--pad-edges", action="store_true", help="pad edge tiles instead of shifting them"
    )
    p.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="finish an interrupted export")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    add_backend_options(p)
    p.set_defaults(func=cmd_export_chips)

    r = subparsers.add_parser("run", help="run a job directory (job.json)")
    r.add_argument("jobdir", type=Path)
    add_backend_options(r)
    r.set_defaults(func=cmd_run)

    register_images(subparsers)


@contextmanager
def _terminal_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A rich bar with ETA per stage on a terminal; silent otherwise.

    Redrawn from the caller's thread (no refresh thread), so the export may fork its workers.
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda stage, done, total: None
        return
    bars: dict[str, Any] = {}
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        auto_refresh=False,
    ) as rich_progress:
        last = [0.0]

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in bars:
                bars[stage] = rich_progress.add_task(stage, total=total)
            rich_progress.update(bars[stage], completed=done, total=total)
            now = time.monotonic()
            if now - last[0] >= 0.1 or done == total:
                last[0] = now
                rich_progress.refresh()

        yield update


def _fail(exc: DlpkError) -> int:
    print(f"dlpk: error: {exc}", file=sys.stderr)
    return exc.exit_code


def cmd_export_chips(args: argparse.Namespace) -> int:
    try:
        params = ExportChipsParameters(
            metadata_format=args.metadata_format,
            image_chip_format=args.chip_format,
            tile_size_x=args.tile_size,
            tile_size_y=args.tile_size_y,
            stride_x=args.stride,
            stride_y=args.stride_y,
            output_nofeature_tiles="ALL_TILES" if args.all_tiles else "ONLY_TILES_WITH_FEATURES",
            class_value_field=args.class_field,
            class_data_layer=args.labels_layer,
            instance_class_value_field=args.instance_class_field,
            rotation_angle=args.rotation_angle,
            reference_system=args.reference_system,
            buffer_radius=args.buffer_radius,
            min_polygon_overlap_ratio=args.min_overlap,
            blacken_around_feature=(
                "BLACKEN_AROUND_FEATURE" if args.blacken_around_feature else "NO_BLACKEN"
            ),
            crop_mode=args.crop_mode,
            processing_mode=args.processing_mode,
            pad_edges=args.pad_edges,
            workers=args.workers,
            resume=args.resume,
            overwrite=args.overwrite,
        )
    except ValueError as exc:
        print(f"dlpk: error: invalid option: {_first_error(exc)}", file=sys.stderr)
        return 2
    if not args.raster.exists():
        return _fail(BadInputError(f"raster not found: {args.raster}"))
    if args.labels is not None and not args.labels.exists():
        return _fail(BadInputError(f"class data not found: {args.labels}"))
    builder = JobBuilder("export_chips")
    builder.add_input("in_raster", args.raster)
    if args.labels is not None:
        builder.add_input("in_class_data", args.labels)
    for name, path in (
        ("in_raster2", args.raster2),
        ("in_mask_polygons", args.mask_polygons),
        ("in_instance_data", args.instance_data),
    ):
        if path is not None:
            if not path.exists():
                return _fail(BadInputError(f"{path}: no such file"))
            builder.add_input(name, path)
    builder.parameters = params.model_dump(exclude_defaults=True)
    builder.add_output_folder("out_folder", args.out, "out/chips")
    return run_and_report(builder.write(), args, None)


def run_and_report(prepared: PreparedJob, args: argparse.Namespace, framework: str | None) -> int:
    """Run a prepared job with the chosen backend; print its summary or its error."""
    succeeded = False
    try:
        with _terminal_progress() as progress:

            def relay(record: ProgressRecord) -> None:
                progress(record.stage, record.done, record.total)

            code = run_prepared(prepared, args, framework, relay)
        result_path = prepared.jobdir / "out" / "result.json"
        if not result_path.is_file():
            print(f"dlpk: error: the job stopped without a result (exit {code})", file=sys.stderr)
            return code or 1
        result = Result.model_validate_json(result_path.read_text(encoding="utf-8"))
        for warning in result.warnings:
            print(f"dlpk: warning: {prepared.host_paths(warning)}", file=sys.stderr)
        if result.error is not None:
            print(f"dlpk: error: {prepared.host_paths(result.error.message)}", file=sys.stderr)
            return code
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        total = result.timings.get("total", 0.0)
        print(f"done: {len(result.outputs)} files written; {counts} in {total:.1f} s")
        succeeded = code == 0
        return code
    except DlpkError as exc:
        return _fail(exc)
    finally:
        prepared.cleanup(succeeded)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def cmd_run(args: argparse.Namespace) -> int:
    jobdir: Path = args.jobdir.resolve()
    if not (jobdir / "job.json").is_file():
        print(f"dlpk: error: {jobdir / 'job.json'} not found", file=sys.stderr)
        return 2
    try:
        job = json.loads((jobdir / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"dlpk: error: {jobdir / 'job.json'} is not valid JSON ({exc})", file=sys.stderr)
        return 2
    (jobdir / "out").mkdir(exist_ok=True)
    prepared = PreparedJob(jobdir, job, owned=False)
    return run_and_report(prepared, args, _job_framework(jobdir, job))


def _job_framework(jobdir: Path, job: dict[str, Any]) -> str | None:
    """The Framework of the job's model (to pick the image), if it has one."""
    model = job.get("model") if isinstance(job, dict) else None
    if not isinstance(model, str):
        return None
    for emd in sorted((jobdir / model).glob("*.emd")):
        try:
            framework = json.loads(emd.read_text(encoding="utf-8")).get("Framework")
        except (OSError, ValueError, AttributeError):
            return None
        return framework if isinstance(framework, str) else None
    return None
