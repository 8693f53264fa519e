"""Rebuild the bundled sample data: `python examples/build_examples.py` (needs `onnx`).

landcover/   a tiny real ONNX pixel classifier (3 bands in, background + 2 classes out) with a
             clean .emd; packed to landcover.dlpk by `dlpk pack`.
esri-doc-example.dlpk
             the .emd example from Esri's documentation, as users copy it: ModelType
             "ObjectionDetection" and a ModelFile the package does not hold.
scene.tif    a small orthophoto-like 3-band scene (UTM 33N, 0.5 m) with fields, a road and
             roofs; buildings.geojson holds its building footprints in WGS 84 (another CRS, so
             export-chips has to reproject them).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dlpk.packaging.pack import FIXED_DATE, pack_folder

HERE = Path(__file__).parent


def landcover_model() -> onnx.ModelProto:
    """A 1x1 convolution: pixels -> 3 class scores; deterministic weights."""
    rng = np.random.default_rng(7)
    weight = rng.normal(size=(3, 3, 1, 1)).astype(np.float32)
    bias = np.zeros(3, dtype=np.float32)
    node = helper.make_node("Conv", ["image", "weight", "bias"], ["scores"])
    graph = helper.make_graph(
        [node],
        "landcover",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 256, 256])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3, 256, 256])],
        [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def scene() -> None:
    """Smooth fields, a road and bright roofs: compressible, yet something to classify."""
    import rasterio
    from rasterio.transform import from_origin

    size, transform = 384, from_origin(500_000.0, 5_000_000.0, 0.5, 0.5)
    rows, cols = np.mgrid[0:size, 0:size]
    red = 90 + 40 * np.sin(cols / 37.0) * np.cos(rows / 53.0)
    green = 120 + 50 * np.cos(cols / 41.0)
    blue = 70 + 20 * np.sin(rows / 29.0)
    image = np.stack([red, green, blue])
    road = np.abs(rows - (0.6 * cols + 40)) < 6
    image[:, road] = 150
    footprints = []
    for index, (row, col, h, w) in enumerate(
        [
            (40, 60, 30, 40),
            (50, 200, 40, 30),
            (150, 120, 35, 35),
            (260, 260, 45, 60),
            (300, 50, 30, 50),
        ]
    ):
        image[:, row : row + h, col : col + w] = [[[200 + index * 8]], [[90]], [[80]]]
        x0, y0 = transform * (col, row)
        x1, y1 = transform * (col + w, row + h)
        footprints.append((x0, y0, x1, y1))
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32633", "transform": transform, "tiled": True, "blockxsize": 128,
        "blockysize": 128, "compress": "deflate", "predictor": 2,
    }  # fmt: skip
    with rasterio.open(HERE / "scene.tif", "w", **profile) as dataset:
        dataset.write(np.clip(image, 0, 255).astype(np.uint8))
    _buildings(footprints)


def _buildings(footprints: list[tuple[float, float, float, float]]) -> None:
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    features = []
    for index, (x0, y0, x1, y1) in enumerate(footprints):
        ring = [
            to_wgs84.transform(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {"id": index + 1, "classvalue": 1},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[round(x, 9), round(y, 9)] for x, y in ring]],
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    (HERE / "buildings.geojson").write_text(json.dumps(collection, indent=1) + "\n")


def main() -> None:
    scene()
    onnx.save(landcover_model(), HERE / "landcover" / "landcover.onnx")
    pack_folder(HERE / "landcover", HERE / "landcover.dlpk", overwrite=True)
    emd = (HERE / "esri-doc-example" / "tree_detection.emd").read_bytes()
    info = zipfile.ZipInfo("tree_detection.emd", date_time=FIXED_DATE)
    with zipfile.ZipFile(HERE / "esri-doc-example.dlpk", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, emd)


if __name__ == "__main__":
    main()
