"""Tiny Python raster function packages, written at test time, and what they should compute.

The functions are pure numpy and check what the runner hands them (block shapes, dtype, the
initialize arguments), raising when it is wrong, so a runner that breaks the contract fails the
tests rather than producing plausible output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tests.inference_models import CLASSES, package

#: Classify pixels: Value 5 where the 3x3 maximum of band 2 exceeds `threshold`, else 1.
THRESHOLD_PRF = """
import json
import numpy as np


class Threshold:
    def __init__(self):
        self.name = "Threshold"
        self.description = "3x3 maximum above a threshold"

    def initialize(self, **kwargs):
        if not kwargs["model"].endswith(".emd") or kwargs["device"] != -1:
            raise ValueError(f"bad initialize arguments {kwargs}")
        with open(kwargs["model"]) as handle:
            self.json_info = json.load(handle)

    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "value": None, "required": True},
            {"name": "model", "dataType": "string", "value": None, "required": True},
            {"name": "device", "dataType": "numeric", "value": None, "required": False},
            {"name": "threshold", "dataType": "numeric", "value": 100, "required": False},
            {"name": "padding", "dataType": "numeric", "value": 2, "required": False},
        ]

    def getConfiguration(self, **scalars):
        if not isinstance(scalars["threshold"], str):
            raise TypeError("scalars arrive as strings")
        self.threshold = float(scalars["threshold"])
        self.padding = int(scalars["padding"])
        self.tx, self.ty = 13, 11
        return {
            "extractBands": (1,),
            "padding": self.padding,
            "tx": self.tx,
            "ty": self.ty,
            "fixedTileSize": 1,
            "inputMask": True,
        }

    def updatePixels(self, tlc, shape, props, **pixelBlocks):
        pixels = pixelBlocks["raster_pixels"]
        p = self.padding
        expected = (1, self.ty + 2 * p, self.tx + 2 * p)
        if pixels.shape != expected or pixels.dtype != np.uint16 or shape != (1, self.ty, self.tx):
            raise ValueError(f"block {pixels.shape} {pixels.dtype} shape {shape}")
        if pixelBlocks["raster_mask"].shape != pixels.shape:
            raise ValueError("the mask has the pixels' shape")
        band = np.where(pixelBlocks["raster_mask"][0] > 0, pixels[0], 0).astype(np.int64)
        h, w = band.shape
        framed = np.pad(band, 1)
        biggest = np.max(
            [framed[r : r + h, c : c + w] for r in range(3) for c in range(3)], axis=0
        )
        classes = np.where(biggest > self.threshold, 5, 1)
        pixelBlocks["output_pixels"] = classes[p : p + self.ty, p : p + self.tx].astype(
            props["pixelType"]
        )
        return pixelBlocks
"""

#: Detect objects: one box per distinct non-zero value of band 1 in the block.
BLOBS_PRF = """
import json
import numpy as np


class Blobs:
    def initialize(self, **kwargs):
        self.emd = kwargs["model"]

    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "value": None},
            {"name": "model", "dataType": "string", "value": None},
            {"name": "padding", "dataType": "numeric", "value": 6},
            {"name": "score", "dataType": "numeric", "value": 0.75},
        ]

    def getConfiguration(self, **scalars):
        self.padding = int(scalars["padding"])
        self.score = float(scalars["score"])
        return {"extractBands": (0,), "padding": self.padding, "tx": 16, "ty": 16,
                "inputMask": True}

    def getFields(self):
        return json.dumps({"fields": [
            {"name": "OID", "type": "esriFieldTypeOID", "alias": "OID"},
            {"name": "Class", "type": "esriFieldTypeString", "alias": "Class"},
            {"name": "Value", "type": "esriFieldTypeInteger", "alias": "Value"},
            {"name": "Confidence", "type": "esriFieldTypeDouble", "alias": "Confidence"},
            {"name": "Note", "type": "esriFieldTypeString", "alias": "Note"},
            {"name": "Shape", "type": "esriFieldTypeGeometry", "alias": "Shape"},
        ]})

    def getGeometryType(self):
        return 4

    def vectorize(self, **pixelBlocks):
        band = pixelBlocks["raster_pixels"][0]
        p = self.padding
        features = []
        for value in np.unique(band[band > 0]):
            rows, cols = np.nonzero(band == value)
            y1, x1 = rows.min() - p, cols.min() - p
            y2, x2 = rows.max() + 1 - p, cols.max() + 1 - p
            ring = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]
            features.append({
                "attributes": {"Class": "blob", "Value": int(value), "Confidence": self.score,
                               "Undeclared": 1},
                "geometry": {"rings": [[[float(x), float(y)] for x, y in ring]]},
            })
        return {"output_vectors": json.dumps({"features": features})}
"""

#: Classify objects: each chip's mean of band 0 over its valid pixels; above `level`, the first
#: class. With MetaDataMode MultiLabeled_Tiles, `;`-joined labels and scores instead.
MEANS_PRF = """
import json
import numpy as np


class Means:
    def initialize(self, **kwargs):
        with open(kwargs["model"]) as handle:
            self.emd = json.load(handle)

    def getParameterInfo(self):
        return [
            {"name": "rasters", "dataType": "rasters", "value": None},
            {"name": "model", "dataType": "string", "value": None},
            {"name": "batch_size", "dataType": "numeric", "value": 2},
            {"name": "level", "dataType": "numeric", "value": 128},
        ]

    def getConfiguration(self, **scalars):
        self.batch_size = int(scalars["batch_size"])
        self.level = float(scalars["level"])
        self.fixed = int(self.emd.get("CropSizeFixed", 1))
        return {
            "CropSizeFixed": self.fixed,
            "BlackenAroundFeature": int(self.emd.get("BlackenAroundFeature", 0)),
            "extractBands": (0,),
            "tx": self.emd["ImageWidth"],
            "ty": self.emd["ImageHeight"],
            "batch_size": self.batch_size,
            "inputMask": True,
        }

    def vectorize(self, **pixelBlocks):
        chips, masks = pixelBlocks["rasters_pixels"], pixelBlocks["rasters_mask"]
        if not isinstance(chips, tuple) or not 0 < len(chips) <= self.batch_size:
            raise ValueError(f"expected a tuple of 1..{self.batch_size} chips")
        batch = np.asarray(chips)  # as arcgis.learn's functions do: one size a call
        size = (self.emd["ImageHeight"], self.emd["ImageWidth"])
        if batch.ndim != 4 or batch.shape[1] != 1 or batch.dtype != np.uint8:
            raise ValueError(f"chips {batch.shape} {batch.dtype}")
        if self.fixed and batch.shape[2:] != size:
            raise ValueError(f"fixed chips are {size}, not {batch.shape[2:]}")
        names = [c["Name"] for c in self.emd["Classes"]]
        multi = self.emd.get("MetaDataMode") == "MultiLabeled_Tiles"
        features = []
        for chip, mask in zip(batch, masks):
            mean = float(chip[0][mask[0] > 0].mean())
            bright = round(mean / 255, 4)
            if multi:
                scores = [bright, round(1 - bright, 4)]
                label = ";".join(n for n, s in zip(names, scores) if s >= 0.25)
                confidence = ";".join(str(s) for s in scores)
            else:
                label = names[0] if mean > self.level else names[1]
                confidence = round(100 * max(bright, 1 - bright), 2)
            h, w = chip.shape[1:]
            ring = [[0, 0], [0, w - 1], [h - 1, w - 1], [h - 1, 0]]
            features.append({"attributes": {"Label": label, "Confidence": confidence},
                             "geometry": {"rings": [ring]}})
        return {"output_vectors": json.dumps({"features": features})}
"""


def means_expected(
    band: NDArray[Any], window: tuple[int, int, int, int], level: float
) -> tuple[str, float]:
    """The Means function's Label and Confidence for the chip at `window` (row, col, height,
    width) of `band`, which may reach past the raster (those pixels are masked)."""
    row, col, height, width = window
    inside = band[max(row, 0) : row + height, max(col, 0) : col + width]
    mean = float(inside.mean())
    bright = round(mean / 255, 4)
    return ("Water" if mean > level else "Forest"), round(100 * max(bright, 1 - bright), 2)


def function_package(folder: Path, name: str, source: str, model_type: str, **extra: Any) -> Path:
    """A .dlpk holding `name`.py and an .emd naming it as the InferenceFunction."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(source)
    document: dict[str, Any] = {
        "Framework": "PyTorch",
        "ModelConfiguration": "Custom",
        "ModelType": model_type,
        "InferenceFunction": f"{name}.py",
        "ImageHeight": 32,
        "ImageWidth": 32,
        "Classes": CLASSES,
    }
    document.update(extra)
    (folder / "notes.json").write_text(json.dumps({"about": name}))
    return package(folder, document)


def threshold_expected(band: NDArray[Any], valid: NDArray[np.bool_], threshold: float) -> Any:
    """What the Threshold function computes over the whole raster in one pass."""
    values = np.where(valid, band, 0).astype(np.int64)
    h, w = values.shape
    framed = np.pad(values, 1)
    biggest = np.max([framed[r : r + h, c : c + w] for r in range(3) for c in range(3)], axis=0)
    return np.where(biggest > threshold, 5, 1)


#: Classify pixels with an output of the test's choosing: the `declare` argument (JSON) is
#: merged into output_info by updateRasterInfo, `config` into getConfiguration's answer, and
#: `compute` picks the pixels: "scale" gives band b = band 0 / 100 x (b + 1), cast to
#: props["pixelType"]; "raw" the same left in float64; "classes" 5 where band 0 > 100, else 1.
#: With `record` (a path), every call's arguments are written there as JSON, so a test can
#: compare what the runner handed over with ArcGIS's documented keys.
DECLARED_PRF = """
import json
import numpy as np

RASTER = "raster"


def plain(value):
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


class Declared:
    def __init__(self):
        self.seen = {"order": [], "updatePixels": [], "selectRasters": [], "keyMetadata": []}

    def note(self, method, **found):
        self.seen["order"].append(method)
        if found:
            self.seen.setdefault(method, []).append(plain(found))
        if getattr(self, "record", ""):
            with open(self.record, "w") as handle:
                json.dump(self.seen, handle)

    def initialize(self, **kwargs):
        self.note("initialize")

    def getParameterInfo(self):
        return [
            {"name": RASTER, "dataType": "raster", "value": None},
            {"name": "model", "dataType": "string", "value": None},
            {"name": "device", "dataType": "numeric", "value": None},
            {"name": "declare", "dataType": "string", "value": "{}"},
            {"name": "config", "dataType": "string", "value": "{}"},
            {"name": "compute", "dataType": "string", "value": "scale"},
            {"name": "record", "dataType": "string", "value": ""},
        ]

    def getConfiguration(self, **scalars):
        self.record = scalars["record"]
        self.declare = json.loads(scalars["declare"])
        self.compute = scalars["compute"]
        config = {"extractBands": (0, 1), "padding": 1, "tx": 16, "ty": 12, "fixedTileSize": 1,
                  "inputMask": True, "inheritProperties": 2 | 4 | 8,
                  "invalidateProperties": 2 | 4 | 8}
        config.update(json.loads(scalars["config"]))
        self.padding = config["padding"]
        self.note("getConfiguration")
        return config

    def updateRasterInfo(self, **kwargs):
        self.note("updateRasterInfo", kwargs=kwargs)
        if self.declare.pop("_return", None) == "none":
            return None
        kwargs["output_info"].update(self.declare)
        return kwargs

    def updatePixels(self, tlc, shape, props, **pixelBlocks):
        self.note("updatePixels", tlc=tlc, shape=shape, props=props, keys=sorted(pixelBlocks))
        bands, rows, cols = shape
        if RASTER + "_pixels" not in pixelBlocks:
            pixelBlocks["output_pixels"] = np.full(shape, 7, dtype=props["pixelType"])
            pixelBlocks["output_mask"] = np.ones((rows, cols), dtype="u1")
            return pixelBlocks
        p = self.padding
        band = pixelBlocks[RASTER + "_pixels"][0, p : p + rows, p : p + cols].astype("f8")
        if self.compute == "classes":
            out = np.where(band > 100, 5, 1)[np.newaxis]
        else:
            out = np.stack([band / 100.0 * (b + 1) for b in range(bands)])
        if self.compute != "raw":
            out = out.astype(props["pixelType"])
        pixelBlocks["output_pixels"] = out if bands > 1 else out[0]
        return pixelBlocks
"""

#: Key metadata hooks for the Declared function: the dataset becomes "Processed", band 1 is
#: named, band 2 loses its wavelength (None: dropped), and what was handed is recorded.
KEY_METADATA_METHOD = """
    def updateKeyMetadata(self, names, bandIndex, **keyMetadata):
        self.note("keyMetadata", names=names, bandIndex=bandIndex, given=dict(keyMetadata))
        if bandIndex == -1:
            keyMetadata["datatype"] = "Processed"
        elif bandIndex == 0:
            keyMetadata["bandname"] = "Scaled"
        elif bandIndex == 1:
            keyMetadata["wavelengthmin"] = None
            keyMetadata["bandname"] = "Doubled"
        return keyMetadata
"""

#: selectRasters for the Declared function: the raster is read for blocks whose top-left
#: corner lies left of x = 500260 (the first two block columns of 16 px of 10 m), else not.
SELECT_METHOD = """
    def selectRasters(self, tlc, shape, props):
        self.note("selectRasters", tlc=tlc, shape=shape, props=props)
        return (RASTER,) if tlc[0] < 500000.0 + 10 * 26 else ()
"""

#: isLicensed for any function: `ANSWER` is replaced by what it returns.
LICENSE_METHOD = """
    def isLicensed(self, **productInfo):
        import json, os
        path = os.environ.get("DLPK_TEST_LICENSE_RECORD")
        if path:
            with open(path, "w") as handle:
                json.dump({"productInfo": productInfo,
                           "initialized": hasattr(self, "seen") and "initialize" in
                           self.seen.get("order", [])}, handle)
        return ANSWER
"""


def with_methods(source: str, *methods: str) -> str:
    """A function's source with more methods on its class (appended at class level)."""
    return source.rstrip() + "\n" + "".join(methods)


def declared_expected(band: NDArray[Any], bands: int, dtype: str) -> NDArray[Any]:
    """What the Declared function's "scale" computes from band 0 over the whole raster."""
    values = band.astype(np.float64)
    return np.stack([values / 100.0 * (b + 1) for b in range(bands)]).astype(dtype)
