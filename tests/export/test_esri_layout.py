"""Every metadata format, read back the way arcgis.learn's prepare_data reads an export (see
tests/esri_reader.py), field by field against docs/esri-formats.md#folder-layout and #root-files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters
from tests.esri_reader import load

FORMATS = [
    "Classified_Tiles",
    "PASCAL_VOC_rectangles",
    "KITTI_rectangles",
    "RCNN_Masks",
    "Labeled_Tiles",
    "MultiLabeled_Tiles",
    "Export_Tiles",
    "Imagenet",
]


def export(raster: Path, labels: Path, out: Path, fmt: str, **kw: Any) -> Path:
    params = ExportChipsParameters(
        metadata_format=fmt, tile_size_x=64, stride_x=48, workers=1, **kw
    )
    export_chips(raster, labels if fmt != "Export_Tiles" else None, out, params)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_as_arcgis_learn_reads_it(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, fmt: str
) -> None:
    out = export(rgb_raster, labels_gpkg, tmp_path / fmt, fmt)
    loaded = load(out)
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    assert loaded.mode == fmt and loaded.chip_size == (64, 64)
    assert not loaded.multispectral  # 3 byte bands named Red, Green, Blue
    assert loaded.samples
    # map.txt as Pro writes it: backslashes, two spaces between columns, a trailing space
    for line in (out / "map.txt").read_text().splitlines():
        assert line.endswith(" ") and "/" not in line
        assert ("  " in line) != (fmt == "Imagenet")  # Imagenet lines name the image only
    labels = [lab for _, lab in loaded.samples]
    if fmt == "Classified_Tiles":
        present = set().union(*labels) - {0}
        per_class = stats["ClassPixelStats"]["NumImagesPerClass"]
        assert present == {v for v, n in zip(loaded.classes, per_class, strict=True) if n}
    elif fmt in ("PASCAL_VOC_rectangles", "KITTI_rectangles"):
        assert sum(len(x) for x in labels) == stats["FeatureStats"]["NumFeaturesTotal"]
        assert all(labels), "only tiles with features were asked for"
    elif fmt == "RCNN_Masks":
        # instance ids run 1..n per class mask; a sliver of a feature cut by the tile edge may
        # cover no pixel centre and so never show in its mask
        instances = sum(sum(m.values()) for m in labels)
        total = stats["FeatureStats"]["NumFeaturesTotal"]
        assert 0.85 * total <= instances <= total
    elif fmt == "Labeled_Tiles":
        assert all(len(x) == 1 for x in labels)
    elif fmt == "MultiLabeled_Tiles":
        assert all(len(x) == 1 and x[0] == sorted(x[0]) for x in labels)
    elif fmt == "Imagenet":
        # one chip per feature, in the folder of the feature's class
        assert len(labels) == stats["FeatureStats"]["NumFeaturesTotal"]
        per_class = dict(
            zip(loaded.classes, stats["FeatureStats"]["NumImagesPerClass"], strict=True)
        )
        assert {v: labels.count(v) for v in loaded.classes} == per_class
    else:
        assert labels == [None] * len(labels)


def test_pascal_names_hold_the_class_value(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    """Observed exports put the class value (not a name) in <name>
    (docs/esri-formats.md#folder-layout)."""
    out = export(rgb_raster, labels_gpkg, tmp_path / "p", "PASCAL_VOC_rectangles")
    text = next((out / "labels").glob("*.xml")).read_text()
    assert any(f"<name>{v}</name>" in text for v in (1, 2, 3))


def test_change_detection_folder_reads_back(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "cd"
    params = ExportChipsParameters(
        metadata_format="Classified_Tiles", tile_size_x=64, stride_x=64, workers=1
    )
    export_chips(rgb_raster, labels_gpkg, out, params, raster2=rgb_raster)
    loaded = load(out)
    assert len(loaded.second_images) == len(loaded.samples) > 0


def test_panoptic_folder_reads_back(tmp_path: Path, rgb_raster: Path, labels_gpkg: Path) -> None:
    out = tmp_path / "panoptic"
    params = ExportChipsParameters(
        metadata_format="Panoptic_Segmentation", tile_size_x=64, stride_x=48, workers=1
    )
    export_chips(rgb_raster, labels_gpkg, out, params, instance_data=labels_gpkg)
    loaded = load(out)
    assert loaded.mode == "Panoptic_Segmentation" and loaded.samples
    # the instances being the class features themselves, a chip has an instance in some mask
    # exactly when it has a class pixel (a sliver may touch a tile yet cover no pixel centre)
    assert all(bool(sem - {0}) == (max(inst.values()) > 0) for _, (sem, inst) in loaded.samples)
    assert sum(bool(sem - {0}) for _, (sem, _) in loaded.samples) > len(loaded.samples) // 2


def test_cycle_gan_halves_read_back(tmp_path: Path, rgb_raster: Path) -> None:
    """CycleGAN: A/ and B/ are each an export folder of their own
    (docs/esri-formats.md#folder-layout)."""
    out = tmp_path / "cg"
    params = ExportChipsParameters(
        metadata_format="CycleGAN", tile_size_x=64, stride_x=64, workers=1
    )
    export_chips(rgb_raster, None, out, params, raster2=rgb_raster)
    a, b = load(out / "A"), load(out / "B")
    assert a.mode == b.mode == "CycleGAN"
    assert len(a.samples) == len(b.samples) > 0


# -- the reader is strict: each of these breaks one thing arcgis.learn relies on ------------------
def _break_map_slashes(out: Path) -> None:
    path = out / "map.txt"
    path.write_text(path.read_text().replace("\\", "/"))


def _break_one_column(out: Path) -> None:
    path = out / "map.txt"
    path.write_text("".join(line.split()[0] + "\n" for line in path.read_text().splitlines()))


def _drop_band_stats_state(out: Path) -> None:
    path = out / "esri_accumulated_stats.json"
    doc = json.loads(path.read_text())
    del doc["BandStatsState"][0]["M2"]
    path.write_text(json.dumps(doc))


def _rename_class_key(out: Path) -> None:
    path = out / "esri_accumulated_stats.json"
    doc = json.loads(path.read_text())
    doc["Classes"] = [{"Value": c["ClassValue"], "Name": c["ClassName"]} for c in doc["Classes"]]
    path.write_text(json.dumps(doc))


def _kitti_14_columns(out: Path) -> None:
    label = next(p for p in sorted((out / "labels").glob("*.txt")) if p.read_text())
    label.write_text(
        "".join(" ".join(r.split()[:14]) + "\n" for r in label.read_text().splitlines())
    )


def _drop_emd(out: Path) -> None:
    (out / "esri_model_definition.emd").unlink()


def _extra_image(out: Path) -> None:
    first = sorted((out / "images").glob("*.tif"))[0]
    shutil.copy(first, out / "images" / "999999999.tif")


@pytest.mark.parametrize(
    "fmt,breaker",
    [
        ("PASCAL_VOC_rectangles", _break_map_slashes),
        ("PASCAL_VOC_rectangles", _break_one_column),
        ("Classified_Tiles", _drop_band_stats_state),
        ("Classified_Tiles", _rename_class_key),
        ("KITTI_rectangles", _kitti_14_columns),
        ("RCNN_Masks", _drop_emd),
        ("Export_Tiles", _extra_image),
    ],
)
def test_reader_rejects_broken_exports(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, fmt: str, breaker: Any
) -> None:
    out = export(rgb_raster, labels_gpkg, tmp_path / fmt, fmt)
    load(out)  # fine as written
    breaker(out)
    with pytest.raises((AssertionError, KeyError)):
        load(out)
