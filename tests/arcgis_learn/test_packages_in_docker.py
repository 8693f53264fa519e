"""Packages straight from arcgis.learn's save() run through dlpk in the arcgis-learn image and
give arcgis.learn's own answers on the same pixels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from dlpk.cli.main import main
from tests.arcgis_learn.conftest import WINDOW
from tests.rasters import pixel_box, write_features

#: The FeatureClassifier test's features: WINDOW-px boxes (top-left row, col in pixels),
#: as in_image/make_packages.py's WINDOWS.
WINDOWS = [(0, 0), (0, 64), (64, 32), (96, 96)]


def dlpk_cli(*args: str | Path) -> None:
    code = main([str(a) for a in args])
    assert code == 0, f"dlpk {' '.join(map(str, args))} exited {code}"


def reference(work: Path, family: str) -> dict[str, Any]:
    return dict(json.loads((work / f"{family}.json").read_text()))


def pixel_boxes(layer: Path, raster: Path) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
    """The layer's polygons' bounds in the raster's pixels (x0, y0, x1, y1), and its fields."""
    meta, _, wkb, fields = pyogrio.raw.read(layer)
    with rasterio.open(raster) as dataset:
        inverse = ~dataset.transform
    bounds = shapely.bounds(shapely.from_wkb(wkb))
    corners = [(*(inverse @ (x0, y1)), *(inverse @ (x1, y0))) for x0, y0, x1, y1 in bounds]
    return np.array(corners).reshape(-1, 4), dict(zip(meta["fields"], fields, strict=True))


def test_save_writes_what_lint_knows(arcgis_learn_work: Path) -> None:
    for family in ("unet", "ssd", "fc", "mrcnn"):
        package = arcgis_learn_work / family / f"{family}.dlpk"
        names = zipfile.ZipFile(package).namelist()
        assert any(n.startswith("ModelCharacteristics/") for n in names)
        dlpk_cli("lint", package, "--strict")


def test_unet_classes_equal_arcgis_learn(arcgis_learn_work: Path, tmp_path: Path) -> None:
    out = tmp_path / "classes.tif"
    package = arcgis_learn_work / "unet" / "unet.dlpk"
    dlpk_cli("classify-pixels", "--model", package, "--raster", arcgis_learn_work / "scene.tif",
             "-o", out, "--backend", "docker", "--arg", "padding=16")  # fmt: skip
    with rasterio.open(out) as dataset:
        found = dataset.read(1)
    expected = reference(arcgis_learn_work, "unet")
    classes, margins = np.array(expected["classes"]), np.array(expected["margins"])
    assert found.shape == classes.shape
    assert len(np.unique(classes)) > 1  # an untrained model still tells pixels apart
    decided = margins > 1e-4  # not a tie that float rounding settles either way
    assert decided.mean() > 0.999
    np.testing.assert_array_equal(found[decided], classes[decided])


def _ssd(work: Path, out: Path, raster: Path, *extra: str) -> None:
    dlpk_cli("detect-objects", "--model", work / "ssd" / "ssd.dlpk", "--raster", raster,
             "-o", out, "--backend", "docker", "--arg", "threshold=0.1", *extra)  # fmt: skip


def test_ssd_boxes_equal_predict(arcgis_learn_work: Path, tmp_path: Path) -> None:
    """One block, the whole window, no padding, boxes at its edge kept: every box predict()
    gives, at IoU 1 (predict clips boxes to the image; a box dlpk lacks is one whose centre
    lies outside it)."""
    out, window = tmp_path / "boxes.gpkg", arcgis_learn_work / "window.tif"
    _ssd(arcgis_learn_work, out, window, "--arg", "padding=0", "--arg", "batch_size=1",
         "--arg", "exclude_pad_detections=False", "--arg", "run_nms=false")  # fmt: skip
    boxes, fields = pixel_boxes(out, window)
    assert fields["Confidence"].dtype.kind == "f"  # declared double: written as a number
    expected = reference(arcgis_learn_work, "ssd")
    assert expected["boxes"], "the untrained SSD found nothing to compare"
    clipped = np.clip(boxes, 0, WINDOW)
    matched = set()
    for (x, y, w, h), score, label in zip(
        expected["boxes"], expected["scores"], expected["labels"], strict=True
    ):
        same = np.flatnonzero(np.isclose(fields["Confidence"], 100 * score, atol=1e-3))
        if not same.size:
            assert min(x, y) <= 0 or max(x + w, y + h) >= WINDOW, "a box inside is missing"
            continue
        hit = [
            i
            for i in same
            if i not in matched
            and str(fields["Class"][i]) == str(label)
            and np.allclose(clipped[i], [x, y, x + w, y + h], atol=1e-2)
        ]
        assert hit, f"no box of dlpk's equals {label} {score} at {(x, y, w, h)}"
        matched.add(hit[0])
    assert matched == set(range(len(boxes)))


def test_ssd_overlaps_are_merged_by_the_tools_nms(arcgis_learn_work: Path, tmp_path: Path) -> None:
    """Over many blocks, ArcGISObjectDetector leaves overlapping copies for the tool's NMS."""
    scene = arcgis_learn_work / "scene.tif"
    raw, merged = tmp_path / "raw.gpkg", tmp_path / "merged.gpkg"
    _ssd(arcgis_learn_work, raw, scene, "--arg", "run_nms=false")
    _ssd(arcgis_learn_work, merged, scene, "--arg", "max_overlap_ratio=0.3")
    raw_boxes, _ = pixel_boxes(raw, scene)
    boxes, fields = pixel_boxes(merged, scene)
    assert 0 < len(boxes) < len(raw_boxes)
    polygons = [shapely.box(*b) for b in boxes]
    for i, a in enumerate(polygons):
        for j in range(i + 1, len(polygons)):
            if fields["Class"][i] == fields["Class"][j]:
                b = polygons[j]
                iou = shapely.area(a & b) / shapely.area(a | b)
                assert iou <= 0.3 + 1e-9


def test_feature_classifier_labels_equal_predict(arcgis_learn_work: Path, tmp_path: Path) -> None:
    features = write_features(
        tmp_path / "objects.gpkg", [pixel_box(c, r, WINDOW, WINDOW) for r, c in WINDOWS], None
    )
    out = tmp_path / "labelled.gpkg"
    dlpk_cli("classify-objects", "--model", arcgis_learn_work / "fc" / "fc.dlpk",
             "--raster", arcgis_learn_work / "scene.tif", "--features", features, "-o", out,
             "--backend", "docker")  # fmt: skip
    meta, _, _, fields = pyogrio.raw.read(out)
    labels = dict(zip(meta["fields"], fields, strict=True))["ClassLabel"]
    expected = reference(arcgis_learn_work, "fc")
    assert [str(v) for v in labels] == expected["labels"]
    # from_model built the learner from the image's seeded backbone; the .pth replaced it all
    assert expected["overwritten"] and expected["tensors"] > 100


def test_mask_rcnn_detections_equal_the_models(arcgis_learn_work: Path, tmp_path: Path) -> None:
    """Every instance dlpk writes is one of the model's own detections on the same pixels, with
    its score x 100 (a detection whose mask holds no pixel above 0.5 has no polygon, one whose
    mask has several parts a polygon each)."""
    out, window = tmp_path / "instances.gpkg", arcgis_learn_work / "window.tif"
    dlpk_cli("detect-objects", "--model", arcgis_learn_work / "mrcnn" / "mrcnn.dlpk",
             "--raster", window, "-o", out, "--backend", "docker", "--arg", "padding=0",
             "--arg", "batch_size=1", "--arg", "threshold=0.1",
             "--arg", "run_nms=false")  # fmt: skip
    _, fields = pixel_boxes(out, window)
    expected = 100 * np.array(reference(arcgis_learn_work, "mrcnn")["scores"])
    assert expected.size, "the untrained MaskRCNN found nothing to compare"
    found = np.unique(np.asarray(fields["Confidence"], dtype=float))  # a mask in parts: one each
    assert 0 < found.size <= expected.size
    assert all(np.isclose(expected, score, atol=1e-3).any() for score in found)


@pytest.mark.parametrize("family", ["unet", "ssd", "fc"])
def test_deep_lint_checks_the_head_against_classes(arcgis_learn_work: Path, family: str) -> None:
    dlpk_cli("lint", arcgis_learn_work / family / f"{family}.dlpk", "--deep")


def test_a_local_run_with_the_extra_installed_writes_the_containers_bytes(
    arcgis_learn_work: Path, tmp_path: Path
) -> None:
    """`pip install 'dlpk[arcgis-learn]'` and `--trust-code`: the same stand-ins (arcpy, the
    offline fixes) serve a local runner process, and the classes are the container's."""
    from tests.arcgis_learn.conftest import run_in_image

    package = arcgis_learn_work / "unet" / "unet.dlpk"
    in_container = tmp_path / "docker.tif"
    dlpk_cli("classify-pixels", "--model", package, "--raster", arcgis_learn_work / "scene.tif",
             "-o", in_container, "--backend", "docker", "--arg", "padding=16")  # fmt: skip
    run_in_image(arcgis_learn_work, "run_local.py", "classify-pixels", "--model",
                 "/work/unet/unet.dlpk", "--raster", "/work/scene.tif", "-o", "/work/local.tif",
                 "--backend", "local", "--trust-code", "--arg", "padding=16")  # fmt: skip
    local = arcgis_learn_work / "local.tif"
    try:
        assert local.read_bytes() == in_container.read_bytes()
    finally:
        local.unlink()
        Path(f"{local}.aux.xml").unlink(missing_ok=True)
