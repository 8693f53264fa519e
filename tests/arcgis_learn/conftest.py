"""Packages written by arcgis.learn itself, at test time, in the arcgis-learn image.

The chips come from dlpk's own export; the container (no network) trains nothing: it builds an
untrained UnetClassifier, SingleShotDetector, FeatureClassifier and MaskRCNN on them with
resnet18 backbones, `save()`s each, and records arcgis.learn's own predictions on the pixels
the tests then give dlpk (in_image/make_packages.py). Built once per session, for all tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import dlpk
from dlpk.runners.backends.images.catalog import image_tag
from dlpk.runners.backends.images.docker_client import docker_client
from tests.conftest import require_image
from tests.rasters import pixel_box, write_features, write_raster

IMAGE = image_tag("arcgis-learn")
SCRIPTS = Path(__file__).resolve().parent / "in_image"
FAMILIES = ("unet", "ssd", "fc", "mrcnn")
FORMATS = ("Classified_Tiles", "PASCAL_VOC_rectangles", "Labeled_Tiles", "RCNN_Masks")
SCENE = 160  # pixels a side
WINDOW = 64  # the chip size, and the side of window.tif


def run_in_image(work: Path, script: str, *args: str) -> str:
    """Run SCRIPTS/`script` in the arcgis-learn image as this user, without network, with
    `work` mounted at /work; its output, or the failure with its last lines."""
    client = docker_client()
    container = client.containers.create(
        IMAGE,
        entrypoint=["python", f"/scripts/{script}"],
        command=list(args),
        user=f"{os.getuid()}:{os.getgid()}",
        environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
        network_disabled=True,
        volumes={
            str(work): {"bind": "/work", "mode": "rw"},
            str(SCRIPTS): {"bind": "/scripts", "mode": "ro"},
        },
    )
    try:
        container.start()
        code = container.wait()["StatusCode"]
        logs = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if code != 0:
        pytest.fail(f"{script} failed in {IMAGE} ({code}):\n{logs[-3000:]}")
    return logs


def write_scene(work: Path) -> None:
    """scene.tif (SCENE px, 3 bands), window.tif (its top-left WINDOW px) and labels."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, size=(3, SCENE, SCENE), dtype=np.uint8)
    write_raster(work / "scene.tif", data)
    write_raster(work / "window.tif", np.ascontiguousarray(data[:, :WINDOW, :WINDOW]))
    geoms, values = [], []
    for _ in range(10):
        col, row = rng.uniform(0, SCENE - 40), rng.uniform(0, SCENE - 40)
        geoms.append(pixel_box(col, row, rng.uniform(12, 36), rng.uniform(12, 36)))
        values.append(int(rng.integers(1, 3)))
    write_features(work / "labels.gpkg", geoms, values)


@pytest.fixture(scope="session")
def arcgis_learn_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the scene, dlpk's chips, and per family <family>/<family>.dlpk
    (arcgis.learn's save()) with <family>.json (arcgis.learn's own predictions)."""
    require_image("arcgis-learn")
    work = tmp_path_factory.mktemp("arcgis-learn")
    write_scene(work)
    for kind in FORMATS:
        dlpk.export_training_data(
            work / "scene.tif", work / "chips" / kind, labels=work / "labels.gpkg",
            metadata_format=kind, tile_size=WINDOW, stride=WINDOW // 2,
            image_chip_format="TIFF" if kind == "Classified_Tiles" else "PNG",
        )  # fmt: skip
    run_in_image(work, "make_packages.py", "/work", *FAMILIES)
    return work
