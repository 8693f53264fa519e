"""`dlpk export-chips`: ArcGIS's Export Training Data For Deep Learning, from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

from dlpk.cli.arcgis_names import KeywordFlag, option_strings
from dlpk.cli.options import add_backend_options, backend_from, print_done
from dlpk.remote import raster_location
from dlpk.spec.choices import ChipFormat, CropMode, MetadataFormat, ProcessingMode, ReferenceSystem


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export-chips",
        help="write training chips, labels and metadata as Export Training Data does",
        description="Export image chips and labels in an Esri training-data layout. ArcGIS's "
        "parameter names (--in-raster, --tile-size-x, --metadata-format, ...) are accepted "
        "beside dlpk's, with ArcGIS's values (docs/arcgis-names.md).",
    )

    def names(*spellings: str) -> tuple[str, ...]:
        return option_strings("export-chips", *spellings)

    p.add_argument(
        *names("--raster"),
        required=True,
        type=raster_location,
        help="input raster (any GDAL format, a URL or /vsis3/... path too), or a folder of images "
        "(see --processing-mode)",
    )
    p.add_argument(
        *names("--labels"), type=Path, help="class data: vector features or a classified raster"
    )
    p.add_argument(*names("--class-field"), help="class value field (default: value or classvalue)")
    p.add_argument(
        "--class-name-field",
        help="class name field, for the classes' names in the metadata (default: classname, "
        "as Esri's Training Samples Manager writes it; else the values)",
    )
    p.add_argument("--labels-layer", help="layer of a multi-layer --labels dataset (GeoPackage)")
    p.add_argument(
        *names("--instance-data"),
        type=Path,
        help="Panoptic_Segmentation: instance features, masks in labels2/<class>/",
    )
    p.add_argument(
        *names("--instance-class-field"),
        help="class value field of --instance-data (default: value or classvalue)",
    )
    p.add_argument(
        *names("--raster2"),
        type=Path,
        help="second raster: chips in images2/ (Classified_Tiles, Export_Tiles), or in B/ "
        "(CycleGAN)",
    )
    p.add_argument(
        *names("--mask-polygons"),
        type=Path,
        help="only chips lying completely inside these polygons",
    )
    p.add_argument(
        *names("--format"),
        dest="metadata_format",
        default="PASCAL_VOC_rectangles",
        choices=get_args(MetadataFormat),
        help="metadata format (default: %(default)s)",
    )
    p.add_argument(*names("--tile-size"), type=int, default=256, help="tile width in pixels")
    p.add_argument(*names("--tile-size-y"), type=int, help="tile height (default: --tile-size)")
    p.add_argument(*names("--stride"), type=int, default=128, help="horizontal stride in pixels")
    p.add_argument(*names("--stride-y"), type=int, help="vertical stride (default: --stride)")
    p.add_argument(*names("--chip-format"), default="TIFF", choices=get_args(ChipFormat))
    p.add_argument("--all-tiles", action="store_true", help="also export tiles without features")
    p.add_argument(
        "--output-nofeature-tiles",
        dest="all_tiles",
        action=KeywordFlag,
        keywords={"ALL_TILES": True, "ONLY_TILES_WITH_FEATURES": False},
        help="ArcGIS's form of --all-tiles",
    )
    p.add_argument(
        *names("--buffer-radius"), type=float, default=0.0, help="buffer for point labels"
    )
    p.add_argument(
        *names("--min-overlap"), type=float, default=0.0, help="min polygon overlap ratio, 0-1"
    )
    p.add_argument(
        *names("--rotation-angle"),
        type=float,
        default=0.0,
        help="also write chips rotated by every multiple of this angle, degrees (default: 0)",
    )
    p.add_argument(
        *names("--reference-system"),
        default="MAP_SPACE",
        choices=get_args(ReferenceSystem),
        help="georeference chips in map or pixel space (default: %(default)s)",
    )
    p.add_argument(
        "--blacken-around-feature",
        action=KeywordFlag,
        nargs="?",
        const="BLACKEN_AROUND_FEATURE",
        keywords={"BLACKEN_AROUND_FEATURE": True, "NO_BLACKEN": False},
        help="Labeled_Tiles, Imagenet: set the pixels outside each chip's feature to 0 "
        "(ArcGIS's keywords are accepted after it)",
    )
    p.add_argument(
        *names("--crop-mode"),
        default="FIXED_SIZE",
        choices=get_args(CropMode),
        help="Labeled_Tiles, Imagenet: chips of the tile size centred on each feature, or cut "
        "to each feature's bounding box (default: %(default)s)",
    )
    p.add_argument(
        *names("--processing-mode"),
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
    p.add_argument(*names("-o", "--out"), required=True, type=Path, help="output folder")
    add_backend_options(p)
    p.set_defaults(func=cmd_export_chips)


def cmd_export_chips(args: argparse.Namespace) -> int:
    from dlpk.api import export_training_data

    result = export_training_data(
        args.raster,
        args.out,
        labels=args.labels,
        metadata_format=args.metadata_format,
        tile_size=(args.tile_size, args.tile_size_y or args.tile_size),
        stride=(args.stride, args.stride_y or args.stride),
        image_chip_format=args.chip_format,
        output_nofeature_tiles="ALL_TILES" if args.all_tiles else "ONLY_TILES_WITH_FEATURES",
        class_value_field=args.class_field,
        class_name_field=args.class_name_field,
        class_data_layer=args.labels_layer,
        buffer_radius=args.buffer_radius,
        mask_polygons=args.mask_polygons,
        rotation_angle=args.rotation_angle,
        reference_system=args.reference_system,
        processing_mode=args.processing_mode,
        blacken_around_feature=args.blacken_around_feature,
        crop_mode=args.crop_mode,
        raster2=args.raster2,
        instance_data=args.instance_data,
        instance_class_value_field=args.instance_class_field,
        min_polygon_overlap_ratio=args.min_overlap,
        pad_edges=args.pad_edges,
        workers=args.workers,
        resume=args.resume,
        overwrite=args.overwrite,
        backend=backend_from(args),
        progress=args.progress,
    )
    print_done(result)
    return 0
