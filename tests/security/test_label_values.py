"""Class values are never clipped: a value past 65535 gets 32-bit label chips (TIFF), and is
refused where the label format cannot hold it (PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

import dlpk
from dlpk import errors
from tests.rasters import pixel_box, write_features, write_raster


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "r.tif", np.full((3, 64, 64), 100, dtype=np.uint8))


def _labels(tmp_path: Path, value: int) -> Path:
    return write_features(tmp_path / f"l{value}.gpkg", [pixel_box(8, 8, 20, 20)], [value])


def test_a_class_value_past_16_bits_is_kept(tmp_path: Path, scene: Path) -> None:
    out = tmp_path / "chips"
    result = dlpk.export_training_data(scene, out, labels=_labels(tmp_path, 70000), tile_size=64)
    assert result.counts["labelled_pixels"] > 0
    [label] = sorted((out / "labels").glob("*.tif"))
    with rasterio.open(label) as dataset:
        assert dataset.dtypes[0] == "uint32" and int(dataset.read().max()) == 70000
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert [c["Value"] for c in emd["Classes"]] == [70000]


def test_png_labels_cannot_hold_32_bits(tmp_path: Path, scene: Path) -> None:
    with pytest.raises(errors.BadInputError, match="--chip-format TIFF"):
        dlpk.export_training_data(
            scene,
            tmp_path / "png",
            labels=_labels(tmp_path, 70000),
            image_chip_format="PNG",
            tile_size=64,
        )
