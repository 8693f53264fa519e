"""The arcpy stand-in: present only while a raster function runs and no real arcpy exists,
set from --device, and its messages reach the job's log and warnings."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest

import dlpk
from dlpk.runners.models.arcpy_standin import provided_arcpy
from tests.raster_functions import function_package
from tests.rasters import write_raster

#: A detector that needs arcpy as arcgis.learn's functions do: imported at module level, the
#: device read back from arcpy.env, a warning through AddWarning.
ARCPY_PRF = """
import json
import arcpy


class UsesArcpy:
    def initialize(self, **kwargs):
        if kwargs["device"] >= 0:
            arcpy.env.processorType = "GPU"
        self.device = arcpy.env.processorType

    def getParameterInfo(self):
        return [{"name": "raster", "dataType": "raster", "value": None}]

    def getConfiguration(self, **scalars):
        return {"extractBands": (0,), "padding": 0, "tx": 32, "ty": 32}

    def getFields(self):
        return json.dumps({"fields": [
            {"name": "Class", "type": "esriFieldTypeString"},
            {"name": "Device", "type": "esriFieldTypeString"},
            {"name": "Confidence", "type": "esriFieldTypeDouble"},
        ]})

    def vectorize(self, **pixelBlocks):
        arcpy.AddMessage("a block")
        arcpy.AddWarning("blocks are   small")
        ring = [[4.0, 4.0], [12.0, 4.0], [12.0, 12.0], [4.0, 12.0], [4.0, 4.0]]
        feature = {"attributes": {"Class": "blob", "Device": self.device, "Confidence": "61.5"},
                   "geometry": {"rings": [ring]}}
        return {"output_vectors": json.dumps({"features": [feature]})}
"""


def test_the_standin_exists_only_inside_the_block() -> None:
    assert "arcpy" not in sys.modules
    with provided_arcpy("gpu") as arcpy:
        import arcpy as imported  # type: ignore[import-not-found]

        assert imported is arcpy
        assert (imported.env.processorType, imported.env.gpuId) == ("GPU", "0")
        assert imported.env.outputCoordinateSystem is None  # unset settings read as None
        imported.AddWarning("one\nline")
        assert imported.warnings_said == ["one line"]
        with pytest.raises(AttributeError):
            imported.Describe  # noqa: B018 - nothing more of arcpy is pretended
    assert "arcpy" not in sys.modules
    with provided_arcpy("cpu") as arcpy:
        assert arcpy is not None and arcpy.env.processorType == "CPU"


def test_a_real_arcpy_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "arcpy.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with provided_arcpy("cpu") as standin:
        assert standin is None
        import arcpy

        assert arcpy.REAL
    sys.modules.pop("arcpy", None)


def test_a_function_importing_arcpy_runs_and_its_warnings_are_reported(tmp_path: Path) -> None:
    package = function_package(tmp_path / "pkg", "UsesArcpy", ARCPY_PRF, "ObjectDetection")
    raster = write_raster(tmp_path / "scene.tif", np.full((1, 64, 64), 9, np.uint8))
    out = tmp_path / "found.gpkg"
    result = dlpk.detect_objects(package, raster, out, trust_code=True)
    assert result.counts["detections"] == 4  # one a block: ArcGIS's NMS has nothing to merge
    assert "UsesArcpy.py: blocks are small" in result.warnings
    meta, _, _, fields = pyogrio.raw.read(out)
    columns = dict(zip(meta["fields"], fields, strict=True))
    assert set(columns["Device"]) == {"CPU"}
    assert columns["Confidence"].dtype.kind == "f"  # a double field, though given as text
    np.testing.assert_array_equal(columns["Confidence"], 61.5)
    assert "arcpy" not in sys.modules
