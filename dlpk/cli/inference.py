"""`dlpk classify-pixels`, `detect-objects`, `classify-objects` and the `configurations`
listing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, get_args

from dlpk.cli.arcgis_names import option_strings
from dlpk.cli.options import add_backend_options, backend_from, echo, print_done
from dlpk.errors import UsageError
from dlpk.spec.choices import ProcessingMode

VALUE_TABLE = (
    'ArcGIS\'s value table: "name value" pairs separated by ";", e.g. "padding 32;batch_size 4"'
)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--arg {text!r}: expected name=value, e.g. padding=64")
    return name.strip(), value.strip()


def _unquote(value: str) -> str:
    """A value table's value, without the quotes ArcGIS puts around one holding spaces."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _value_table(text: str) -> list[tuple[str, str]]:
    """`padding 32;batch_size 4` (ArcGIS's form of arguments) as (name, value) pairs; a JSON
    object of names and values, as ArcGIS's REST API passes them, is taken too."""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--arguments {text!r}: not a JSON object ({exc.msg})") from None
        if not isinstance(document, dict):
            raise UsageError(f"--arguments {text!r}: not a JSON object of names and values")
        return [(str(name), str(value)) for name, value in document.items()]
    pairs = []
    for entry in _entries(text):
        words = entry.split(None, 1)
        if "=" in words[0]:
            raise UsageError(f"--arguments {entry!r}: expected {VALUE_TABLE}", f"or --arg {entry}")
        if len(words) < 2:
            raise UsageError(f"--arguments {entry!r}: expected {VALUE_TABLE}")
        pairs.append((words[0], _unquote(words[1].strip())))
    return pairs


def _entries(text: str) -> list[str]:
    """A value table's rows: split at each `;` that is not inside quotes, blanks dropped."""
    rows, row, quote = [], "", ""
    for char in text:
        if char == ";" and not quote:
            rows.append(row)
            row = ""
            continue
        if char in "'\"" and (not quote or char == quote):
            quote = "" if quote else char
        row += char
    return [entry.strip() for entry in [*rows, row] if entry.strip()]


def parse_pairs(entries: list[tuple[str, str]] | None) -> dict[str, str]:
    """`--arg name=value` and `--arguments "name value;..."` options, in the order given, as
    one dict; a name given again wins over the earlier."""
    arguments: dict[str, str] = {}
    for form, text in entries or []:
        for name, value in [_pair(text)] if form == "--arg" else _value_table(text):
            arguments[name] = value
    return arguments


def _tagged(form: str) -> Any:
    """An argparse type that keeps which option a value came with, so --arg and --arguments
    share one list and keep the command line's order."""
    return lambda text: (form, text)


def _run(task: str, args: argparse.Namespace) -> int:
    """The command's options as one API call; the API checks, runs and delivers."""
    from dlpk import api

    options: dict[str, Any] = {
        "model_arguments": parse_pairs(args.model_arguments),
        "extent": tuple(args.extent) if getattr(args, "extent", None) is not None else None,
        "aoi": getattr(args, "aoi", None),
        "overwrite": args.overwrite,
        "trust_code": args.trust_code,
        "device": args.device,
        "backend": backend_from(args),
        "progress": args.progress,
    }
    if task == "classify_pixels":
        options["processing_mode"] = args.processing_mode
        options["resume"] = args.resume
    if task == "classify_objects":
        options["features"] = args.features
        options["features_layer"] = args.features_layer
    run = {
        "classify_pixels": api.classify_pixels,
        "detect_objects": api.detect_objects,
        "classify_objects": api.classify_objects,
    }[task]
    result = run(args.model, args.raster, args.output, **options)
    print_done(result)
    echo(f"wrote {args.output}")
    return 0


def cmd_classify_pixels(args: argparse.Namespace) -> int:
    return _run("classify_pixels", args)


def cmd_detect_objects(args: argparse.Namespace) -> int:
    return _run("detect_objects", args)


def cmd_classify_objects(args: argparse.Namespace) -> int:
    return _run("classify_objects", args)


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


def _common(parser: argparse.ArgumentParser, command: str, output_help: str) -> None:
    def names(*spellings: str) -> tuple[str, ...]:
        return option_strings(command, *spellings)

    parser.add_argument(*names("--model"), required=True, metavar="MODEL", help=".dlpk or .emd")
    parser.add_argument(
        *names("--raster"),
        required=True,
        metavar="IMAGE",
        help="input raster (a URL or /vsis3/... path too, read by GDAL), or a folder of images "
        "on one grid, read as one mosaic (by classify-objects without --features: each image "
        "one object)",
    )
    parser.add_argument(*names("-o", "--output"), required=True, metavar="OUT", help=output_help)
    parser.add_argument(
        "--arg",
        dest="model_arguments",
        action="append",
        type=_tagged("--arg"),
        metavar="NAME=VALUE",
        help="model argument as in ArcGIS (padding, batch_size, tile_size, ...); repeatable",
    )
    parser.add_argument(
        "--arguments",
        "--model-arguments",
        dest="model_arguments",
        action="append",
        type=_tagged("--arguments"),
        metavar='"NAME VALUE;..."',
        help=f"model arguments as {VALUE_TABLE}; with --arg, a name given later on the "
        "command line wins",
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
    epilog = (
        "ArcGIS's parameter names (--in-raster, --in-model-definition, --arguments, ...) are "
        "accepted beside dlpk's (docs/arcgis-names.md). Exit status: 0 done, 1 lint errors, "
        "2 usage, 3 bad input, 4 model error."
    )
    pixels = subparsers.add_parser(
        "classify-pixels",
        help="classify every pixel of a raster with a pixel classifier",
        description="Write a tiled deflate COG of class Values with a colour map and a raster "
        "attribute table (.aux.xml). Arguments: padding, batch_size, tile_size, edge_fill "
        "(zero|reflect), predict_background, test_time_augmentation (True|False), merge_policy "
        "(mean|max|min).",
        epilog=epilog,
    )
    _common(
        pixels, "classify-pixels", "output GeoTIFF (.tif); a folder with PROCESS_ITEMS_SEPARATELY"
    )
    _area_options(pixels)
    pixels.add_argument(
        *option_strings("classify-pixels", "--processing-mode"),
        default="PROCESS_AS_MOSAICKED_IMAGE",
        choices=get_args(ProcessingMode),
        help="a folder of images as --raster: one mosaic classified to one GeoTIFF, or each "
        "image on its own to <name>.tif in the -o folder (default: %(default)s)",
    )
    pixels.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run (killed, Ctrl-C) of the same output, model, raster "
        "and arguments from the tiles (--backend ray: the shares) it had finished, kept "
        "beside the output",
    )
    pixels.set_defaults(func=cmd_classify_pixels)

    detect = subparsers.add_parser(
        "detect-objects",
        help="detect objects in a raster with an object detector",
        description="Write polygons with Class, ClassValue and Confidence (0-100; 0-1 for "
        "TensorFlow ObjectDetectionAPI models, as ArcGIS writes them) fields; the format "
        "follows the extension (.gpkg, .geojson, .shp, .gdb). Arguments: padding, batch_size, "
        "tile_size, edge_fill, threshold (0-1; score_threshold is accepted for it), "
        "nms_overlap (0-1), nms_metric "
        "(iou|ios: intersection over union, or over the smaller box, which also merges a box "
        "inside a larger one), exclude_pad_detections, test_time_augmentation (True|False: "
        "detections of each tile's flips and quarter turns, mapped back, merged by NMS), "
        "tta_scales (comma list, default 1: each tile also resized by these factors, e.g. "
        "0.9,1,1.1, boxes scaled back and merged likewise).",
        epilog=epilog,
    )
    _common(detect, "detect-objects", "output layer (.gpkg, .geojson, .shp or .gdb)")
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
    _common(objects, "classify-objects", "output layer (.gpkg, .geojson, .shp or .gdb)")
    objects.add_argument(
        *option_strings("classify-objects", "--features"),
        metavar="LAYER",
        help="points, lines or polygons (without: each image of --raster, a raster or a "
        "folder, is one object, its footprint written with an Image field)",
    )
    objects.add_argument(
        "--features-layer",
        metavar="NAME",
        help="the layer of --features to classify, when it holds several (a GeoPackage)",
    )
    _area_options(objects)
    objects.set_defaults(func=cmd_classify_objects)

    configurations = subparsers.add_parser(
        "configurations", help="list the runnable model configurations and their contracts"
    )
    configurations.add_argument("--format", choices=("text", "json"), default="text")
    configurations.set_defaults(func=cmd_configurations)
