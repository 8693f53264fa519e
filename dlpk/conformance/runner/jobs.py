"""The runner kit's job directories: self-contained (job.json, in/, model/, out/), built from
nothing but numpy and rasterio, so any runner image can run them.

The model is a tiny Python raster function (numpy only: every runner image has it) that
classifies band 1 into Bright (> 127) and Dark, sleeping `delay` seconds per block, so a job
can be made long enough to kill mid-way.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

FUNCTION = "KitClassifier"
OUTPUT = "out/classified.tif"
EXPORT_OUTPUT = "out/chips"
BLOCK = 64

FUNCTION_CODE = '''
import time

import numpy as np


class KitClassifier:
    """The runner kit's model: Bright (1) where band 1 > 127, else Dark (2)."""

    def initialize(self, **kwargs):
        self.emd = kwargs["model"]

    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "value": None},
            {"name": "model", "dataType": "string", "value": None},
            {"name": "delay", "dataType": "numeric", "value": 0},
            {"name": "fail", "dataType": "string", "value": "no"},
        ]

    def getConfiguration(self, **scalars):
        self.delay = float(scalars["delay"])
        self.fail = scalars["fail"] == "yes"
        return {"extractBands": (0,), "padding": 0, "tx": BLOCK, "ty": BLOCK,
                "fixedTileSize": 1, "inputMask": True}

    def updatePixels(self, tlc, shape, props, **pixelBlocks):
        if self.fail:
            raise RuntimeError("the kit's model fails, as asked")
        time.sleep(self.delay)
        band = pixelBlocks["raster_pixels"][0]
        pixelBlocks["output_pixels"] = np.where(band > 127, 1, 2).astype(props["pixelType"])
        return pixelBlocks
'''.replace("BLOCK", str(BLOCK))

EMD = {
    "ModelType": "ImageClassification",
    "InferenceFunction": f"{FUNCTION}.py",
    "ModelName": "RunnerKit",
    "ImageHeight": BLOCK,
    "ImageWidth": BLOCK,
    "ExtractBands": [0],
    "Classes": [
        {"Value": 1, "Name": "Bright", "Color": [250, 250, 200]},
        {"Value": 2, "Name": "Dark", "Color": [30, 30, 60]},
    ],
}


def write_scene(path: Path, size: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    data = np.random.default_rng(7).integers(0, 256, (1, size, size), dtype=np.uint8)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500_000.0, 4_000_000.0, 1, 1),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def write_model(folder: Path, broken: bool = False) -> Path:
    """The kit's raster function package, unpacked; `broken`: an ONNX .emd whose model file
    is not a model (loading it is a model error)."""
    folder.mkdir(parents=True)
    if broken:
        document = {
            "Framework": "ONNX",
            "ModelConfiguration": "PixelClassifier",
            "ModelType": "ImageClassification",
            "ModelFile": "model.onnx",
            "ImageHeight": BLOCK,
            "ImageWidth": BLOCK,
            "ExtractBands": [0],
            "Classes": EMD["Classes"],
        }
        (folder / "model.onnx").write_bytes(b"this is not an ONNX model")
    else:
        document = EMD
        (folder / f"{FUNCTION}.py").write_text(FUNCTION_CODE, encoding="utf-8")
    (folder / "kit.emd").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return folder / "kit.emd"


def classify_job(arguments: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "dlpk/v1",
        "task": "classify_pixels",
        "model": "model/kit.emd",
        "inputs": {"in_raster": "in/scene.tif"},
        "parameters": {"arguments": arguments or {}, "trust_code": True},
        "outputs": {"out_classified_raster": OUTPUT},
    }


def export_job() -> dict[str, Any]:
    return {
        "apiVersion": "dlpk/v1",
        "task": "export_chips",
        "inputs": {"in_raster": "in/scene.tif"},
        "parameters": {
            "metadata_format": "Export_Tiles",
            "output_nofeature_tiles": "ALL_TILES",
            "tile_size_x": BLOCK,
            "stride_x": BLOCK,
        },
        "outputs": {"out_folder": EXPORT_OUTPUT},
    }


def make_jobdir(
    folder: Path,
    job: dict[str, Any] | str | None,
    size: int = 256,
    model: str | None = "kit",
    scene: bool = True,
) -> Path:
    """A job directory: job.json (a document, raw text, or none), in/scene.tif, model/
    (`kit`, `broken` or None) and an empty out/; then all of it but out/ read-only."""
    folder.mkdir(parents=True)
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    if scene:
        write_scene(folder / "in" / "scene.tif", size)
    else:
        (folder / "in" / "scene.tif").write_text("not a raster\n", encoding="utf-8")
    if model is not None:
        write_model(folder / "model", broken=model == "broken")
    if job is not None:
        text = job if isinstance(job, str) else json.dumps(job, indent=2)
        (folder / "job.json").write_text(text, encoding="utf-8")
    for path in (folder / "in", folder / "model", folder / "job.json"):
        if path.exists():
            read_only(path)
    os.chmod(folder, folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return folder


def read_only(path: Path) -> None:
    """No write permission for anyone, below `path` too."""
    strip = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    for entry in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.chmod(entry, entry.stat().st_mode & strip)


def writable(path: Path) -> None:
    """Give the owner write permission back (before the scratch folder is removed)."""
    for entry in [path, *path.rglob("*")]:
        if not entry.is_symlink():
            os.chmod(entry, entry.stat().st_mode | stat.S_IWUSR)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file below `folder`: its size and modification time, to tell whether it changed."""
    found: dict[str, tuple[int, int]] = {}
    for entry in sorted(folder.rglob("*")):
        if entry.is_file():
            info = entry.stat()
            found[entry.relative_to(folder).as_posix()] = (info.st_size, info.st_mtime_ns)
    return found
