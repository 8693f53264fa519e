"""Inference over a folder of images: one VRT mosaic of them, as ArcGIS's default
PROCESS_AS_MOSAICKED_IMAGE, through the job contract."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine

from dlpk.cli import main
from tests.inference_models import (
    CRS,
    TRANSFORM,
    conv_stack,
    emd,
    make_detector,
    package,
    save_torchscript,
    seeded_rgb,
    write_raster,
)

torch = pytest.importorskip("torch")


def cut(data: np.ndarray[Any, Any], folder: Path, nodata: float | None = None) -> Path:
    """`data` (on TRANSFORM) as four overlapping GeoTIFF tiles, plus a file that is not one."""
    folder.mkdir()
    height, width = data.shape[1:]
    rows = [(0, height // 2 + 3), (height // 2 - 2, height)]
    cols = [(0, width // 2 + 5), (width // 2 - 4, width)]
    for n, ((r0, r1), (c0, c1)) in enumerate((r, c) for r in rows for c in cols):
        profile = {
            "driver": "GTiff",
            "count": data.shape[0],
            "height": r1 - r0,
            "width": c1 - c0,
            "dtype": data.dtype.name,
            "crs": CRS,
            "transform": TRANSFORM @ Affine.translation(c0, r0),
            "nodata": nodata,
        }
        with rasterio.open(folder / f"part_{n}.tif", "w", **profile) as dst:
            dst.write(data[:, r0:r1, c0:c1])
    (folder / "delivery.pdf").write_bytes(b"%PDF-1.4 not an image")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main([*argv, "--device", "cpu"]) == 0, capsys.readouterr().err
    return capsys.readouterr().err


def pixel_model(tmp_path: Path) -> Path:
    """A TorchScript pixel classifier packed as .dlpk."""
    folder = tmp_path / "model"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3), folder / "model.pt")
    return package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))


def test_classify_pixels_of_a_folder_equals_the_whole_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = pixel_model(tmp_path)
    data = seeded_rgb(44, 52)
    whole = write_raster(tmp_path / "whole.tif", data)
    tiles = cut(data, tmp_path / "tiles")
    common = ["classify-pixels", "--model", str(model), "--arg", "padding=4"]
    run(capsys, *common, "--raster", str(whole), "-o", str(tmp_path / "whole-out.tif"))
    err = run(capsys, *common, "--raster", str(tiles), "-o", str(tmp_path / "tiles-out.tif"))
    assert "1 file(s) in " in err and "skipped: delivery.pdf" in err
    with (
        rasterio.open(tmp_path / "whole-out.tif") as a,
        rasterio.open(tmp_path / "tiles-out.tif") as b,
    ):
        assert (b.crs, b.transform, b.shape) == (a.crs, a.transform, a.shape)
        values = a.read()
        assert len(np.unique(values)) > 1
        np.testing.assert_array_equal(b.read(), values)


def test_where_no_image_is_the_classes_are_nodata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three of the four images: the corner none covers is masked in the mosaic, so it is
    nodata in the output, not a class of the zeros there; far from it, the scene's classes."""
    model = pixel_model(tmp_path)
    data = seeded_rgb(44, 52)
    whole = write_raster(tmp_path / "whole.tif", data)
    tiles = cut(data, tmp_path / "tiles")
    (tiles / "part_3.tif").unlink()  # rows 20-44, cols 22-52; others reach row 25, col 31
    common = ["classify-pixels", "--model", str(model), "--arg", "padding=4"]
    run(capsys, *common, "--raster", str(whole), "-o", str(tmp_path / "whole-out.tif"))
    run(capsys, *common, "--raster", str(tiles), "-o", str(tmp_path / "gap-out.tif"))
    with (
        rasterio.open(tmp_path / "whole-out.tif") as a,
        rasterio.open(tmp_path / "gap-out.tif") as b,
    ):
        assert b.shape == (44, 52) and b.nodata is not None
        got, want = b.read(1), a.read(1)
    gap = np.zeros(got.shape, dtype=bool)
    gap[25:, 31:] = True
    assert (got[gap] == b.nodata).all() and not (got[~gap] == b.nodata).any()
    near = np.zeros(got.shape, dtype=bool)
    near[25 - 6 :, 31 - 6 :] = True  # within the model's receptive field of the gap
    np.testing.assert_array_equal(got[~near], want[~near])


def boxes(path: Path) -> list[tuple[float, ...]]:
    _meta, _, geometry, fields = pyogrio.raw.read(path)
    return sorted(
        (*shapely.from_wkb(g).bounds, float(c)) for g, c in zip(geometry, fields[-1], strict=True)
    )


def test_detect_objects_of_a_folder_finds_objects_on_image_seams(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Squares cut in two by the images' edges are found whole, once, as in the scene."""
    folder = tmp_path / "model"
    folder.mkdir()
    torch.jit.script(make_detector()).save(str(folder / "model.pt"))
    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], ImageHeight=32)
    model = package(folder, document | {"ImageWidth": 32})
    data = np.zeros((1, 60, 60), dtype=np.float32)
    for row, col, value in [(27, 27, 1.0), (5, 28, 2.0), (40, 8, 1.0), (50, 50, 2.0)]:
        data[0, row : row + 6, col : col + 6] = value
    whole = write_raster(tmp_path / "whole.tif", data)
    tiles = cut(data, tmp_path / "tiles")
    common = ["detect-objects", "--model", str(model), "--arg", "padding=8"]
    run(capsys, *common, "--raster", str(whole), "-o", str(tmp_path / "whole.gpkg"))
    run(capsys, *common, "--raster", str(tiles), "-o", str(tmp_path / "tiles.gpkg"))
    expected = boxes(tmp_path / "whole.gpkg")
    assert len(expected) == 4
    assert boxes(tmp_path / "tiles.gpkg") == expected


def test_a_folder_off_one_grid_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = pixel_model(tmp_path)
    tiles = cut(seeded_rgb(20, 20), tmp_path / "tiles")
    with rasterio.open(tiles / "part_3.tif", "r+") as shifted:
        shifted.transform = shifted.transform @ Affine.translation(0.25, 0)
    output = tmp_path / "out.tif"
    argv = ["classify-pixels", "--model", str(model), "--raster", str(tiles), "-o", str(output)]
    capsys.readouterr()
    assert main([*argv, "--device", "cpu"]) == 3
    err = capsys.readouterr().err.strip()
    assert err == (
        "dlpk: error: raster part_3.tif is not aligned with the grid of part_0.tif (6.250 "
        "pixels off) (run each image on its own, or resample the images to one grid)"
    )
    assert not output.exists()


def test_without_features_each_image_is_one_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of photos in two CRSs: one feature per image, its footprint in the first
    image's CRS, labelled from the whole image resized to the model's chip."""
    from rasterio.warp import transform_geom

    from tests.inference.test_classify_objects import classifier

    model = classifier(tmp_path)  # bright images are Water (Value 1), dark ones Forest (5)
    photos = tmp_path / "photos"
    photos.mkdir()
    write_raster(photos / "a.tif", np.full((3, 20, 30), 240, dtype=np.uint8))
    write_raster(photos / "b.tif", np.full((3, 24, 24), 15, dtype=np.uint8))
    other = {"driver": "GTiff", "count": 3, "height": 16, "width": 40, "dtype": "uint8"}
    moved = Affine(5.0, 0, 1_700_000.0, 0, -5.0, 6_000_000.0)
    with rasterio.open(photos / "c.tif", "w", crs="EPSG:3857", transform=moved, **other) as dst:
        dst.write(np.full((3, 16, 40), 200, dtype=np.uint8))
    (photos / "notes.pdf").write_bytes(b"%PDF")
    output = tmp_path / "photos.gpkg"
    argv = ["classify-objects", "--model", str(model), "--raster", str(photos)]
    err = run(capsys, *argv, "-o", str(output))
    assert "skipped: notes.pdf" in err
    meta, _, geometry, fields = pyogrio.raw.read(output)
    row = dict(zip(meta["fields"], fields, strict=True))
    assert list(row["Image"]) == ["a.tif", "b.tif", "c.tif"]
    assert list(row["ClassLabel"]) == ["Water", "Forest", "Water"]
    assert list(row["ClassValue"]) == [1, 5, 1]
    # each image whole: uniform pixels v give ImageNet-normalised chips of mean m, and the
    # model's scores [m, -m] a confidence of 1 / (1 + exp(-2 |m|))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    m = [float(np.mean((v / 255 - mean) / std)) for v in (240, 15, 200)]
    expected_confidence = [100 / (1 + np.exp(-2 * abs(x))) for x in m]
    np.testing.assert_allclose(row["Confidence"], expected_confidence, atol=1e-3)
    assert "32633" in meta["crs"]
    footprints = [shapely.from_wkb(g) for g in geometry]
    x0, y0 = TRANSFORM @ (0, 0)
    x1, y1 = TRANSFORM @ (30, 20)
    assert footprints[0].equals(shapely.box(x0, y1, x1, y0))
    c_box = shapely.box(1_700_000.0, 6_000_000.0 - 80, 1_700_200.0, 6_000_000.0)
    expected = shapely.geometry.shape(transform_geom("EPSG:3857", CRS, c_box.__geo_interface__))
    assert footprints[2].normalize().equals_exact(expected.normalize(), 1e-3)


def test_without_features_area_options_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.inference.test_classify_objects import classifier

    model = classifier(tmp_path)
    image = write_raster(tmp_path / "a.tif", np.full((3, 20, 30), 240, dtype=np.uint8))
    output = tmp_path / "out.gpkg"
    argv = ["classify-objects", "--model", str(model), "--raster", str(image), "-o", str(output)]
    capsys.readouterr()
    assert main([*argv, "--extent", "0", "0", "1", "1", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip() == (
        "dlpk: error: --extent and --aoi choose features to classify (pass --features, or drop "
        "them to label each image as a whole)"
    )
    assert not output.exists()
    run(capsys, *argv)  # one image, no features: one feature
    assert pyogrio.read_info(output)["features"] == 1


def test_classify_pixels_of_each_image_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PROCESS_ITEMS_SEPARATELY: each image, in its own CRS and size, to <name>.tif in the
    output folder, equal to classifying it alone; the model is loaded once."""
    model = pixel_model(tmp_path)
    photos = tmp_path / "images"
    photos.mkdir()
    write_raster(photos / "a.tif", seeded_rgb(30, 40, seed=1))
    write_raster(photos / "b.tif", seeded_rgb(36, 28, seed=2))
    other = {"driver": "GTiff", "count": 3, "height": 20, "width": 24, "dtype": "uint8"}
    moved = Affine(5.0, 0, 1_700_000.0, 0, -5.0, 6_000_000.0)
    with rasterio.open(photos / "c.tif", "w", crs="EPSG:3857", transform=moved, **other) as dst:
        dst.write(seeded_rgb(20, 24, seed=3))
    (photos / "notes.pdf").write_bytes(b"%PDF")
    common = ["classify-pixels", "--model", str(model), "--arg", "padding=4"]
    out = tmp_path / "classified"
    out.mkdir()  # an empty folder is no output to protect
    each = ["--processing-mode", "PROCESS_ITEMS_SEPARATELY"]
    err = run(capsys, *common, "--raster", str(photos), "-o", str(out), *each)
    assert "skipped: notes.pdf" in err
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".tif") == [
        "a.tif",
        "b.tif",
        "c.tif",
    ]
    for name in ("a", "b", "c"):
        alone = tmp_path / f"{name}-alone.tif"
        run(capsys, *common, "--raster", str(photos / f"{name}.tif"), "-o", str(alone))
        with rasterio.open(alone) as want, rasterio.open(out / f"{name}.tif") as got:
            assert (got.crs, got.transform, got.shape) == (want.crs, want.transform, want.shape)
            np.testing.assert_array_equal(got.read(), want.read())
    result = tmp_path / "again"
    capsys.readouterr()
    argv = [*common, "--raster", str(photos), "-o", str(out), *each, "--device", "cpu"]
    assert main(argv) == 2
    assert "already exists and is not empty (pass --overwrite" in capsys.readouterr().err
    assert main([*argv, "--extent", "0", "0", "1", "1"]) == 2
    assert "--extent and --aoi apply to one raster or one mosaic" in capsys.readouterr().err
    write_raster(photos / "a.tiff", seeded_rgb(10, 10))
    assert main([*argv[:-2], "-o", str(result), "--device", "cpu"]) == 3
    assert capsys.readouterr().err.strip() == (
        "dlpk: error: images a.tif and a.tiff would both be classified to a.tif "
        "(rename one of them)"
    )
    assert not result.exists()


def test_each_image_shares_one_loaded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlpk.runners.models import opened as model_module
    from dlpk.runners.tasks.inference.classify_items import classify_each

    loads: list[str] = []
    load = model_module.OpenedModel.load

    def counted(self: Any, device: str, trust_code: bool) -> Any:
        loads.append(device)
        return load(self, device, trust_code)

    monkeypatch.setattr(model_module.OpenedModel, "load", counted)
    images = tmp_path / "images"
    images.mkdir()
    for n in range(4):
        write_raster(images / f"{n}.tif", seeded_rgb(16, 16, seed=n))
    model = pixel_model(tmp_path)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(model) as archive:
        archive.extractall(unpacked)
    summary = classify_each(
        unpacked / "model.emd", images, tmp_path / "out", {"padding": "4"}, "cpu", lambda *a: None
    )
    assert loads == ["cpu"]
    assert summary.counts["rasters"] == 4 and len(list((tmp_path / "out").glob("*.tif"))) == 4
