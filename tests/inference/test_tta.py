"""Test-time augmentation for classify-pixels: dihedral transforms undone and merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dlpk.cli import main
from dlpk.runners.io.raster_source import normaliser_for
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.runners.tasks.inference.tta import augmented, transforms_for
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import (
    CLASSES,
    conv_stack,
    emd,
    package,
    save_torchscript,
    seeded_rgb,
    write_raster,
)

torch = pytest.importorskip("torch")


def run_module(module: Any, pixels: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return np.asarray(module(torch.from_numpy(np.ascontiguousarray(pixels))).numpy())


def numpy_merge(module: Any, tile: np.ndarray, policy: str) -> np.ndarray:
    """The 8 dihedral views of one [C, H, W] tile, scored, mapped back and merged."""
    views = []
    for flipped in (False, True):
        image = tile[:, :, ::-1] if flipped else tile
        for turns in range(4):
            rotated = np.rot90(image, turns, axes=(1, 2))
            scores = run_module(module, rotated[np.newaxis])[0]
            back = np.rot90(scores, -turns, axes=(1, 2))
            views.append(back[:, :, ::-1] if flipped else back)
    stacked = np.stack(views)
    return np.asarray({"mean": stacked.mean, "max": stacked.max, "min": stacked.min}[policy](0))


def build(tmp_path: Path, module: Any, **extra: Any) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path / "pixels"
    folder.mkdir()
    save_torchscript(module, folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier", **extra)
    return package(folder, document), document


def classify(dlpk_path: Path, raster: Path, output: Path, args: dict[str, str]) -> np.ndarray:
    classify_pixels(dlpk_path, raster, output, args, "cpu", quiet, overwrite=True)
    with rasterio.open(output) as result:
        return np.asarray(result.read(1))


def test_transforms_follow_image_space() -> None:
    assert len(transforms_for("MAP_SPACE", True)) == 8
    assert len(transforms_for(None, True)) == 8
    assert len(transforms_for("MAP_SPACE", False)) == 3
    assert len(transforms_for("PIXEL_SPACE", True)) == 2
    tile = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    for transform in transforms_for("MAP_SPACE", True):
        np.testing.assert_array_equal(transform.invert(transform.apply(tile)), tile)
    wide = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    for transform in transforms_for("MAP_SPACE", False):
        assert transform.apply(wide).shape == wide.shape
        np.testing.assert_array_equal(transform.invert(transform.apply(wide)), wide)
    distinct = {transform.apply(tile).tobytes() for transform in transforms_for(None, True)}
    assert len(distinct) == 8


@pytest.mark.parametrize("policy", ["mean", "max", "min"])
def test_merged_scores_match_numpy(policy: str) -> None:
    module = conv_stack(3, 3, seed=7)  # 3x3 kernels: not equivariant to flips or turns
    tile = np.random.default_rng(3).normal(size=(3, 16, 16)).astype(np.float32)
    forward = augmented(lambda x: [run_module(module, x)], transforms_for(None, True), policy)
    merged = forward(tile[np.newaxis])[0][0]
    expected = numpy_merge(module, tile, policy)
    np.testing.assert_allclose(merged, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(merged, run_module(module, tile[np.newaxis])[0], atol=1e-3)


def test_equivariant_model_unchanged_by_tta(tmp_path: Path) -> None:
    torch.manual_seed(2)
    module = torch.nn.Conv2d(3, 3, 1).eval()  # 1x1: commutes with every flip and turn
    dlpk_path, _ = build(tmp_path, module)
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(45, 70, seed=5))
    args = {"tile_size": "32", "padding": "4"}
    plain = classify(dlpk_path, raster, tmp_path / "plain.tif", args)
    for policy in ("mean", "max", "min"):
        tta = {**args, "test_time_augmentation": "True", "merge_policy": policy}
        np.testing.assert_array_equal(classify(dlpk_path, raster, tmp_path / "tta.tif", tta), plain)


def test_one_tile_classes_from_merged_scores(tmp_path: Path) -> None:
    module = conv_stack(3, 3, seed=11)
    dlpk_path, document = build(tmp_path, module)
    data = seeded_rgb(32, 32, seed=8)
    raster = write_raster(tmp_path / "in.tif", data)
    args = {"tile_size": "32", "padding": "0", "test_time_augmentation": "true"}
    classes = classify(dlpk_path, raster, tmp_path / "out.tif", {**args, "merge_policy": "max"})
    definition = EsriModelDefinition.model_validate(document)
    tile = normaliser_for(definition, [0, 1, 2], "uint8")(data.astype(np.float32))
    scores = numpy_merge(module, tile, "max")
    values = np.array([0] + [c["Value"] for c in CLASSES])  # channel 0 is background
    np.testing.assert_array_equal(classes, values[np.argmax(scores, axis=0)])
    plain = classify(dlpk_path, raster, tmp_path / "plain.tif", {"tile_size": "32", "padding": "0"})
    assert (classes != plain).any()


def test_pixel_space_uses_horizontal_flip_only(tmp_path: Path) -> None:
    module = conv_stack(3, 3, seed=11)
    dlpk_path, document = build(tmp_path, module, ImageSpaceUsed="PIXEL_SPACE")
    data = seeded_rgb(32, 32, seed=8)
    raster = write_raster(tmp_path / "in.tif", data)
    args = {"tile_size": "32", "padding": "0", "test_time_augmentation": "True"}
    classes = classify(dlpk_path, raster, tmp_path / "out.tif", args)
    definition = EsriModelDefinition.model_validate(document)
    tile = normaliser_for(definition, [0, 1, 2], "uint8")(data.astype(np.float32))
    mirrored = run_module(module, tile[np.newaxis, :, :, ::-1])[0][:, :, ::-1]
    scores = (run_module(module, tile[np.newaxis])[0] + mirrored) / 2
    values = np.array([0] + [c["Value"] for c in CLASSES])  # channel 0 is background
    np.testing.assert_array_equal(classes, values[np.argmax(scores, axis=0)])


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("test_time_augmentation=maybe", "expected True or False"),
        ("merge_policy=median", "expected one of mean, max, min"),
    ],
)
def test_bad_values_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argument: str, message: str
) -> None:
    dlpk_path, _ = build(tmp_path, conv_stack(3, 3))
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    argv = ["classify-pixels", "--model", str(dlpk_path), "--raster", str(raster), "-o"]
    argv += [str(tmp_path / "out.tif"), "--arg", argument, "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.tif").exists()
