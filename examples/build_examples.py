"""Rebuild the bundled sample data: `python examples/build_examples.py [--out FOLDER]` (needs
`onnx`; FOLDER defaults to examples/, and the same inputs give the same bytes).

scene.tif    a small orthophoto-like 3-band scene (UTM 33N, 0.5 m) with fields, a road and
             roofs.
buildings.geojson
             its building footprints in WGS 84 (another CRS, so export-chips has to reproject
             them), with the fields Esri's Training Samples Manager writes: Classname
             ("Building") and Classvalue (1).
landcover-samples.geojson
             training samples of the scene's two land-cover classes, drawn as a user draws
             them in the Training Samples Manager: Vegetation (1) in the fields, Built-up (2)
             on the roofs and the road; WGS 84, Classname and Classvalue.
landcover/   a tiny ONNX pixel classifier trained here from those samples: the Classified_Tiles
             chips dlpk exports from them, normalised as the runner normalises 8-bit RGB
             (ImageNet statistics), fit by a 1x1 convolution (per-pixel softmax regression,
             one score per class) with full-batch gradient descent in numpy from zeros, so
             training is deterministic and takes about a second; the weights are rounded to 1e-4 so
             the bytes do not depend on the machine's floating point. Packed to landcover.dlpk
             by `dlpk pack`.
esri-doc-example.dlpk
             the .emd example from Esri's documentation, as users copy it: ModelType
             "ObjectionDetection" and a ModelFile the package does not hold.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
SIZE, CELL, ORIGIN = 384, 0.5, (500_000.0, 5_000_000.0)
CRS = "EPSG:32633"
#: (row, col, height, width) of each roof, in pixels.
ROOFS = [(40, 60, 30, 40), (50, 200, 40, 30), (150, 120, 35, 35), (260, 260, 45, 60),
         (300, 50, 30, 50)]  # fmt: skip
#: The Vegetation samples, (row, col, height, width) in pixels: fields away from roofs and road
#: (the Built-up samples are the roofs and two stretches of the road).
VEGETATION = [(0, 250, 30, 100), (200, 20, 50, 60), (330, 200, 40, 150), (120, 300, 40, 60),
              (0, 0, 30, 40)]  # fmt: skip
ROAD_SAMPLES = [(30, 90), (200, 330)]  # column spans of the road sampled
CLASSES = [(1, "Vegetation", [38, 115, 0]), (2, "Built-up", [230, 0, 0])]
STEPS, RATE = 300, 2.0


@dataclass(frozen=True)
class Scene:
    """The scene's pixels [3, rows, cols] and where its built-up pixels truly are."""

    image: np.ndarray
    built_up: np.ndarray


def road_mask(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.abs(rows - (0.6 * cols + 40)) < 6


def make_scene() -> Scene:
    """Smooth fields, a road and bright roofs: compressible, yet something to classify."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    red = 90 + 40 * np.sin(cols / 37.0) * np.cos(rows / 53.0)
    green = 120 + 50 * np.cos(cols / 41.0)
    blue = 70 + 20 * np.sin(rows / 29.0)
    image = np.stack([red, green, blue])
    road = road_mask(rows, cols)
    image[:, road] = 150
    built_up = road.copy()
    for index, (row, col, h, w) in enumerate(ROOFS):
        image[:, row : row + h, col : col + w] = [[[200 + index * 8]], [[90]], [[80]]]
        built_up[row : row + h, col : col + w] = True
    return Scene(np.clip(image, 0, 255).astype(np.uint8), built_up)


def _transform() -> Any:
    from rasterio.transform import from_origin

    return from_origin(*ORIGIN, CELL, CELL)


def write_scene(scene: Scene, out: Path) -> None:
    import rasterio

    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": 3, "dtype": "uint8",
        "crs": CRS, "transform": _transform(), "tiled": True, "blockxsize": 128,
        "blockysize": 128, "compress": "deflate", "predictor": 2,
    }  # fmt: skip
    with rasterio.open(out / "scene.tif", "w", **profile) as dataset:
        dataset.write(scene.image)


def _ring(pixels: list[tuple[float, float]]) -> list[list[float]]:
    """A closed ring of (col, row) pixel positions, in WGS 84 degrees."""
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    transform = _transform()
    ring = []
    for col, row in [*pixels, pixels[0]]:
        x, y = to_wgs84.transform(*(transform @ (col, row)))
        ring.append([round(x, 9), round(y, 9)])
    return ring


def _box(row: float, col: float, height: float, width: float) -> list[tuple[float, float]]:
    return [(col, row), (col + width, row), (col + width, row + height), (col, row + height)]


def _road(first: float, last: float) -> list[tuple[float, float]]:
    """The road between two columns, a little inside its edges (pixel centres |r - (0.6c + 40)|
    < 6 are road; the polygon's edges are pixel edges)."""
    centre = [(col, 0.6 * (col - 0.5) + 40 + 0.5) for col in (first, last)]
    return [(c, r - 5) for c, r in centre] + [(c, r + 5) for c, r in reversed(centre)]


def _feature(ring: list[list[float]], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _write_collection(path: Path, features: list[dict[str, Any]]) -> None:
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, indent=1) + "\n")


def write_buildings(out: Path) -> None:
    features = [
        _feature(_ring(_box(*roof)), {"id": n, "Classname": "Building", "Classvalue": 1})
        for n, roof in enumerate(ROOFS, 1)
    ]
    _write_collection(out / "buildings.geojson", features)


def write_samples(out: Path) -> Path:
    vegetation = {"Classname": "Vegetation", "Classvalue": 1}
    built_up = {"Classname": "Built-up", "Classvalue": 2}
    features = [_feature(_ring(_box(*box)), vegetation) for box in VEGETATION]
    features += [_feature(_ring(_box(*roof)), built_up) for roof in ROOFS]
    features += [_feature(_ring(_road(*span)), built_up) for span in ROAD_SAMPLES]
    path = out / "landcover-samples.geojson"
    _write_collection(path, features)
    return path


def emd_document() -> dict[str, Any]:
    return {
        "Framework": "ONNX",
        "ModelConfiguration": "PixelClassifier",
        "ModelType": "ImageClassification",
        "ModelFile": "landcover.onnx",
        "ModelName": "LandCover",
        "Description": "Sample land-cover classifier bundled with dlpk: a 1x1 convolution "
        "trained by examples/build_examples.py on the bundled scene's samples",
        "Version": "2026.11",
        "ImageHeight": 256,
        "ImageWidth": 256,
        "ExtractBands": [0, 1, 2],
        "ModelPadding": 16,
        "Classes": [{"Value": v, "Name": n, "Color": c} for v, n, c in CLASSES],
    }


def emd_text(document: dict[str, Any]) -> str:
    """The .emd as a person writes one: a key a line, Classes last with a class a line."""
    rest = {key: value for key, value in document.items() if key != "Classes"}
    lines = [f"    {json.dumps(key)}: {json.dumps(value)}," for key, value in rest.items()]
    classes = ",\n".join(f"        {json.dumps(entry)}" for entry in document["Classes"])
    return "\n".join(["{", *lines, '    "Classes": [', classes, "    ]", "}", ""])


def training_pixels(out: Path, samples: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labelled pixels of the Classified_Tiles chips dlpk exports from `samples`, as the
    runner gives them to the model: features [N, 3] and class indexes [N] (0 = Vegetation)."""
    import rasterio

    import dlpk
    from dlpk.runners.io.raster_source import normaliser_for
    from dlpk.spec.emd import EsriModelDefinition

    normalise = normaliser_for(
        EsriModelDefinition.model_validate(emd_document()), [0, 1, 2], "uint8"
    )
    with tempfile.TemporaryDirectory() as folder:
        chips = Path(folder) / "chips"
        dlpk.export_training_data(
            out / "scene.tif", chips, labels=samples, tile_size=128, stride=128, workers=1
        )
        features, classes = [], []
        for image in sorted((chips / "images").glob("*.tif")):
            with (
                rasterio.open(image) as pixels,
                rasterio.open(chips / "labels" / image.name) as labels,
            ):
                values = labels.read(1)
                normalised = normalise(pixels.read().astype(np.float32))
            labelled = values > 0
            features.append(normalised[:, labelled].T.astype(np.float64))
            classes.append(values[labelled].astype(np.int64) - 1)
    return np.concatenate(features), np.concatenate(classes)


def train(features: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch gradient descent from zeros, each class weighted by
    the inverse of its share (the samples hold more vegetation than built-up)."""
    count = len(CLASSES)
    weight, bias = np.zeros((count, features.shape[1])), np.zeros(count)
    onehot = np.eye(count)[classes]
    share = onehot.mean(axis=0)
    pixel_weight = (onehot / (count * share)).sum(axis=1, keepdims=True) / len(classes)
    for _ in range(STEPS):
        scores = features @ weight.T + bias
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - onehot) * pixel_weight
        weight -= RATE * error.T @ features
        bias -= RATE * error.sum(axis=0)
    return np.round(weight, 4).astype(np.float32), np.round(bias, 4).astype(np.float32)


def landcover_model(weight: np.ndarray, bias: np.ndarray) -> Any:
    """The trained 1x1 convolution: 3 normalised bands in, one score per class out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    count = len(CLASSES)
    node = helper.make_node("Conv", ["image", "weight", "bias"], ["scores"])
    graph = helper.make_graph(
        [node],
        "landcover",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "rows", "cols"])],
        [
            helper.make_tensor_value_info(
                "scores", TensorProto.FLOAT, ["batch", count, "rows", "cols"]
            )
        ],
        [
            numpy_helper.from_array(weight.reshape(count, 3, 1, 1), "weight"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_model(out: Path, samples: Path) -> float:
    """Train, write landcover/ and pack landcover.dlpk; the training pixels' accuracy."""
    import onnx

    from dlpk.packaging.pack import pack_folder

    features, classes = training_pixels(out, samples)
    weight, bias = train(features, classes)
    folder = out / "landcover"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "landcover.emd").write_text(emd_text(emd_document()))
    onnx.save(landcover_model(weight, bias), folder / "landcover.onnx")
    pack_folder(folder, out / "landcover.dlpk", overwrite=True)
    predicted = np.argmax(features @ weight.T.astype(np.float64) + bias, axis=1)
    return float((predicted == classes).mean())


def write_esri_doc_example(out: Path) -> None:
    from dlpk.packaging.pack import FIXED_DATE

    emd_path = out / "esri-doc-example" / "tree_detection.emd"
    if out != HERE:
        emd_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / "esri-doc-example" / "tree_detection.emd", emd_path)
    info = zipfile.ZipInfo("tree_detection.emd", date_time=FIXED_DATE)
    with zipfile.ZipFile(out / "esri-doc-example.dlpk", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, emd_path.read_bytes())


def build(out: Path) -> float:
    """Every bundled file under `out`; the model's accuracy on its training pixels."""
    out.mkdir(parents=True, exist_ok=True)
    write_scene(make_scene(), out)
    write_buildings(out)
    accuracy = write_model(out, write_samples(out))
    write_esri_doc_example(out)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: examples/)")
    accuracy = build(parser.parse_args().out)
    print(f"landcover model: {accuracy:.2%} of its training pixels right")


if __name__ == "__main__":
    main()
