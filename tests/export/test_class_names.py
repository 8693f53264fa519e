"""Class names in an export: read from the features (Esri's Training Samples Manager fields
Classname and Classvalue by default, --class-name-field otherwise) into the root files and
the folders named after classes; label chips carry the classes' colour table; features with
no class value field say so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

import dlpk
from dlpk.cli import main
from dlpk.errors import BadInputError
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters
from tests.rasters import pixel_box

BOXES = [pixel_box(10, 10, 30, 30), pixel_box(120, 40, 40, 30), pixel_box(200, 150, 50, 50)]


def write_labelled(path: Path, fields: dict[str, list[Any]], boxes: list[Any] = BOXES) -> Path:
    """Polygons in the raster's CRS with the given attribute fields (ints or text)."""
    columns = [
        np.array(v, dtype=object if isinstance(v[0], str) or v[0] is None else np.int32)
        for v in fields.values()
    ]
    pyogrio.raw.write(
        path,
        np.array(shapely.to_wkb(np.array(boxes, dtype=object)), dtype=object),
        columns,
        list(fields),
        driver="GPKG",
        crs="EPSG:32633",
        geometry_type="Polygon",
    )
    return path


def params(**kw: Any) -> ExportChipsParameters:
    base: dict[str, Any] = {"tile_size_x": 64, "stride_x": 64, "workers": 1}
    return ExportChipsParameters(**{**base, **kw})


def root_names(out: Path) -> tuple[list[str], list[str], list[str]]:
    """Class names as the .emd, esri_accumulated_stats.json and stats.txt give them."""
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    table = (out / "stats.txt").read_text().splitlines()
    header = next(n for n, line in enumerate(table) if line.startswith("cls name"))
    return (
        [c["Name"] for c in emd["Classes"]],
        [c["ClassName"] for c in stats["Classes"]],
        [line.split()[0] for line in table[header + 1 :]],
    )


def test_training_samples_manager_fields_name_the_classes(tmp_path: Path, rgb_raster: Path) -> None:
    labels = write_labelled(
        tmp_path / "samples.gpkg",
        {"Classname": ["Roof", "Road", "Roof"], "Classvalue": [1, 2, 1]},
    )
    out = tmp_path / "out"
    report = export_chips(rgb_raster, labels, out, params(metadata_format="Classified_Tiles"))
    assert root_names(out) == (["Roof", "Road"],) * 3
    assert report.warnings == []
    # the label chips carry the classes' colours, the .emd's
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    colours = {c["Value"]: (*c["Color"], 255) for c in emd["Classes"]}
    with rasterio.open(next((out / "labels").glob("*.tif"))) as label:
        table = label.colormap(1)
    assert table[0] == (0, 0, 0, 255)
    assert {value: table[value] for value in colours} == colours


def test_label_chips_of_png_exports_carry_the_colour_table(
    tmp_path: Path, rgb_raster: Path
) -> None:
    labels = write_labelled(tmp_path / "samples.gpkg", {"Classvalue": [1, 2, 3]})
    out = tmp_path / "out"
    export_chips(
        rgb_raster, labels, out, params(metadata_format="Classified_Tiles", image_chip_format="PNG")
    )
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    with rasterio.open(next((out / "labels").glob("*.png"))) as label:
        table = label.colormap(1)
    assert [table[c["Value"]] for c in emd["Classes"]] == [
        (*c["Color"], 255) for c in emd["Classes"]
    ]


def test_class_name_field_from_the_cli(
    tmp_path: Path, rgb_raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write_labelled(
        tmp_path / "l.gpkg", {"kind": ["Shed", "Barn", "Barn"], "code": [4, 9, 9]}
    )
    out = tmp_path / "out"
    argv = ["export-chips", "--raster", str(rgb_raster), "--labels", str(labels)]
    argv += ["--format", "RCNN_Masks", "--tile-size", "64", "--class-field", "code"]
    assert main([*argv, "--class-name-field", "kind", "-o", str(out)]) == 0
    assert root_names(out) == (["Shed", "Barn"],) * 3
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["Barn", "Shed"]
    assert main([*argv, "--class-name-field", "label", "-o", str(tmp_path / "o2")]) == 3
    assert "class name field 'label' not found" in capsys.readouterr().err


def test_class_name_field_from_python(tmp_path: Path, rgb_raster: Path) -> None:
    labels = write_labelled(tmp_path / "l.gpkg", {"kind": ["Shed", "Barn", "Barn"]})
    out = tmp_path / "out"
    result = dlpk.export_training_data(
        rgb_raster,
        out,
        labels=labels,
        metadata_format="Imagenet",
        tile_size=64,
        class_name_field="kind",
    )
    # no value field: the names number the classes, in name order, and the result says so
    assert root_names(out) == (["Barn", "Shed"],) * 3
    assert sorted(p.name for p in (out / "images").iterdir()) == ["Barn", "Shed"]
    assert result.parameters["class_name_field"] == "kind"
    [warning] = result.warnings
    assert "numbered from kind in name order (Barn = 1, Shed = 2)" in warning


def test_a_class_with_several_names_takes_the_most_common(tmp_path: Path, rgb_raster: Path) -> None:
    labels = write_labelled(
        tmp_path / "l.gpkg",
        {"Classname": ["tree", "Tree", "Tree"], "Classvalue": [1, 1, 1]},
    )
    out = tmp_path / "out"
    report = export_chips(rgb_raster, labels, out, params(metadata_format="PASCAL_VOC_rectangles"))
    assert root_names(out)[0] == ["Tree"]
    assert report.warnings == [
        "l.gpkg: class 1 is named 'tree', 'Tree'; 'Tree' is used in Classname"
    ]


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["a/b", "c", "d"], "holds a character folder names cannot"),
        (["..", "c", "d"], "is not a folder name"),
        (["Tree", "tree", "x"], "classes 1 and 2 are both named 'tree'"),  # folders ignore case
    ],
)
def test_names_that_cannot_be_folders_are_refused_where_they_name_folders(
    tmp_path: Path, rgb_raster: Path, names: list[str], problem: str
) -> None:
    labels = write_labelled(tmp_path / "l.gpkg", {"Classname": names, "Classvalue": [1, 2, 3]})
    with pytest.raises(BadInputError, match=problem):
        export_chips(rgb_raster, labels, tmp_path / "out", params(metadata_format="RCNN_Masks"))
    assert not (tmp_path / "out").exists()
    # where names name no folder they are only words in the metadata
    report = export_chips(
        rgb_raster, labels, tmp_path / "cls", params(metadata_format="Classified_Tiles")
    )
    assert root_names(tmp_path / "cls")[0] == names
    assert report.warnings == []


def test_no_class_value_field_is_one_class_with_a_warning(
    tmp_path: Path, rgb_raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write_labelled(tmp_path / "l.gpkg", {"type": [3, 4, 5], "height": [1, 2, 3]})
    out = tmp_path / "out"
    argv = ["export-chips", "--raster", str(rgb_raster), "--labels", str(labels)]
    assert main([*argv, "--format", "Classified_Tiles", "--tile-size", "64", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no class value field (value, classvalue) among its fields type, height" in err
    assert "every feature is class 1" in err and "--class-field" in err
    assert root_names(out)[0] == ["1"]


def test_a_file_with_no_fields_is_one_class_without_a_warning(
    tmp_path: Path, rgb_raster: Path
) -> None:
    path = tmp_path / "l.gpkg"
    pyogrio.raw.write(
        path,
        np.array(shapely.to_wkb(np.array(BOXES, dtype=object)), dtype=object),
        [],
        [],
        driver="GPKG",
        crs="EPSG:32633",
        geometry_type="Polygon",
    )
    report = export_chips(rgb_raster, path, tmp_path / "out", params(metadata_format="RCNN_Masks"))
    assert report.warnings == [] and report.counts["classes"] == 1
