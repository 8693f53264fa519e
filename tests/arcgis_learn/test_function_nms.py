"""The NMS ArcGIS's Detect Objects runs after a raster function: on by default, its
parameters under ArcGIS's names among the --arg values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import shapely

import dlpk
from dlpk.errors import UsageError
from dlpk.runners.tasks.inference.function_nms import ToolNms, split_arguments, suppress
from tests.raster_functions import function_package
from tests.rasters import write_raster

#: Per block: two overlapping boxes of class a (IoU 0.6), a box of class b over the first,
#: and a lone box; scores as arcgis.learn's detectors write them (0-100).
OVERLAPS_PRF = """
import json


def ring(x1, y1, x2, y2):
    return [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]


class Overlaps:
    def getParameterInfo(self):
        return [{"name": "raster", "dataType": "raster", "value": None}]

    def getConfiguration(self, **scalars):
        return {"extractBands": (0,), "padding": 0, "tx": 40, "ty": 40}

    def getFields(self):
        return json.dumps({"fields": [{"name": "Class", "type": "esriFieldTypeString"},
                                      {"name": "Confidence", "type": "esriFieldTypeDouble"}]})

    def vectorize(self, **pixelBlocks):
        boxes = [("a", 90.0, (2, 2, 18, 18)), ("a", 50.5, (6, 2, 22, 18)),
                 ("b", 70.0, (2, 2, 18, 18)), ("a", 80.0, (28, 28, 36, 36))]
        features = [{"attributes": {"Class": c, "Confidence": s}, "geometry": {"rings": ring(*b)}}
                    for c, s, b in boxes]
        return {"output_vectors": json.dumps({"features": features})}
"""


@pytest.fixture
def overlapping(tmp_path: Path) -> tuple[Path, Path]:
    package = function_package(tmp_path / "pkg", "Overlaps", OVERLAPS_PRF, "ObjectDetection")
    raster = write_raster(tmp_path / "scene.tif", np.zeros((1, 40, 80), np.uint8))
    return package, raster


def _detect(package: Path, raster: Path, out: Path, **arguments: str) -> dict[str, Any]:
    result = dlpk.detect_objects(package, raster, out, trust_code=True, model_arguments=arguments)
    meta, _, _, fields = pyogrio.raw.read(out)
    columns = dict(zip(meta["fields"], fields, strict=True))
    return {"result": result, "scores": sorted(columns["Confidence"].tolist())}


def test_overlaps_of_a_class_are_merged_by_default(
    overlapping: tuple[Path, Path], tmp_path: Path
) -> None:
    found = _detect(*overlapping, tmp_path / "out.gpkg")
    assert found["scores"] == [70.0, 70.0, 80.0, 80.0, 90.0, 90.0]  # two blocks
    assert found["result"].counts["suppressed"] == 2
    assert found["result"].parameters["arguments"]["run_nms"] == "true"


def test_run_nms_false_keeps_every_box(overlapping: tuple[Path, Path], tmp_path: Path) -> None:
    found = _detect(*overlapping, tmp_path / "out.gpkg", run_nms="NO_NMS")
    assert len(found["scores"]) == 8


def test_max_overlap_ratio_and_class_field(overlapping: tuple[Path, Path], tmp_path: Path) -> None:
    kept = _detect(*overlapping, tmp_path / "loose.gpkg", max_overlap_ratio="0.7")
    assert len(kept["scores"]) == 8  # IoU 0.6 is allowed
    merged = _detect(*overlapping, tmp_path / "all.gpkg", class_value_field="")
    assert merged["scores"] == [80.0, 80.0, 90.0, 90.0]  # b is merged into a's best box


def test_bad_values_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="run_nms"):
        split_arguments({"run_nms": "maybe"})
    with pytest.raises(UsageError, match="max_overlap_ratio"):
        split_arguments({"max_overlap_ratio": "2"})
    settings, rest = split_arguments({"run_nms": "NMS", "padding": "8"})
    assert settings == ToolNms() and rest == {"padding": "8"}


def test_suppress_keeps_the_higher_score_and_unscored_boxes_lose() -> None:
    boxes = [shapely.box(0, 0, 10, 10), shapely.box(1, 0, 11, 10), shapely.box(30, 30, 31, 31)]
    attributes = [{"Class": "a", "Confidence": None}, {"Class": "a", "Confidence": 20}, {}]
    assert suppress(boxes, attributes, ToolNms()) == [1, 2]
