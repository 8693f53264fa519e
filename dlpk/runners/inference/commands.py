"""Command-line wiring for the inference tasks (`classify-pixels`, `detect-objects`,
`classify-objects`) and the `configurations` listing."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, get_args

from dlpk.errors import BadInputError, OutputExistsError, UsageError
from dlpk.runners.backends.choose import add_backend_options
from dlpk.runners.backends.launch import JobBuilder, deliver, staging_folder
from dlpk.runners.commands import run_and_report
from dlpk.runners.inference.common import check_output
from dlpk.runners.inference.prepare import prepared_model
from dlpk.runners.io.vectors import DRIVERS
from dlpk.spec.job import ProcessingMode


def parse_pairs(pairs: list[str] | None) -> dict[str, str]:
    """`--arg name=value` options as a dict; the last of a repeated name wins."""
    arguments: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--arg {pair!r}: expected name=value, e.g. padding=64")
        arguments[name.strip()] = value.strip()
    return arguments


def _run(task: str, args: argparse.Namespace, suffixes: tuple[str, ...]) -> int:
    """Lint the model, build the job, run it with the chosen backend, deliver the output.

    The output is written into a hidden staging folder beside its destination (the only place a
    container may write) and renamed into place once the job succeeded.
    """
    output = Path(args.output)
    each = getattr(args, "processing_mode", None) == "PROCESS_ITEMS_SEPARATELY"
    if each:
        _check_each(output, args)
    else:
        check_output(output, args.overwrite, suffixes)
    raster = Path(args.raster)
    if not raster.exists():
        raise BadInputError(f"raster not found: {raster}")
    with prepared_model(Path(args.model)) as model:
        builder = JobBuilder(task)
        builder.set_model(model.folder, model.emd_name)
        builder.add_input("in_raster", raster)
        if getattr(args, "features", None):
            features = Path(args.features)
            if not features.exists():
                raise BadInputError(f"features not found: {features}")
            builder.add_input("in_features", features)
        if getattr(args, "aoi", None):
            aoi = Path(args.aoi)
            if not aoi.exists():
                raise BadInputError(f"AOI not found: {aoi}")
            builder.add_input("in_aoi", aoi)
        extent = getattr(args, "extent", None)
        if extent is not None and not (extent[0] < extent[2] and extent[1] < extent[3]):
            raise UsageError(
                f"--extent {' '.join(map(str, extent))}: expected XMIN YMIN XMAX YMAX "
                "with XMIN < XMAX and YMIN < YMAX"
            )
        builder.parameters = {
            "arguments": parse_pairs(args.arg),
            "device": args.device,
            # a container is the sandbox: code and pickles run there without --trust-code
            "trust_code": bool(args.trust_code or args.backend == "docker"),
        }
        if extent is not None:
            builder.parameters["extent"] = extent
        if each:
            builder.parameters["processing_mode"] = "PROCESS_ITEMS_SEPARATELY"
        staging = staging_folder(output)
        try:
            key = "out_classified_folder" if each else OUTPUT_KEYS[task]
            builder.add_output(key, staging, output.name)
            code = run_and_report(builder.write(), args, model.framework)
            if code == 0:
                deliver(staging, output, args.overwrite)
                print(f"wrote {output}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return code


def _check_each(output: Path, args: argparse.Namespace) -> None:
    """PROCESS_ITEMS_SEPARATELY writes a folder of GeoTIFFs: refuse before any work what
    would fail or overwrite after it."""
    if getattr(args, "extent", None) is not None or getattr(args, "aoi", None):
        raise UsageError(
            "--extent and --aoi apply to one raster or one mosaic",
            hint="drop them, or use --processing-mode PROCESS_AS_MOSAICKED_IMAGE",
        )
    if output.exists() and not output.is_dir():
        raise UsageError(
            f"{output} is a file; PROCESS_ITEMS_SEPARATELY writes a folder of GeoTIFFs",
            hint="name a folder with -o",
        )
    if output.is_dir() and any(output.iterdir()) and not args.overwrite:
        raise OutputExistsError(
            f"{output} already exists and is not empty", "pass --overwrite to replace it"
        )


OUTPUT_KEYS = {
    "classify_pixels": "out_classified_raster",
    "detect_objects": "out_detected_objects",
    "classify_objects": "out_classified_objects",
}


def cmd_classify_pixels(args: argparse.Namespace) -> int:
    from dlpk.runners.inference.classify_pixels import SUFFIXES

    return _run("classify_pixels", args, SUFFIXES)


def cmd_detect_objects(args: argparse.Namespace) -> int:
    return _run("detect_objects", args, tuple(DRIVERS))


def cmd_classify_objects(args: argparse.Namespace) -> int:
    return _run("classify_objects", args, tuple(DRIVERS))


def cmd_configurations(args: argparse.Namespace) -> int:
    from dlpk.spec.configurations import (
        CONFIGURATIONS,
        FUNCTION_CONFIGURATIONS,
        INPUT_CONTRACT,
    )

    chosen = [*CONFIGURATIONS.values(), *FUNCTION_CONFIGURATIONS.values()]
    if args.format == "json":
        sys.stdout.write(json.dumps([c.as_dict() for c in chosen], indent=2) + "\n")
        return 0
    for c in chosen:
        print(f"{c.framework}/{c.name}  ({c.model_type}; dlpk {c.task}; {c.model_file})")
        if c.inputs != INPUT_CONTRACT:
            print(f"  inputs: {c.inputs}")
        print(f"  outputs: {c.outputs}")
    print(f"inputs, unless given above: {INPUT_CONTRACT}")
    return 0


def _common(parser: argparse.ArgumentParser, output_help: str) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL", help=".dlpk or .emd")
    parser.add_argument(
        "--raster",
        required=True,
        metavar="IMAGE",
        help="input raster, or a folder of images on one grid, read as one mosaic (by "
        "classify-objects without --features: each image one object)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help=output_help)
    parser.add_argument(
        "--arg",
        action="append",
        metavar="NAME=VALUE",
        help="model argument as in ArcGIS (padding, batch_size, tile_size, ...); repeatable",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow running code from the package outside a container: a Python raster "
        "function (InferenceFunction) or a fully pickled PyTorch module",
    )
    add_backend_options(parser)


def _area_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extent",
        nargs=4,
        type=float,
        metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
        help="process only this rectangle, in the raster's CRS",
    )
    parser.add_argument(
        "--aoi",
        metavar="FEATURES",
        help="process only inside these polygons (any OGR format, reprojected to the raster)",
    )


def register(subparsers: Any) -> None:
    """Add the inference commands to the main parser's subcommands."""
    epilog = "Exit status: 0 done, 1 lint errors, 2 usage, 3 bad input, 4 model error."
    pixels = subparsers.add_parser(
        "classify-pixels",
        help="classify every pixel of a raster with a pixel classifier",
        description="Write a tiled deflate COG of class Values with a colour map and a raster "
        "attribute table (.aux.xml). Arguments: padding, batch_size, tile_size, edge_fill "
        "(zero|reflect), predict_background, test_time_augmentation (True|False), merge_policy "
        "(mean|max|min).",
        epilog=epilog,
    )
    _common(pixels, "output GeoTIFF (.tif); a folder with PROCESS_ITEMS_SEPARATELY")
    _area_options(pixels)
    pixels.add_argument(
        "--processing-mode",
        default="PROCESS_AS_MOSAICKED_IMAGE",
        choices=get_args(ProcessingMode),
        help="a folder of images as --raster: one mosaic classified to one GeoTIFF, or each "
        "image on its own to <name>.tif in the -o folder (default: %(default)s)",
    )
    pixels.set_defaults(func=cmd_classify_pixels)

    detect = subparsers.add_parser(
        "detect-objects",
        help="detect objects in a raster with an object detector",
        description="Write polygons with Class, ClassValue and Confidence (0-100) fields; the "
        "format follows the extension (.gpkg, .geojson, .shp, .gdb). Arguments: padding, "
        "batch_size, tile_size, edge_fill, threshold (0-1), nms_overlap (0-1), nms_metric "
        "(iou|ios: intersection over union, or over the smaller box, which also merges a box "
        "inside a larger one), exclude_pad_detections, test_time_augmentation (True|False: "
        "detections of each tile's flips and quarter turns, mapped back, merged by NMS), "
        "tta_scales (comma list, default 1: each tile also resized by these factors, e.g. "
        "0.9,1,1.1, boxes scaled back and merged likewise).",
        epilog=epilog,
    )
    _common(detect, "output layer (.gpkg, .geojson, .shp or .gdb)")
    _area_options(detect)
    detect.set_defaults(func=cmd_detect_objects)

    objects = subparsers.add_parser(
        "classify-objects",
        help="label each feature of a layer from its chip of a raster",
        description="Write the input features with ClassLabel, ClassValue and Confidence "
        "(0-100) added; one ImageHeight x ImageWidth chip per feature, centred on it, or its "
        "bounding box resized to that size when the .emd has CropSizeFixed 0 "
        "(BlackenAroundFeature in the .emd masks pixels outside polygons). Arguments: "
        "batch_size; a package with an InferenceFunction takes its function's arguments and "
        "its vectorize() gives each feature's Label and Confidence (needs --trust-code "
        "outside a container). With --extent / --aoi only the features meeting the area are "
        "classified; the others are written too, with null ClassLabel, ClassValue and "
        "Confidence. Without --features each image of --raster (a raster or a folder) is one "
        "object: its footprint is written with Image, ClassLabel, ClassValue and Confidence.",
        epilog=epilog,
    )
    _common(objects, "output layer (.gpkg, .geojson, .shp or .gdb)")
    objects.add_argument(
        "--features",
        metavar="LAYER",
        help="points, lines or polygons (without: each image of --raster, a raster or a "
        "folder, is one object, its footprint written with an Image field)",
    )
    _area_options(objects)
    objects.set_defaults(func=cmd_classify_objects)

    configurations = subparsers.add_parser(
        "configurations", help="list the runnable model configurations and their contracts"
    )
    configurations.add_argument("--format", choices=("text", "json"), default="text")
    configurations.set_defaults(func=cmd_configurations)
