"""classify-pixels end to end: tiny TorchScript and ONNX models packed as .dlpk, real GeoTIFFs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dlpk.cli import main
from dlpk.runners.io.raster_source import normaliser_for
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.spec.emd import EsriModelDefinition
from tests.gdal_rat import read_attribute_table, read_category_names
from tests.inference_models import (
    CLASSES,
    TRANSFORM,
    conv_stack,
    emd,
    package,
    save_onnx,
    save_torchscript,
    seeded_rgb,
    write_raster,
)

torch = pytest.importorskip("torch")


def one_pass(module: Any, document: dict[str, Any], data: np.ndarray, padding: int) -> np.ndarray:
    """Class Values from one forward over the whole image framed by `padding` zeros."""
    definition = EsriModelDefinition.model_validate(document)
    bands = list(range(data.shape[0]))
    normalised = normaliser_for(definition, bands, data.dtype.name)(data.astype(np.float32))
    framed = np.pad(normalised, ((0, 0), (padding, padding), (padding, padding)))
    with torch.inference_mode():
        scores = module(torch.from_numpy(framed[np.newaxis])).numpy()[0]
    scores = scores[:, padding:-padding, padding:-padding]
    values = np.array([0] + [c["Value"] for c in CLASSES])  # channel 0 is background
    return np.asarray(values[np.argmax(scores, axis=0)])


@pytest.fixture
def torchscript_package(tmp_path: Path) -> tuple[Path, Any, dict[str, Any]]:
    module = conv_stack(3, 3)
    folder = tmp_path / "pixels"
    folder.mkdir()
    save_torchscript(module, folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier")
    return package(folder, document), module, document


@pytest.mark.parametrize(("rows", "cols", "tile", "padding"), [(45, 70, 32, 8), (20, 13, 16, 3)])
def test_tiled_classes_equal_one_pass(
    tmp_path: Path,
    torchscript_package: tuple[Path, Any, dict[str, Any]],
    rows: int,
    cols: int,
    tile: int,
    padding: int,
) -> None:
    dlpk_path, module, document = torchscript_package
    data = seeded_rgb(rows, cols, seed=rows)
    raster = write_raster(tmp_path / "in.tif", data)
    output = tmp_path / "out.tif"
    args = {"tile_size": str(tile), "padding": str(padding), "batch_size": "3"}
    summary = classify_pixels(dlpk_path, raster, output, args, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
        assert result.crs.to_epsg() == 32633 and result.transform == TRANSFORM
        assert result.dtypes[0] == "uint8" and result.nodata == 255
        assert result.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert result.profile["compress"].lower() == "deflate" and result.profile["tiled"]
        assert result.colormap(1)[1] == (0, 0, 255, 255)
        assert result.colormap(1)[5] == (0, 128, 0, 255)
    np.testing.assert_array_equal(classes, one_pass(module, document, data, padding))
    assert set(np.unique(classes)) == {0, 1, 5}
    assert summary.counts["tiles"] > 1 and summary.counts["pixels"] == rows * cols
    for value in (0, 1, 5):
        assert summary.counts[f"class_{value}_pixels"] == (classes == value).sum()
    assert summary.arguments["padding"] == str(padding) and "threshold" not in summary.arguments


def test_raster_attribute_table(
    tmp_path: Path, torchscript_package: tuple[Path, Any, dict[str, Any]]
) -> None:
    dlpk_path, _, _ = torchscript_package
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    output = tmp_path / "out.tif"
    classify_pixels(dlpk_path, raster, output, {}, "cpu", quiet)
    table = ET.parse(tmp_path / "out.tif.aux.xml").find(".//GDALRasterAttributeTable")
    assert table is not None
    names = [f.findtext("Name") for f in table.findall("FieldDefn")]
    assert names == ["Value", "Class", "Red", "Green", "Blue"]
    rows = [[cell.text for cell in row.findall("F")] for row in table.findall("Row")]
    assert rows == [
        ["0", "Background", "0", "0", "0"],  # the model's background channel writes 0
        ["1", "Water", "0", "0", "255"],
        ["5", "Forest", "0", "128", "0"],
    ]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    # and as GDAL itself reads it, with the colour table rasterio sees
    seen = read_attribute_table(output)
    assert seen is not None and seen.table_type == "thematic"
    assert [(c.name, c.usage) for c in seen.columns] == [
        ("Value", "MinMax"),
        ("Class", "Name"),
        ("Red", "Red"),
        ("Green", "Green"),
        ("Blue", "Blue"),
    ]
    assert seen.rows == rows
    assert seen.integers == [[0, 0, 0, 0], *([c["Value"], *c["Color"]] for c in CLASSES)]
    with rasterio.open(output) as result:
        colours = result.colormap(1)
    assert [colours[c["Value"]] for c in CLASSES] == [(*c["Color"], 255) for c in CLASSES]
    # GDAL's category names beside the table: what QGIS 3.22 shows, indexed by pixel value
    assert read_category_names(output) == ["Background", "Water", "", "", "", "Forest"]


def test_onnx_matches_torchscript(tmp_path: Path) -> None:
    module = conv_stack(3, 3, seed=4)
    data = seeded_rgb(30, 41, seed=2)
    raster = write_raster(tmp_path / "in.tif", data)
    results = []
    for framework, name in (("ONNX", "model.onnx"), ("TorchScript", "model.pt")):
        folder = tmp_path / framework
        folder.mkdir()
        if framework == "ONNX":
            save_onnx(module, folder / name, 3)
        else:
            save_torchscript(module, folder / name)
        dlpk_path = package(folder, emd(name, framework, "PixelClassifier"))
        output = tmp_path / f"{framework}.tif"
        classify_pixels(dlpk_path, raster, output, {"padding": "4"}, "cpu", quiet)
        with rasterio.open(output) as result:
            results.append(result.read(1))
    # Different runtimes round differently; near-ties may flip, nothing else may.
    assert (results[0] == results[1]).mean() > 0.99


def test_nodata_and_16bit_multiband_with_normalization_stats(tmp_path: Path) -> None:
    """4 bands of uint16, ExtractBands by name, NormalizationStats; nodata pixels stay nodata."""
    module = conv_stack(2, 2, seed=5)  # two classes, no background channel
    folder = tmp_path / "ms"
    folder.mkdir()
    save_torchscript(module, folder / "model.pt")
    stats = {
        "band_min_values": [0, 0, 0, 0],
        "band_max_values": [4000, 5000, 6000, 7000],
        "scaled_mean_values": [0.5, 0.4, 0.3, 0.2],
        "scaled_std_values": [0.2, 0.2, 0.2, 0.2],
    }
    document = emd(
        "model.pt",
        "TorchScript",
        "PixelClassifier",
        ExtractBands=["NearInfrared", "Red"],
        NormalizationStats=stats,
        IsMultispectral=True,
    )
    dlpk_path = package(folder, document)
    data = np.random.default_rng(9).integers(1, 7000, (4, 25, 30)).astype(np.uint16)
    data[:, 3:6, 10:20] = 0
    names = ["Blue", "Green", "Red", "NearInfrared"]
    raster = write_raster(tmp_path / "ms.tif", data, nodata=0, descriptions=names)
    output = tmp_path / "out.tif"
    summary = classify_pixels(dlpk_path, raster, output, {"padding": "4"}, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
    assert (classes[3:6, 10:20] == 255).all()
    assert summary.counts["nodata_pixels"] == 30
    assert set(np.unique(np.delete(classes.ravel(), np.flatnonzero(classes == 255)))) <= {1, 5}
    # Band order follows ExtractBands: NearInfrared (index 3) first, then Red (index 2).
    definition = EsriModelDefinition.model_validate(document)
    normalised = normaliser_for(definition, [3, 2], "uint16")(data[[3, 2]].astype(np.float32))
    normalised[:, 3:6, 10:20] = 0
    framed = np.pad(normalised, ((0, 0), (4, 4), (4, 4)))
    with torch.inference_mode():
        scores = module(torch.from_numpy(framed[np.newaxis])).numpy()[0, :, 4:-4, 4:-4]
    expected = np.array([1, 5])[np.argmax(scores, axis=0)]
    expected[3:6, 10:20] = 255
    np.testing.assert_array_equal(classes, expected)


def test_cli_classify_pixels_and_overwrite(
    tmp_path: Path,
    torchscript_package: tuple[Path, Any, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dlpk_path, _, _ = torchscript_package
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    output = tmp_path / "out.tif"
    argv = ["classify-pixels", "--model", str(dlpk_path), "--raster", str(raster), "-o"]
    argv += [str(output), "--arg", "padding=4", "--device", "cpu"]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    before = output.read_bytes()
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert output.read_bytes() == before
    assert main([*argv, "--overwrite", "--arg", "predict_background=True"]) == 0
