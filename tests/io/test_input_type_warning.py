"""A raster of another pixel type than the 8 bits an ImageNet-normalised model takes runs, but
with one warning naming both and the fix (io/raster_source.input_type_warnings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlpk.runners.io.raster_source import input_type_warnings
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import conv_stack, emd, package, save_torchscript, write_raster

STATS = {
    "band_min_values": [0, 0, 0],
    "band_max_values": [4095, 4095, 4095],
    "scaled_mean_values": [0.485, 0.456, 0.406],
    "scaled_std_values": [0.229, 0.224, 0.225],
}


def warnings_for(dtype: str, bands: int = 3, **keys: Any) -> list[str]:
    definition = EsriModelDefinition.model_validate(keys)
    return input_type_warnings(definition, list(range(bands)), dtype)


def test_16_bit_pixels_for_an_8_bit_imagenet_model_warn() -> None:
    [warning] = warnings_for("uint16")
    assert "pixels are uint16" in warning and "8-bit" in warning and "ImageNet" in warning
    assert "NormalizationStats" in warning and "DataRange" in warning
    assert warnings_for("float32", IsImageNetNormalization=True) != []


@pytest.mark.parametrize(
    ("dtype", "bands", "keys"),
    [
        ("uint8", 3, {}),  # what the model takes
        ("uint16", 3, {"NormalizationStats": STATS}),
        ("uint16", 3, {"IsImageNetNormalization": False}),  # raw values, as the .emd says
        ("float32", 3, {"DataRange": [0, 1]}),  # rescaled as the model was trained
        ("uint16", 4, {}),  # not 3 bands: raw values are the contract
    ],
)
def test_no_warning_where_the_model_gets_what_it_expects(
    dtype: str, bands: int, keys: dict[str, Any]
) -> None:
    assert warnings_for(dtype, bands, **keys) == []


def test_classify_pixels_reports_it_once(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    folder = tmp_path / "model"
    folder.mkdir()
    save_torchscript(conv_stack(3, 2), folder / "model.pt")
    model = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    data = np.random.default_rng(3).integers(0, 4096, (3, 40, 40)).astype(np.uint16)
    raster = write_raster(tmp_path / "in.tif", data)
    arguments = {"tile_size": "16", "padding": "2"}
    summary = classify_pixels(model, raster, tmp_path / "out.tif", arguments, "cpu", quiet)
    assert len([w for w in summary.warnings if "pixels are uint16" in w]) == 1
    eight_bit = write_raster(tmp_path / "in8.tif", (data // 16).astype(np.uint8))
    summary = classify_pixels(model, eight_bit, tmp_path / "out8.tif", arguments, "cpu", quiet)
    assert not [w for w in summary.warnings if "8-bit" in w]
