"""classify-pixels with a background channel (one output channel more than Classes): for
dlpk's own configurations it may win, and is written as 0 with a Background row; the summary
says so, and counts every class's pixels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

import dlpk
from dlpk.cli import main
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from tests.gdal_rat import read_category_names
from tests.inference_models import conv_stack, emd, package, save_torchscript, write_raster

torch = pytest.importorskip("torch")

BUILDING = [{"Value": 1, "Name": "Building", "Color": [230, 0, 0]}]
ROADS = [*BUILDING, {"Value": 2, "Name": "Road", "Color": [90, 90, 90]}]


class Bands(torch.nn.Module):  # type: ignore[misc]
    """Scores that are the input's bands: channel i wins where band i is the largest."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def bands_model(tmp_path: Path, classes: list[dict[str, Any]], **extra: Any) -> Path:
    """A model of `len(classes) + 1` channels: background first, then the classes."""
    folder = tmp_path / "model"
    folder.mkdir()
    save_torchscript(Bands(), folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier", Classes=classes)
    document["IsImageNetNormalization"] = False  # the scores are the pixel values
    return package(folder, {**document, **extra})


def thirds(rows: int = 12, cols: int = 12) -> np.ndarray:
    """Three bands, each brightest in one third of the columns (left: band 0, ...)."""
    data = np.zeros((3, rows, cols), dtype=np.uint8)
    third = cols // 3
    for band in range(3):
        data[band, :, band * third : (band + 1) * third] = 200
    return data


def test_background_is_written_as_zero_with_its_row_and_a_note(tmp_path: Path) -> None:
    model = bands_model(tmp_path, ROADS)
    raster = write_raster(tmp_path / "in.tif", thirds())
    output = tmp_path / "out.tif"
    summary = classify_pixels(model, raster, output, {"padding": "2"}, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
        colours = result.colormap(1)
    assert (classes[:, :4] == 0).all() and (classes[:, 4:8] == 1).all()
    assert (classes[:, 8:] == 2).all()
    counts = summary.counts
    assert [counts["class_0_pixels"], counts["class_1_pixels"], counts["class_2_pixels"]] == [
        48,
        48,
        48,
    ]
    assert list(counts)[-3:] == ["class_0_pixels", "class_1_pixels", "class_2_pixels"]
    table = ET.parse(tmp_path / "out.tif.aux.xml").find(".//GDALRasterAttributeTable")
    assert table is not None
    rows = [[cell.text for cell in row.findall("F")] for row in table.findall("Row")]
    assert [row[:2] for row in rows] == [["0", "Background"], ["1", "Building"], ["2", "Road"]]
    assert colours[0] == (0, 0, 0, 255) and colours[2] == (90, 90, 90, 255)
    assert read_category_names(output) == ["Background", "Building", "Road"]
    [note] = [w for w in summary.warnings if "background" in w]
    assert "3 channels for 2 class(es)" in note and "predict_background=False" in note


def test_predict_background_false_gives_every_pixel_a_class(tmp_path: Path) -> None:
    model = bands_model(tmp_path, ROADS)
    raster = write_raster(tmp_path / "in.tif", thirds())
    output = tmp_path / "out.tif"
    arguments = {"padding": "2", "predict_background": "False"}
    summary = classify_pixels(model, raster, output, arguments, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
    assert 0 not in classes and (classes[:, 8:] == 2).all()
    assert "class_0_pixels" not in summary.counts
    assert summary.counts["class_1_pixels"] + summary.counts["class_2_pixels"] == 144
    assert read_category_names(output) == ["", "Building", "Road"]
    assert not [w for w in summary.warnings if "background" in w]  # the user chose


def test_one_channel_per_class_has_no_background(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    save_torchscript(conv_stack(3, 2, seed=1), folder / "model.pt")
    model = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    raster = write_raster(tmp_path / "in.tif", thirds())
    summary = classify_pixels(model, raster, tmp_path / "out.tif", {}, "cpu", quiet)
    assert "class_0_pixels" not in summary.counts
    assert summary.counts["class_1_pixels"] + summary.counts["class_5_pixels"] == 144
    assert read_category_names(tmp_path / "out.tif")[0] == ""  # no Background row
    assert not [w for w in summary.warnings if "background" in w]


def test_the_done_line_counts_each_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = bands_model(tmp_path, [*BUILDING, {"Value": 7, "Name": "Tree"}])
    raster = write_raster(tmp_path / "in.tif", thirds())
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster)]
    assert main([*argv, "-o", str(tmp_path / "out.tif"), "--arg", "padding=2"]) == 0
    captured = capsys.readouterr()
    assert "class_0_pixels 48, class_1_pixels 48, class_7_pixels 48" in captured.out
    assert "channel 0 is background, written as 0" in captured.err


def test_resumed_counts_cover_the_whole_raster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-class counts live in the checkpoint: a resumed run reports the whole raster's."""
    monkeypatch.setenv("DLPK_CHECKPOINT_SECONDS", "0")
    model = bands_model(tmp_path, ROADS)
    raster = write_raster(tmp_path / "in.tif", thirds(96, 96))
    arguments = {"tile_size": "16", "padding": "2", "batch_size": "1"}
    whole = dlpk.classify_pixels(model, raster, tmp_path / "whole.tif", model_arguments=arguments)

    def stop(stage: str, done: int, total: int) -> None:
        if stage == "infer" and done >= 5:
            raise KeyboardInterrupt

    output = tmp_path / "out.tif"
    with pytest.raises(KeyboardInterrupt):
        dlpk.classify_pixels(model, raster, output, model_arguments=arguments, progress=stop)
    resumed = dlpk.classify_pixels(model, raster, output, model_arguments=arguments, resume=True)
    assert resumed.counts == whole.counts
    assert [resumed.counts[f"class_{v}_pixels"] for v in (0, 1, 2)] == [3072, 3072, 3072]
    assert read_category_names(output) == ["Background", "Building", "Road"]


def test_a_resume_with_every_tile_done_says_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after its last tile was recorded: the resume runs no batch, yet writes the
    Background row and gives the same summary as an uninterrupted run."""
    monkeypatch.setenv("DLPK_CHECKPOINT_SECONDS", "0")
    model = bands_model(tmp_path, ROADS)
    raster = write_raster(tmp_path / "in.tif", thirds(48, 48))
    arguments = {"tile_size": "16", "padding": "2"}
    whole = dlpk.classify_pixels(model, raster, tmp_path / "whole.tif", model_arguments=arguments)

    def stop_at_the_end(stage: str, done: int, total: int) -> None:
        if stage == "infer" and done == total:
            raise KeyboardInterrupt

    output = tmp_path / "out.tif"
    with pytest.raises(KeyboardInterrupt):
        dlpk.classify_pixels(
            model, raster, output, model_arguments=arguments, progress=stop_at_the_end
        )
    resumed = dlpk.classify_pixels(model, raster, output, model_arguments=arguments, resume=True)
    assert resumed.warnings == whole.warnings and len(whole.warnings) == 1
    assert resumed.counts == whole.counts
    assert read_category_names(output) == ["Background", "Building", "Road"]
