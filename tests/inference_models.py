"""Tiny real models and rasters for the inference tests, built at test time from fixed seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio.transform import from_origin

from dlpk.packaging.pack import pack_folder
from tests import rasters

CRS = "EPSG:32633"
TRANSFORM = from_origin(500000.0, 4000000.0, 10.0, 10.0)
CLASSES = [
    {"Value": 1, "Name": "Water", "Color": [0, 0, 255]},
    {"Value": 5, "Name": "Forest", "Color": [0, 128, 0]},
]


def write_raster(
    path: Path,
    data: NDArray[Any],
    crs: str | None = CRS,
    nodata: float | None = None,
    descriptions: list[str] | None = None,
) -> Path:
    """tests.rasters.write_raster on this module's grid: untiled, and without a geotransform
    when there is no CRS (pixel space is then map space)."""
    transform = TRANSFORM if crs is not None else None
    return rasters.write_raster(path, data, transform, crs, nodata, descriptions, tiled=False)


def map_point(row: float, col: float) -> tuple[float, float]:
    """The map coordinates of raster pixel position (row, col) under TRANSFORM."""
    x, y = TRANSFORM @ (col, row)
    return float(x), float(y)


def map_box(row1: float, col1: float, row2: float, col2: float) -> shapely.Polygon:
    """A map-space box from raster pixel positions (top-left and bottom-right corners)."""
    (x1, y1), (x2, y2) = map_point(row1, col1), map_point(row2, col2)
    return shapely.box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def seeded_rgb(rows: int, cols: int, seed: int = 0) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (3, rows, cols), dtype=np.uint8)


def conv_stack(bands: int, channels: int, seed: int = 0) -> Any:
    """Two 3x3 convolutions with zero padding: fully convolutional, receptive radius 2."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(bands, 6, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(6, channels, 3, padding=1),
    ).eval()


def save_torchscript(module: Any, path: Path) -> Path:
    import torch

    torch.jit.script(module).save(str(path))
    return path


def save_onnx(module: Any, path: Path, bands: int) -> Path:
    import torch

    example = torch.zeros(1, bands, 16, 16)
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=["image"],
        output_names=["scores"],
        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "scores": {0: "n", 2: "h", 3: "w"}},
        dynamo=False,
    )
    return path


def make_detector(shift: int = 0, graded: bool = False) -> Any:
    """Finds s x s squares of value 1 (class 1) or 2 (class 2) on a zero background in band 1:
    a box where an s x s window is uniformly 1 or 2, score 0.9; up to 8 boxes per tile.

    As is, it commutes with flips and quarter turns. `shift` moves each box `shift` px right
    and `graded` scores it 0.5 + 0.4 x its column / the tile's width: a detector that does not
    (a box mirrored left/right is found on the other side of its square, with another score)."""
    import torch

    class SquareDetector(torch.nn.Module):
        def __init__(self, size: int, shift: int, graded: bool) -> None:
            super().__init__()
            self.size = size
            self.shift = shift
            self.graded = graded

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            s = self.size
            band = x[:, :1]
            mean = torch.nn.functional.avg_pool2d(band, s, stride=1)
            low = -torch.nn.functional.max_pool2d(-band, s, stride=1)
            uniform = (mean == low) & ((mean == 1.0) | (mean == 2.0))
            labels_map = torch.where(uniform, mean, torch.zeros_like(mean))
            n, _, h, w = labels_map.shape
            flat = labels_map.reshape(n, h * w)
            top = torch.topk(flat, 8, dim=1)
            rows = torch.div(top.indices, w, rounding_mode="floor").to(torch.float32)
            cols = (top.indices % w).to(torch.float32)
            left = cols + self.shift
            boxes = torch.stack([left, rows, left + s, rows + s], dim=2)
            labels = top.values.to(torch.int64)
            score = torch.full_like(top.values, 0.9)
            if self.graded:
                score = 0.5 + 0.4 * cols / x.shape[3]
            scores = torch.where(labels > 0, score, top.values * 0)
            return boxes, scores, labels

    return SquareDetector(6, shift, graded).eval()


def make_nested_detector(grow: int) -> Any:
    """The square detector, plus for each square a box `grow` px larger on every side, centred
    on it, of the same class and a lower score (0.8): a small box inside a large one."""
    import torch

    class NestedDetector(torch.nn.Module):
        def __init__(self, inner: Any, grow: int) -> None:
            super().__init__()
            self.inner = inner
            self.grow = grow

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            boxes, scores, labels = self.inner(x)
            g = float(self.grow)
            outer = boxes + torch.tensor([-g, -g, g, g], dtype=boxes.dtype)
            outer_scores = torch.where(labels > 0, torch.full_like(scores, 0.8), scores)
            return (
                torch.cat([boxes, outer], dim=1),
                torch.cat([scores, outer_scores], dim=1),
                torch.cat([labels, labels], dim=1),
            )

    return NestedDetector(make_detector(), grow).eval()


def emd(model_file: str, framework: str, configuration: str, **extra: Any) -> dict[str, Any]:
    model_type = {
        "PixelClassifier": "ImageClassification",
        "ObjectDetector": "ObjectDetection",
    }[configuration]
    document: dict[str, Any] = {
        "Framework": framework,
        "ModelConfiguration": configuration,
        "ModelType": model_type,
        "ModelFile": model_file,
        "ImageHeight": 32,
        "ImageWidth": 32,
        "ExtractBands": [0, 1, 2],
        "Classes": CLASSES,
    }
    document.update(extra)
    return document


def package(folder: Path, document: dict[str, Any], model: Path | None = None) -> Path:
    """Pack `folder` (holding the model file) with `document` as its .emd into a .dlpk."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.emd").write_text(json.dumps(document, indent=2))
    if model is not None and model.parent != folder:
        (folder / model.name).write_bytes(model.read_bytes())
    output = folder.with_suffix(".dlpk")
    pack_folder(folder, output)
    return output


def save_onnx_detector(module: Any, path: Path, tile: int) -> Path:
    """The detector as ONNX, with a fixed batch of 1 and a fixed tile size."""
    import torch

    torch.onnx.export(
        module,
        (torch.zeros(1, 1, tile, tile),),
        str(path),
        input_names=["image"],
        output_names=["boxes", "scores", "labels"],
        dynamo=False,
    )
    return path
