"""Packages with one planted fault each, and a clean control, built at test time from tiny
seeded TorchScript and ONNX models (tests/inference_models.py builders)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.inference_models import (
    CLASSES,
    conv_stack,
    emd,
    make_detector,
    package,
    save_onnx,
    save_torchscript,
)
from tests.rasters import write_raster


def local_contrast(radius: int) -> Any:
    """Two classes by the first band against its mean over a (2 radius + 1) px square (zero
    padded): a receptive radius of exactly `radius`, every pixel of it mattering."""
    import torch

    class LocalContrast(torch.nn.Module):
        def __init__(self, radius: int) -> None:
            super().__init__()
            self.radius = radius

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            band = x[:, :1]
            size = 2 * self.radius + 1
            mean = torch.nn.functional.avg_pool2d(band, size, 1, self.radius)
            score = band - mean
            return torch.cat([score, -score], dim=1)

    return LocalContrast(radius).eval()


def _wrapped(kind: str, inner: Any) -> Any:
    """The clean stack inside a module that breaks one promise."""
    import torch

    class Noisy(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.inner(x)
            return out + 4 * torch.rand_like(out)

    class BatchCentred(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x - x.mean(dim=0, keepdim=True))

    class NanOnZeros(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) / x.abs().sum(dim=1, keepdim=True)

    return {"noisy": Noisy, "batch": BatchCentred, "nan": NanOnZeros}[kind](inner).eval()


def pixel_package(
    folder: Path,
    fault: str | None = None,
    padding: int = 4,
    **extra: Any,
) -> Path:
    """A TorchScript PixelClassifier over 3 bands for CLASSES (32 px tiles). `fault`: wide (a
    receptive radius of 6 past padding 2), extra_channel (3 channels for 2 classes), noisy,
    batch, nan, fixed_size (ONNX of one input size claiming SupportsVariableTileSize)."""
    folder.mkdir(parents=True)
    channels = 3 if fault == "extra_channel" else len(CLASSES)
    if fault == "wide":
        module, padding = local_contrast(6), 2
    else:
        module = conv_stack(3, channels)
    if fault in ("noisy", "batch", "nan"):
        module = _wrapped(fault, module)
    if fault == "fixed_size":
        model = _fixed_onnx(module, folder / "model.onnx", 32)
        document = emd(
            model.name,
            "ONNX",
            "PixelClassifier",
            ModelPadding=padding,
            SupportsVariableTileSize=True,
            **extra,
        )
    else:
        model = save_torchscript(module, folder / "model.pt")
        document = emd(model.name, "TorchScript", "PixelClassifier", ModelPadding=padding, **extra)
    return package(folder, document, model)


def _fixed_onnx(module: Any, path: Path, tile: int) -> Path:
    """ONNX with a dynamic batch but one fixed tile size, as many exports are."""
    import torch

    torch.onnx.export(
        module,
        (torch.zeros(1, 3, tile, tile),),
        str(path),
        input_names=["image"],
        output_names=["scores"],
        dynamic_axes={"image": {0: "n"}, "scores": {0: "n"}},
        dynamo=False,
    )
    return path


def variable_package(folder: Path) -> Path:
    """The clean ONNX stack with dynamic axes, claiming SupportsVariableTileSize (truly)."""
    folder.mkdir(parents=True)
    model = save_onnx(conv_stack(3, len(CLASSES)), folder / "model.onnx", 3)
    document = emd(
        model.name, "ONNX", "PixelClassifier", ModelPadding=4, SupportsVariableTileSize=True
    )
    return package(folder, document, model)


def detector_package(folder: Path) -> Path:
    """The square detector (tests/inference_models.py) as TorchScript, padding 8 (its squares
    are 6 px): it keeps an object on a seam once."""
    folder.mkdir(parents=True)
    model = save_torchscript(make_detector(), folder / "detector.pt")
    document = emd(
        model.name,
        "TorchScript",
        "ObjectDetector",
        ModelPadding=8,
        ExtractBands=[0],
        ImageHeight=32,
        ImageWidth=32,
    )
    return package(folder, document, model)


#: A detector raster function: one box per distinct non-zero value of band 1 in its block,
#: masked pixels left out, `padding` from its argument. With padding 0 it has no seam handling
#: at all: an object across a seam is seen in parts, one per block.
BLOB_DETECTOR = """
import json
import numpy as np


class Blobs:
    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "value": None},
            {"name": "model", "dataType": "string", "value": None},
            {"name": "padding", "dataType": "numeric", "value": PADDING},
        ]

    def getConfiguration(self, **scalars):
        self.padding = int(scalars["padding"])
        return {"extractBands": (0,), "padding": self.padding, "tx": 24, "ty": 24,
                "inputMask": True}

    def getFields(self):
        return json.dumps({"fields": [
            {"name": "Class", "type": "esriFieldTypeString"},
            {"name": "ClassValue", "type": "esriFieldTypeInteger"},
            {"name": "Confidence", "type": "esriFieldTypeDouble"},
        ]})

    def vectorize(self, **pixelBlocks):
        band = pixelBlocks["raster_pixels"][0] * (pixelBlocks["raster_mask"][0] > 0)
        p = self.padding
        features = []
        for value in np.unique(band[band > 0]):
            rows, cols = np.nonzero(band == value)
            y1, x1 = rows.min() - p, cols.min() - p
            y2, x2 = rows.max() + 1 - p, cols.max() + 1 - p
            ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
            features.append({
                "attributes": {"Class": "Blob", "ClassValue": 1, "Confidence": 90.0},
                "geometry": {"rings": [[[float(x), float(y)] for x, y in ring]]},
            })
        return {"output_vectors": json.dumps({"features": features})}
"""


def blob_package(folder: Path, padding: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "Blobs.py").write_text(BLOB_DETECTOR.replace("PADDING", str(padding)))
    document = {
        "ModelType": "ObjectDetection",
        "InferenceFunction": "Blobs.py",
        "ImageHeight": 24,
        "ImageWidth": 24,
        "ExtractBands": [0],
        "Classes": [{"Value": 1, "Name": "Blob", "Color": [255, 0, 0]}],
    }
    return package(folder, document)


def squares_raster(path: Path, values: tuple[int, ...] = (1, 2), side: int = 6) -> Path:
    """A float32 band of zeros with squares of `side` px, valued 1 or 2 (the square
    detector's classes; distinct values for the blob function), the rest of the bands zero."""
    data = np.zeros((1, 90, 110), dtype=np.float32)
    spots = [(10, 10), (12, 50), (40, 30), (44, 80), (70, 14), (66, 60)]
    for number, (row, col) in enumerate(spots):
        data[0, row : row + side, col : col + side] = values[number % len(values)]
    return write_raster(path, data)


def distinct_squares(path: Path) -> Path:
    """Squares of distinct values 1..6 (uint8), so each is one blob."""
    data = np.zeros((1, 90, 110), dtype=np.uint8)
    for number, (row, col) in enumerate([(8, 8), (10, 60), (40, 32), (42, 84), (70, 12), (66, 58)]):
        data[0, row : row + 8, col : col + 8] = number + 1
    return write_raster(path, data)


def corrupt_package(folder: Path) -> Path:
    """A TorchScript package whose model file is not TorchScript."""
    folder.mkdir(parents=True)
    model = folder / "model.pt"
    model.write_bytes(b"PK\x03\x04 not a TorchScript archive")
    return package(folder, emd(model.name, "TorchScript", "PixelClassifier"), model)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def object_package(folder: Path) -> Path:
    """A TorchScript ObjectClassifier: bright chips (mean > 0) are CLASSES[0], dark CLASSES[1]."""
    import torch

    class Brightness(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([m, -m], dim=1)

    folder.mkdir(parents=True)
    model = save_torchscript(Brightness().eval(), folder / "model.pt")
    document = emd(model.name, "TorchScript", "PixelClassifier", ImageHeight=16, ImageWidth=16)
    document.update(ModelConfiguration="ObjectClassifier", ModelType="ObjectClassification")
    return package(folder, document, model)
