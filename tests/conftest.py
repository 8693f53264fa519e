"""Shared fixtures: small model folders and packages built in tmp_path."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
ESRI_DOC_EMD = (REPO / "examples" / "esri-doc-example" / "tree_detection.emd").read_text()

GOOD_EMD: dict[str, Any] = {
    "Framework": "ONNX",
    "ModelConfiguration": "PixelClassifier",
    "ModelType": "ImageClassification",
    "ModelFile": "model.onnx",
    "ImageHeight": 64,
    "ImageWidth": 64,
    "ExtractBands": [0, 1, 2],
    "Classes": [
        {"Value": 1, "Name": "Water", "Color": [0, 0, 255]},
        {"Value": 2, "Name": "Land", "Color": [0, 128, 0]},
    ],
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
