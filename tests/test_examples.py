"""The bundled sample data (examples/): rebuilt byte for byte by examples/build_examples.py, a
model that classifies the bundled scene right, and the demo's PNG preview."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio

import dlpk

EXAMPLES = Path(__file__).parents[1] / "examples"
BUNDLED = [
    "scene.tif",
    "buildings.geojson",
    "landcover-samples.geojson",
    "landcover/landcover.emd",
    "landcover/landcover.onnx",
    "landcover.dlpk",
    "esri-doc-example.dlpk",
]


def example_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_bundled_files_are_what_the_build_script_makes(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    build = example_module("build_examples")
    accuracy = build.build(tmp_path)
    assert accuracy == 1.0
    for name in BUNDLED:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
    assert (EXAMPLES / "landcover.dlpk").stat().st_size < 4096  # a few KB at most


def test_the_bundled_model_separates_the_scene_classes(tmp_path: Path) -> None:
    """Fields are Vegetation, roofs and the road Built-up, pixel for pixel."""
    scene = example_module("build_examples").make_scene()
    output = tmp_path / "landcover.tif"
    result = dlpk.classify_pixels(EXAMPLES / "landcover.dlpk", EXAMPLES / "scene.tif", output)
    with rasterio.open(output) as classified:
        classes = classified.read(1)
    truth = np.where(scene.built_up, 2, 1)
    np.testing.assert_array_equal(classes, truth)
    assert result.counts["class_2_pixels"] == int(scene.built_up.sum())
    assert result.counts["class_1_pixels"] == int((~scene.built_up).sum())
    assert result.warnings == []


def test_the_preview_shows_the_image_beside_its_classes(tmp_path: Path) -> None:
    preview = example_module("preview")
    classified = tmp_path / "landcover.tif"
    dlpk.classify_pixels(EXAMPLES / "landcover.dlpk", EXAMPLES / "scene.tif", classified)
    out = tmp_path / "preview.png"
    assert preview.main([str(EXAMPLES / "scene.tif"), str(classified), str(out)]) == 0
    with rasterio.open(EXAMPLES / "scene.tif") as scene, rasterio.open(classified) as result:
        image, classes, colours = scene.read(), result.read(1), result.colormap(1)
    with rasterio.open(out) as png:
        assert png.driver == "PNG"
        picture = png.read()
    width = image.shape[2]
    assert picture.shape == (3, image.shape[1], 2 * width + preview.GAP)
    np.testing.assert_array_equal(picture[:, :, :width], image)
    assert (picture[:, :, width : width + preview.GAP] == 255).all()
    expected = np.stack([np.vectorize(lambda v, i=i: colours[v][i])(classes) for i in range(3)])
    np.testing.assert_array_equal(picture[:, :, width + preview.GAP :], expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "landcover.tif",
        "landcover.tif.aux.xml",
        "preview.png",
    ]
    # an existing preview is kept unless --overwrite
    before = out.read_bytes()
    assert preview.main([str(EXAMPLES / "scene.tif"), str(classified), str(out)]) == 2
    assert out.read_bytes() == before
    argv = [str(EXAMPLES / "scene.tif"), str(classified), str(out), "--overwrite", "--width", "200"]
    assert preview.main(argv) == 0
    with rasterio.open(out) as png:
        assert png.width <= 200
