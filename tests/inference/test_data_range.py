"""DataRange: bands rescaled from the raster's range to [low, high] before the model (§1.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

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
