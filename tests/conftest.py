"""Shared fixtures: small model folders and packages built in tmp_path."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from dlpk.runners.backends.images.catalog import ImageFramework, image_tag
from tests.corpus.packages import EMD
from tests.rasters import HEIGHT, WIDTH, pixel_box, write_features, write_raster

REPO = Path(__file__).resolve().parent.parent
ESRI_DOC_EMD = (REPO / "examples" / "esri-doc-example" / "tree_detection.emd").read_text()

GOOD_EMD: dict[str, Any] = EMD | {
    "Classes": [*EMD["Classes"], {"Value": 2, "Name": "Land", "Color": [0, 128, 0]}]
}


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "water"
    folder.mkdir()
    (folder / "water.emd").write_text(json.dumps(GOOD_EMD, indent=4))
    (folder / "model.onnx").write_bytes(b"\x08\x07onnx-bytes")
    (folder / "README.txt").write_text("how to use")
    return folder


@pytest.fixture
def esri_doc_package(tmp_path: Path) -> Path:
    path = tmp_path / "esri.dlpk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tree_detection.emd", ESRI_DOC_EMD)
    return path


@pytest.fixture
def rgb_raster(tmp_path: Path) -> Path:
    rng = np.random.default_rng(42)
    data = rng.integers(0, 256, size=(3, HEIGHT, WIDTH), dtype=np.uint8)
    return write_raster(tmp_path / "scene.tif", data)


@pytest.fixture
def buildings() -> tuple[list[shapely.Geometry], list[int]]:
    """Building-like polygons in the raster CRS: boxes, a rotated one and an L shape."""
    rng = np.random.default_rng(7)
    geoms: list[shapely.Geometry] = []
    values: list[int] = []
    for _ in range(12):
        col, row = rng.uniform(0, WIDTH - 30), rng.uniform(0, HEIGHT - 30)
        w, h = rng.uniform(6, 28), rng.uniform(6, 28)
        geoms.append(pixel_box(col, row, w, h))
        values.append(int(rng.integers(1, 4)))
    rotated = shapely.affinity.rotate(pixel_box(200, 150, 30, 12), 30, origin="centroid")
    ell = shapely.union(pixel_box(40, 180, 40, 10), pixel_box(40, 180, 10, 40))
    edge = pixel_box(300, 220, 40, 40)  # straddles the raster's bottom-right corner
    geoms += [rotated, ell, edge]
    values += [2, 1, 3]
    return geoms, values


@pytest.fixture
def labels_gpkg(tmp_path: Path, buildings: tuple[list[shapely.Geometry], list[int]]) -> Path:
    geoms, values = buildings
    return write_features(tmp_path / "buildings.gpkg", geoms, values)


def _docker_reason(framework: ImageFramework) -> str | None:
    """Why Docker tests cannot run here, or None when they can."""
    try:
        from dlpk.runners.backends.images.build import is_current

        if not is_current(image_tag(framework)):
            return f"{image_tag(framework)} is missing or stale: run `make images`"
    except Exception as exc:
        return f"Docker is unavailable ({exc})"
    return None


def require_image(framework: ImageFramework) -> None:
    """Docker tests run for real in CI (DLPK_REQUIRE_DOCKER=1, set by .ci/run) and fail there
    when Docker is missing; on a laptop without Docker they are skipped with the reason."""
    reason = _docker_reason(framework)
    if reason is None:
        return
    if os.environ.get("DLPK_REQUIRE_DOCKER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def docker_ready() -> None:
    require_image("onnx")


@pytest.fixture
def docker_pytorch() -> None:
    require_image("pytorch")


@pytest.fixture
def docker_tensorflow() -> None:
    require_image("tensorflow")
