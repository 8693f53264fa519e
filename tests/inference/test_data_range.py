"""DataRange: bands rescaled from the raster's range to [low, high] before the model
(docs/esri-formats.md#bands-and-normalisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from dlpk.runners.io import data_range
from dlpk.runners.io.data_range import band_ranges, rescaler
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from tests.inference_models import (
    CLASSES,
    conv_stack,
    emd,
    package,
    save_torchscript,
    write_raster,
)


def expected_rescale(data: np.ndarray, valid: np.ndarray, low: float, high: float) -> np.ndarray:
    """numpy's own: each band from its min..max over valid pixels to [low, high]."""
    out = np.zeros(data.shape, dtype=np.float64)
    for band in range(data.shape[0]):
        values = data[band][valid].astype(np.float64)
        lo, hi = values.min(), values.max()
        out[band] = (data[band] - lo) / (hi - lo) * (high - low) + low
    return out


def test_rescaler_maps_each_band_from_its_valid_range(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(100, 4000, (3, 20, 30)).astype(np.uint16)
    data[1] += 20000  # bands with different ranges
    data[:, :4, :5] = 0  # nodata: outside every band's range
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_raster(folder / "in.tif", data, nodata=0)
    valid = np.all(data != 0, axis=0)
    with rasterio.open(path) as dataset:
        ranges = band_ranges(dataset, [2, 1])
        rescale = rescaler(dataset, [2, 1], (-1.0, 1.0))
        assert rescaler(dataset, [0], None) is None
    assert ranges == [
        (float(data[2][valid].min()), float(data[2][valid].max())),
        (float(data[1][valid].min()), float(data[1][valid].max())),
    ]
    assert rescale is not None
    scaled = rescale(data[[2, 1]])
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(
        scaled[:, valid], expected_rescale(data[[2, 1]], valid, -1, 1)[:, valid], atol=1e-6
    )
    assert (scaled[:, valid].min(), scaled[:, valid].max()) == pytest.approx((-1, 1))
    # statistics are not saved beside the input (a job's input folder is read-only)
    assert sorted(p.name for p in folder.iterdir()) == ["in.tif"]


def test_a_constant_band_maps_to_low(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "flat.tif", np.full((1, 8, 8), 7.5, dtype=np.float32))
    with rasterio.open(path) as dataset:
        rescale = rescaler(dataset, [0], (2.0, 3.0))
    assert rescale is not None
    np.testing.assert_array_equal(rescale(np.full((1, 2, 2), 7.5)), np.full((1, 2, 2), 2.0))


@pytest.mark.parametrize(
    ("dtype", "bands", "data_range"),
    [
        ("uint16", [0, 1, 2], (0.0, 1.0)),  # as in Esri's CNTK land-cover example
        ("float32", [2, 0], (-1.0, 1.0)),  # a band subset: ranges follow ExtractBands
        ("uint8", [0, 1, 2], (0.0, 1.0)),  # 8-bit RGB, but rescaled: no ImageNet statistics
    ],
)
def test_classify_pixels_rescales_to_data_range(
    tmp_path: Path, dtype: str, bands: list[int], data_range: tuple[float, float]
) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    if dtype == "float32":
        data: np.ndarray = rng.normal(50.0, 400.0, (3, 37, 45)).astype(np.float32)
        data[data == 0] = 1.0
    else:
        high = 255 if dtype == "uint8" else 60000
        data = rng.integers(1, high, (3, 37, 45)).astype(dtype)
    data[:, 10:13, 20:30] = 0  # nodata
    folder = tmp_path / "in"
    folder.mkdir()
    raster = write_raster(folder / "in.tif", data, nodata=0)
    module = conv_stack(len(bands), 2, seed=6)  # two classes, no background channel
    model_folder = tmp_path / "model"
    model_folder.mkdir()
    save_torchscript(module, model_folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier", ExtractBands=bands)
    document["DataRange"] = list(data_range)
    model = package(model_folder, document)
    output = tmp_path / "out.tif"
    args = {"tile_size": "32", "padding": "8", "batch_size": "2"}
    classify_pixels(model, raster, output, args, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
    assert sorted(p.name for p in folder.iterdir()) == ["in.tif"]

    valid = np.all(data != 0, axis=0)
    scaled = expected_rescale(data[bands], valid, *data_range).astype(np.float32)
    scaled[:, ~valid] = 0
    framed = np.pad(scaled, ((0, 0), (8, 8), (8, 8)))
    with torch.inference_mode():
        scores = module(torch.from_numpy(framed[np.newaxis])).numpy()[0, :, 8:-8, 8:-8]
    expected = np.array([c["Value"] for c in CLASSES])[np.argmax(scores, axis=0)]
    expected[~valid] = 255
    np.testing.assert_array_equal(classes, expected)
    assert len(np.unique(classes[valid])) == 2  # both classes occur: the check has teeth


def sampled_raster(path: Path) -> tuple[Path, np.ndarray]:
    """640 x 520, in strips, with each band's extremes on a row GDAL's approximate statistics
    skip: they report a narrower range than the data holds."""
    data = np.random.default_rng(3).integers(10, 200, (2, 520, 640)).astype(np.uint8)
    data[0, 301, 17], data[1, 433, 500], data[0, 5, 5] = 219, 220, 3
    return write_raster(path, data), data


def test_ranges_are_exact_where_gdal_would_sample(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path, data = sampled_raster(folder / "in.tif")
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path) as dataset:
        approximate = [(s.min, s.max) for s in dataset.stats(approx=True)]
    exact = [(float(band.min()), float(band.max())) for band in data]
    assert approximate != exact  # the sampling misses an extreme: the check has teeth
    with rasterio.open(path) as dataset:
        assert band_ranges(dataset, [0, 1]) == exact
    assert sorted(p.name for p in folder.iterdir()) == ["in.tif"]


def store_statistics(path: Path, low: float, high: float, **extra: str) -> None:
    """Statistics kept in the GeoTIFF itself (GDAL's internal metadata), as a tool wrote them."""
    with rasterio.open(path, "r+") as dataset:
        for band in (1, 2):
            tags = {"STATISTICS_MINIMUM": str(low), "STATISTICS_MAXIMUM": str(high)}
            dataset.update_tags(band, **tags, **extra)


def test_exact_statistics_the_raster_carries_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = sampled_raster(tmp_path / "in.tif")
    store_statistics(path, 0, 1000, STATISTICS_VALID_PERCENT="100")

    def refuse(name: str, bands: list[int]) -> list[tuple[float, float]]:
        raise AssertionError("computed statistics the raster already carries")

    monkeypatch.setattr(data_range, "_computed_ranges", refuse)
    with rasterio.open(path) as dataset:
        assert band_ranges(dataset, [1, 0]) == [(0.0, 1000.0), (0.0, 1000.0)]


def test_approximate_statistics_the_raster_carries_are_recomputed(tmp_path: Path) -> None:
    path, data = sampled_raster(tmp_path / "in.tif")
    store_statistics(path, 10, 199, STATISTICS_APPROXIMATE="YES")  # what approx=True stores
    with rasterio.open(path) as dataset:
        assert band_ranges(dataset, [0, 1]) == [(3.0, 219.0), (10.0, 220.0)]
    assert (data[0].max(), data[1].max()) == (219, 220)


def test_ranges_are_computed_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[int]] = []
    compute = data_range._computed_ranges

    def counted(name: str, bands: list[int]) -> list[tuple[float, float]]:
        calls.append(bands)
        return compute(name, bands)

    monkeypatch.setattr(data_range, "_computed_ranges", counted)
    path, _ = sampled_raster(tmp_path / "in.tif")
    with rasterio.open(path) as dataset:
        first = band_ranges(dataset, [0, 1])
        assert band_ranges(dataset, [1]) == first[1:]
    with rasterio.open(path) as dataset:  # a second handle on the same file
        assert band_ranges(dataset, [0, 1]) == first
    assert calls == [[1, 2]]
    data = np.full((2, 52, 64), 9, dtype=np.uint8)
    write_raster(path, data)  # the file changed: computed again
    with rasterio.open(path) as dataset:
        assert band_ranges(dataset, [0]) == [(9.0, 9.0)]
    assert calls == [[1, 2], [1]]


def test_classify_pixels_rescales_by_the_exact_range(tmp_path: Path) -> None:
    """The issue's case: a 640x520 raster whose sampled range moved pixels to other classes."""
    torch = pytest.importorskip("torch")
    folder = tmp_path / "in"
    folder.mkdir()
    raster, data = sampled_raster(folder / "in.tif")
    data, bands = data[[0, 1, 0]], [0, 1, 0]
    module = conv_stack(3, 2, seed=2)
    model_folder = tmp_path / "model"
    model_folder.mkdir()
    save_torchscript(module, model_folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier", ExtractBands=bands)
    document["DataRange"] = [0.0, 1.0]
    output = tmp_path / "out.tif"
    args = {"tile_size": "128", "padding": "8", "batch_size": "4"}
    classify_pixels(package(model_folder, document), raster, output, args, "cpu", quiet)
    with rasterio.open(output) as result:
        classes = result.read(1)
    assert sorted(p.name for p in folder.iterdir()) == ["in.tif"]

    valid = np.ones(data.shape[1:], dtype=bool)
    scaled = expected_rescale(data, valid, 0.0, 1.0).astype(np.float32)
    framed = np.pad(scaled, ((0, 0), (8, 8), (8, 8)))
    with torch.inference_mode():
        scores = module(torch.from_numpy(framed[np.newaxis])).numpy()[0, :, 8:-8, 8:-8]
    expected = np.array([c["Value"] for c in CLASSES])[np.argmax(scores, axis=0)]
    np.testing.assert_array_equal(classes, expected)
    assert len(np.unique(classes)) == 2
