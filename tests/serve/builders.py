"""Tiny packages, rasters and layers for the service's tests: one ONNX model per inference
task (ONNX: the runner starts fast), built from fixed seeds."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely

from tests import rasters
from tests.inference_models import (
    conv_stack,
    emd,
    make_detector,
    map_point,
    package,
    save_onnx,
    save_onnx_detector,
    seeded_rgb,
    write_raster,
)

DETECTOR_TILE, SQUARE = 32, 6


@dataclass(frozen=True)
class Data:
    """Everything the service's tests submit: packages and inputs, all under `root`."""

    root: Path
    pixels: Path  # ONNX pixel classifier
    detector: Path
    classifier: Path  # object classifier: bright chips Water, dark ones Forest
    broken: Path  # lint errors: refused
    scene: Path  # small RGB raster
    big_scene: Path  # enough tiles for a job to run a few seconds
    squares: Path  # one band, two 6 x 6 squares for the detector
    halves: Path  # bright left, dark right, for the object classifier
    points: Path  # two points, one on each half
    labels: Path  # polygons for export
    export_raster: Path
    items: Path  # a folder of two images


def build(root: Path) -> Data:
    import torch

    root.mkdir(parents=True, exist_ok=True)
    pixels_dir = root / "pixels"
    pixels_dir.mkdir()
    save_onnx(conv_stack(3, 3), pixels_dir / "model.onnx", 3)
    pixels = package(pixels_dir, emd("model.onnx", "ONNX", "PixelClassifier", ModelName="Pixels"))

    detector_dir = root / "detector"
    detector_dir.mkdir()
    save_onnx_detector(make_detector(), detector_dir / "model.onnx", DETECTOR_TILE)
    document = emd("model.onnx", "ONNX", "ObjectDetector", ExtractBands=[0])
    document.update(ImageHeight=DETECTOR_TILE, ImageWidth=DETECTOR_TILE, ModelName="Squares")
    detector = package(detector_dir, document)

    classifier_dir = root / "classifier"
    classifier_dir.mkdir()
    torch.onnx.export(
        _brightness(),
        (torch.zeros(1, 3, 16, 16),),
        str(classifier_dir / "model.onnx"),
        input_names=["image"],
        output_names=["scores"],
        dynamic_axes={"image": {0: "n"}, "scores": {0: "n"}},
        dynamo=False,
    )
    document = emd("model.onnx", "ONNX", "PixelClassifier", ImageHeight=16, ImageWidth=16)
    document.update(
        ModelConfiguration="ObjectClassifier", ModelType="ObjectClassification", ModelName="Roofs"
    )
    classifier = package(classifier_dir, document)

    broken = root / "broken.dlpk"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("broken.emd", '{"Framework": "ONNX", "ModelType": "ObjectionDetection"}')

    squares = np.zeros((1, 64, 64), dtype=np.float32)
    squares[0, 5 : 5 + SQUARE, 5 : 5 + SQUARE] = 1.0
    squares[0, 40 : 40 + SQUARE, 30 : 30 + SQUARE] = 2.0
    halves = np.full((3, 60, 80), 10, dtype=np.uint8)
    halves[:, :, :40] = 250
    points = root / "points.gpkg"
    pyogrio.raw.write(
        str(points),
        geometry=np.asarray(
            shapely.to_wkb([shapely.Point(map_point(30, 10)), shapely.Point(map_point(30, 70))]),
            dtype=object,
        ),
        field_data=[np.asarray(["bright", "dark"], dtype=object)],
        fields=["name"],
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:32633",
    )
    export_data = np.random.default_rng(3).integers(0, 256, (3, 96, 128), dtype=np.uint8)
    boxes = [rasters.pixel_box(10, 10, 30, 20), rasters.pixel_box(70, 50, 25, 25)]
    items = root / "items"
    items.mkdir()
    for number in (1, 2):
        write_raster(items / f"item{number}.tif", seeded_rgb(20, 30, seed=number))
    return Data(
        root=root,
        pixels=pixels,
        detector=detector,
        classifier=classifier,
        broken=broken,
        scene=write_raster(root / "scene.tif", seeded_rgb(64, 96)),
        big_scene=write_raster(root / "big.tif", seeded_rgb(1500, 1500, seed=5)),
        squares=write_raster(root / "squares.tif", squares),
        halves=write_raster(root / "halves.tif", halves),
        points=points,
        labels=rasters.write_features(root / "labels.gpkg", boxes, [1, 2]),
        export_raster=rasters.write_raster(root / "export.tif", export_data),
        items=items,
    )


def _brightness() -> Any:
    import torch

    class Brightness(torch.nn.Module):
        """Scores [m, -m] with m the chip's mean: bright chips are class 1, dark class 2."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([m, -m], dim=1)

    return Brightness()
