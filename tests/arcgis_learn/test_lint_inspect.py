"""Lint and inspect know what arcgis.learn's save() writes: its side files, the class count
its heads are built for, and the blocks its InferenceFunctions ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import dlpk
from tests.inference_models import package

CLASSES = [{"Value": 1, "Name": "roof"}, {"Value": 2, "Name": "road"}]
FUNCTIONS = {
    "ImageClassification": "ArcGISImageClassifier",
    "ObjectDetection": "ArcGISObjectDetector",
    "ObjectClassification": "ArcGISObjectClassifier",
}


def _emd(configuration: str, model_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "Framework": "arcgis.learn.models._inferencing",
        "ModelConfiguration": configuration,
        "ModelType": model_type,
        "InferenceFunction": f"{FUNCTIONS[model_type]}.py",
        "ModelFile": "model.pth",
        "ImageHeight": 128,
        "ImageWidth": 128,
        "ExtractBands": [0, 1, 2],
        "ArcGISLearnVersion": "2.4.4",
        "Classes": CLASSES,
        **extra,
    }


def _package(folder: Path, document: dict[str, Any], state: dict[str, torch.Tensor]) -> Path:
    folder.mkdir(parents=True)
    torch.save(state, folder / "model.pth")
    name = document["InferenceFunction"].removesuffix(".py")
    (folder / f"{name}.py").write_text(f"class {name}: pass\n")
    (folder / "model_metrics.html").write_text("<p>metrics</p>")
    (folder / "ModelCharacteristics").mkdir()
    (folder / "ModelCharacteristics" / "loss_graph.png").write_bytes(b"\x89PNG")
    return package(folder, document)


def _unet_head(outputs: int) -> dict[str, torch.Tensor]:
    return {
        "layers.0.0.weight": torch.zeros(8, 3, 7, 7),
        "layers.11.0.weight": torch.zeros(outputs, 8, 1, 1),
        "layers.11.0.bias": torch.zeros(outputs),
    }


def _classifier_head(rows: int) -> dict[str, torch.Tensor]:
    return {
        "0.0.weight": torch.zeros(8, 3, 7, 7),
        "1.4.weight": torch.zeros(16, 8),
        "1.8.weight": torch.zeros(rows, 16),
        "1.8.bias": torch.zeros(rows),
    }


def _codes(path: Path, deep: bool = False) -> list[str]:
    return [d.code for d in dlpk.lint(path, deep=deep).diagnostics]


def test_save_side_files_are_known_members(tmp_path: Path) -> None:
    path = _package(tmp_path / "unet", _emd("_unet", "ImageClassification"), _unet_head(3))
    assert "DL710" not in _codes(path)
    stray = tmp_path / "stray"
    (stray / "ModelCharacteristics").mkdir(parents=True)
    (stray / "notes.txt").write_text("not arcgis.learn's")
    (stray / "model.pth").write_bytes(b"")
    (stray / "ArcGISImageClassifier.py").write_text("class ArcGISImageClassifier: pass\n")
    assert "DL710" in _codes(package(stray, _emd("_unet", "ImageClassification")))


@pytest.mark.parametrize(
    ("configuration", "model_type", "head", "fits"),
    [
        ("_unet", "ImageClassification", _unet_head(3), True),  # 2 classes + background
        ("_unet", "ImageClassification", _unet_head(4), False),
        ("_FeatureClassifier", "ObjectClassification", _classifier_head(2), True),
        ("_FeatureClassifier", "ObjectClassification", _classifier_head(3), False),
    ],
)
def test_deep_checks_the_heads_class_count(
    tmp_path: Path, configuration: str, model_type: str, head: dict[str, torch.Tensor], fits: bool
) -> None:
    path = _package(tmp_path / "model", _emd(configuration, model_type), head)
    assert ("DL805" not in _codes(path, deep=True)) is fits


def test_inspect_shows_the_blocks_the_function_asks_for(tmp_path: Path) -> None:
    ssd = _package(tmp_path / "ssd", _emd("_DynamicSSD", "ObjectDetection"), _unet_head(3))
    described = dlpk.inspect(ssd)
    assert described["padding"]["pixels"] == 32
    assert described["function_block"] == 8 * (128 - 64) + 64  # 64 sub-tiles by default
    fc = _package(tmp_path / "fc", _emd("_FeatureClassifier", "ObjectClassification"), {})
    assert dlpk.inspect(fc)["padding"]["pixels"] == 0
