"""An integer class Name, as in Esri's Living Atlas road-extraction .emd: ArcGIS reads it as its
text, lint warns (DL206), and the runner runs the package with the Name as text."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import dlpk
from dlpk.spec.emd import EsriModelDefinition
from tests.conftest import REPO
from tests.gdal_rat import read_attribute_table

LANDCOVER = REPO / "examples" / "landcover.dlpk"


def _with_integer_name(path: Path) -> Path:
    with zipfile.ZipFile(LANDCOVER) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".emd"):
                document = json.loads(data)
                document["Classes"][0]["Name"] = 7
                data = json.dumps(document, indent=2).encode()
            target.writestr(info.filename, data)
    return path


def document_value(package: Path) -> int:
    document = json.loads(zipfile.ZipFile(package).read("landcover.emd"))
    return int(document["Classes"][0]["Value"])


def test_an_integer_class_name_is_read_as_its_text(tmp_path: Path) -> None:
    package = _with_integer_name(tmp_path / "roads.dlpk")
    report = dlpk.lint(package)
    assert report.ok and [d.code for d in report.warnings] == ["DL206"]
    output = tmp_path / "classes.tif"
    dlpk.classify_pixels(package, REPO / "examples" / "scene.tif", output)
    table = read_attribute_table(output)
    assert table is not None
    assert [row[1] for row in table.rows if row[0] == str(document_value(package))] == ["7"]
    document = json.loads(zipfile.ZipFile(package).read("landcover.emd"))
    assert EsriModelDefinition.model_validate(document).Classes[0].Name == "7"
