"""ModelFile as the runner reads it: the reading lint uses (validator.references), so a path
lint finds is the file the runner opens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio

import dlpk
from dlpk.errors import ModelError
from dlpk.runners.models.opened import model_file_path
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.validator.files import DirectoryIndex, Found, MemberIndex
from dlpk.validator.references import Kind, absolute_candidates, read_reference
from tests.inference_models import conv_stack, emd, package, save_torchscript, seeded_rgb
from tests.inference_models import write_raster as write_test_raster


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "model.pb").write_bytes(b"graph")
    (root / "weights" / "net.onnx").write_bytes(b"onnx")
    (root / "saved").mkdir()
    return root


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (".\\model.pb", "model.pb"),  # Esri's own examples
        ("model.pb", "model.pb"),
        ("./model.pb", "model.pb"),
        (".\\weights\\net.onnx", "weights/net.onnx"),
        ("weights/./net.onnx", "weights/net.onnx"),
        ("saved", "saved"),  # a SavedModel folder
        ("D:\\test\\model.pb", "model.pb"),  # the author's absolute path: its file name beside
        ("C:\\weights\\net.onnx", "weights/net.onnx"),  # its tail beside
    ],
)
def test_the_file_lint_finds_is_the_file_opened(folder: Path, raw: str, expected: str) -> None:
    assert model_file_path(folder, raw) == folder.joinpath(*expected.split("/"))
    members = [f"model/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*")]
    members += [f"{m}/" for m in members if (folder.parent / m).is_dir()]
    for index in (DirectoryIndex(folder), MemberIndex(members, "model")):
        reference = read_reference(raw, index)
        assert reference.relative == expected and reference.found


def test_dot_is_the_model_folder(folder: Path) -> None:
    assert model_file_path(folder, ".") == folder


def test_an_absolute_path_that_exists_is_read_as_it_is(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.pb"
    elsewhere.write_bytes(b"graph")
    assert model_file_path(folder, str(elsewhere)) == elsewhere


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "names no ModelFile"),
        ("", "names no ModelFile"),
        ("..\\model.pb", "points outside the model folder"),
        ("weights/../../model.pb", "points outside the model folder"),
        ("Model.PB", "matches 'model.pb' only ignoring letter case"),
        ("missing.pb", "ModelFile 'missing.pb' is not beside the .emd"),
        ("D:\\test\\gone.pb", "is absolute, does not exist here and gone.pb is not beside"),
        ("C:\temp\\model.pb", "holds a control character"),  # "\t": a mistyped JSON escape
    ],
)
def test_a_path_naming_no_file_is_one_line(folder: Path, raw: str | None, message: str) -> None:
    with pytest.raises(ModelError, match=message.replace(".", r"\.")) as caught:
        model_file_path(folder, raw)
    assert "\n" not in str(caught.value)


def test_the_reading_of_each_kind() -> None:
    assert read_reference(".\\a\\b.pb", None).kind is Kind.RELATIVE
    assert read_reference("\\\\server\\share\\m.pb", None).kind is Kind.ABSOLUTE
    assert read_reference("..\\m.pb", None).kind is Kind.ESCAPES
    assert read_reference("a\nb", None).kind is Kind.CONTROL
    assert read_reference(".", None).kind is Kind.EMPTY
    assert read_reference("m.pb", None).lookup.found is Found.MISSING  # no index: not found
    assert absolute_candidates("D:\\test\\m.pb") == ("test/m.pb", "m.pb")
    assert absolute_candidates("/m.pb") == ("m.pb",)
    assert absolute_candidates("C:\\..") == ()


def test_a_backslash_model_file_lints_with_a_warning_and_runs(tmp_path: Path) -> None:
    """Issue 11: lint warned (DL504) about `.\\model.pt` and the runner said it was not in the
    package; now both find the same file."""
    pytest.importorskip("torch")
    folder = tmp_path / "backslash"
    (folder / "nets").mkdir(parents=True)
    save_torchscript(conv_stack(3, 2, seed=1), folder / "nets" / "model.pt")
    model = package(folder, emd(".\\nets\\model.pt", "TorchScript", "PixelClassifier"))
    report = dlpk.lint(model)
    assert [d.code for d in report.errors] == []
    assert "DL504" in [d.code for d in report.diagnostics]
    raster = write_test_raster(tmp_path / "in.tif", seeded_rgb(20, 24))
    output = tmp_path / "out.tif"
    classify_pixels(model, raster, output, {}, "cpu", quiet)
    with rasterio.open(output) as result:
        assert result.read(1).shape == (20, 24)


def test_a_job_model_folder_resolves_the_same_way(tmp_path: Path) -> None:
    """A job's model is an unpacked folder read as it is (not linted again): same reading."""
    pytest.importorskip("torch")
    folder = tmp_path / "job-model"
    folder.mkdir()
    save_torchscript(conv_stack(3, 2, seed=1), folder / "model.pt")
    (folder / "model.emd").write_text(
        json.dumps(emd(".\\model.pt", "TorchScript", "PixelClassifier"))
    )
    raster = write_test_raster(tmp_path / "in.tif", seeded_rgb(16, 16))
    classify_pixels(folder / "model.emd", raster, tmp_path / "out.tif", {}, "cpu", quiet)
    assert (tmp_path / "out.tif").exists()
