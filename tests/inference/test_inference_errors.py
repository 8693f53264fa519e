"""Bad input gets one clear line, the documented exit code, and no output file."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
import rasterio

from dlpk.cli import main
from tests.inference_models import (
    conv_stack,
    emd,
    package,
    save_torchscript,
    seeded_rgb,
    write_raster,
)

torch = pytest.importorskip("torch")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def argv_for(model: Path, raster: Path, output: Path) -> list[str]:
    return ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "pixels"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3), folder / "model.pt")
    return package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))


@pytest.fixture
def rgb(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "rgb.tif", seeded_rgb(20, 20))


def assert_nothing_written(folder: Path) -> None:
    assert not list(folder.glob("out*")) and not list(folder.glob(".out*"))


def test_too_few_bands_is_bad_input(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = write_raster(tmp_path / "two.tif", seeded_rgb(20, 20)[:2])
    code, err = run(argv_for(model, raster, tmp_path / "out.tif"), capsys)
    assert code == 3 and len(err) == 1
    assert "band index 2" in err[0] and "2 band(s)" in err[0]
    assert_nothing_written(tmp_path)


def test_unknown_band_name_is_bad_input(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "named"
    folder.mkdir()
    save_torchscript(conv_stack(1, 3), folder / "model.pt")
    dlpk_path = package(
        folder, emd("model.pt", "TorchScript", "PixelClassifier", ExtractBands=["NearInfrared"])
    )
    code, err = run(argv_for(dlpk_path, rgb, tmp_path / "out.tif"), capsys)
    assert code == 3 and len(err) == 1 and "'NearInfrared'" in err[0] and "Red" in err[0]


@pytest.mark.parametrize(
    ("name", "framework"), [("model.pt", "TorchScript"), ("model.onnx", "ONNX")]
)
def test_model_that_fails_to_load(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str], name: str, framework: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    if framework == "ONNX":
        (folder / name).write_bytes(b"\x08\x07 not a protobuf graph")
    else:  # the layout of a TorchScript archive, with garbage inside
        with zipfile.ZipFile(folder / name, "w") as archive:
            archive.writestr("model/constants.pkl", b"garbage")
            archive.writestr("model/data.pkl", b"garbage")
    dlpk_path = package(folder, emd(name, framework, "PixelClassifier"))
    code, err = run(argv_for(dlpk_path, rgb, tmp_path / "out.tif"), capsys)
    assert code == 4 and len(err) == 1 and "could not be loaded" in err[0]
    assert_nothing_written(tmp_path)


def test_pickled_module_needs_trust_code(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    torch.save(conv_stack(3, 3), folder / "model.pth")
    dlpk_path = package(folder, emd("model.pth", "TorchScript", "PixelClassifier"))
    output = tmp_path / "out.tif"
    code, err = run(argv_for(dlpk_path, rgb, output), capsys)
    assert code == 4 and len(err) == 1 and "--trust-code" in err[0]
    assert_nothing_written(tmp_path)
    code, _ = run([*argv_for(dlpk_path, rgb, output), "--trust-code"], capsys)
    assert code == 0 and output.exists()


def test_missing_framework_names_the_extra(
    tmp_path: Path,
    model: Path,
    rgb: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In this process (the default local run): `import torch` fails here.
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "torch", None)
        code, err = run(argv_for(model, rgb, tmp_path / "out.tif"), capsys)
    assert code == 4 and len(err) == 1
    assert "pip install 'dlpk[torch]'" in err[0]
    # In a fresh process (a subprocess, as --timeout asks for): make `import torch` fail there.
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    argv = [*argv_for(model, rgb, tmp_path / "out.tif"), "--timeout", "600"]
    code, err = run(argv, capsys)
    assert code == 4 and len(err) == 1
    assert "pip install 'dlpk[torch]'" in err[0]


def test_lint_errors_stop_the_job(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3), folder / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier", ImageHeight=-5)
    (folder / "model.emd").write_text(json.dumps(document))
    code, err = run(argv_for(folder / "model.emd", rgb, tmp_path / "out.tif"), capsys)
    assert code == 1 and len(err) == 1 and "does not lint" in err[0] and "dlpk lint" in err[0]
    assert_nothing_written(tmp_path)


def test_wrong_task_and_inference_function(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "prf"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3), folder / "model.pt")
    (folder / "infer.py").write_text("class ChildImageClassifier: pass\n")
    document = emd("model.pt", "TorchScript", "PixelClassifier", InferenceFunction="infer.py")
    code, err = run(argv_for(package(folder, document), rgb, tmp_path / "out.tif"), capsys)
    assert code == 4 and len(err) == 1 and "--trust-code" in err[0]
    detector = tmp_path / "det"
    detector.mkdir()
    save_torchscript(conv_stack(3, 3), detector / "model.pt")
    dlpk_path = package(detector, emd("model.pt", "TorchScript", "PixelClassifier"))
    argv = ["detect-objects", "--model", str(dlpk_path), "--raster", str(rgb)]
    code, err = run([*argv, "-o", str(tmp_path / "out.gpkg")], capsys)
    assert code == 4 and len(err) == 1 and "dlpk classify-pixels" in err[0]


def test_bad_arguments_are_usage_errors(
    tmp_path: Path, model: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = argv_for(model, rgb, tmp_path / "out.tif")
    for extra, words in (
        (["--arg", "padding=16"], "padding 16"),
        (["--arg", "threshold=0.5"], "unknown argument"),
        (["--arg", "batch_size"], "name=value"),
        (["--arg", "tile_size=abc"], "not an integer"),
    ):
        code, err = run([*base, *extra], capsys)
        assert code == 2 and len(err) == 1 and words in err[0], err
    code, err = run([*base[:-1], str(tmp_path / "out.png")], capsys)
    assert code == 2 and "unsupported output format" in err[0]
    assert_nothing_written(tmp_path)


def test_model_with_unexpected_channels(
    tmp_path: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "wide"
    folder.mkdir()
    save_torchscript(conv_stack(3, 7), folder / "model.pt")
    dlpk_path = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    code, err = run(argv_for(dlpk_path, rgb, tmp_path / "out.tif"), capsys)
    assert code == 4 and len(err) == 1 and "7 channels for 2 classes" in err[0]
    assert_nothing_written(tmp_path)


def test_raster_without_crs_runs_in_pixel_space(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = write_raster(tmp_path / "plain.tif", seeded_rgb(20, 20), crs=None)
    output = tmp_path / "out.tif"
    code, err = run(argv_for(model, raster, output), capsys)
    assert code == 0 and any("no CRS" in line for line in err)
    with rasterio.open(output) as result:
        assert result.crs is None and result.read(1).shape == (20, 20)


def test_configurations_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["configurations", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    pairs = {(c["framework"], c["name"]) for c in listed}
    assert ("ONNX", "ObjectDetector") in pairs and ("TorchScript", "PixelClassifier") in pairs
    assert all(
        "NCHW" in c["inputs"] or "NHWC" in c["inputs"]
        for c in listed
        if c["name"] != "InferenceFunction"
    )
    assert ("Keras", "PixelClassifier") in pairs and ("TensorFlow", "DeepLab") in pairs
    functions = {c["task"] for c in listed if c["name"] == "InferenceFunction"}
    assert functions == {"classify-pixels", "detect-objects", "classify-objects"}
    assert main(["configurations"]) == 0
    assert "x1, y1, x2, y2" in capsys.readouterr().out


def test_device_gpu_without_one_is_a_model_error(
    tmp_path: Path, model: Path, rgb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.tif"
    code, err = run([*argv_for(model, rgb, output), "--device", "gpu"], capsys)
    if torch.cuda.is_available():
        assert code == 0 and output.exists()
    else:
        assert code == 4 and len(err) == 1 and "no CUDA device" in err[0]
        assert_nothing_written(tmp_path)
    code, _ = run([*argv_for(model, rgb, output), "--device", "auto", "--overwrite"], capsys)
    assert code == 0
