"""`lint --deep`: tiny real models built at test time, checked against matching and wrong .emd."""

from __future__ import annotations

import json
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dlpk.validator import deep
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.lint import LintOptions, lint_emd_file, lint_package
from dlpk.validator.safezip import extract_member

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

DEEP = LintOptions(deep=True)


def classes(count: int) -> list[dict[str, Any]]:
    return [{"Value": i + 1, "Name": f"c{i + 1}", "Color": [i, i, i]} for i in range(count)]


def emd(model_file: str, framework: str = "ONNX", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Framework": framework,
        "ModelConfiguration": "PixelClassifier",
        "ModelType": "ImageClassification",
        "ModelFile": model_file,
        "ImageHeight": 64,
        "ImageWidth": 64,
        "ExtractBands": [0, 1, 2],
        "Classes": classes(2),
    }
    document.update(overrides)
    return document


MISMATCH: dict[str, Any] = {
    "ExtractBands": [0, 1, 2, 3],
    "ImageHeight": 128,
    "ImageWidth": 128,
    "Classes": classes(3),
}


def write_onnx(
    path: Path,
    in_shape: list[int | str] | None = None,
    out_shape: list[int | str] | None = None,
) -> Path:
    """A 1x1 convolution: 3 bands in, 2 class channels out, 64x64."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(torch.ones(2, 3, 1, 1).numpy(), "W")
    node = helper.make_node("Conv", ["x", "W"], ["y"])
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape or ["N", 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape or ["N", 2, 64, 64])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_torchscript(path: Path) -> Path:
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 2, 1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, not gone
        torch.jit.script(net).save(str(path))
    return path


def write_emd(folder: Path, document: dict[str, Any], name: str = "model.emd") -> Path:
    path = folder / name
    path.write_text(json.dumps(document, indent=2))
    return path


def pack(path: Path, members: dict[str, Path | dict[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if isinstance(content, dict):
                archive.writestr(name, json.dumps(content))
            else:
                archive.write(content, name)
    return path


def codes(diagnostics: list[Diagnostic]) -> set[str]:
    return {d.code for d in diagnostics if d.code.startswith("DL8")}


def deep_errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.code.startswith("DL8") and d.severity is Severity.ERROR]


# -- ONNX and TorchScript, loose and packed ---------------------------------------------------


@pytest.fixture(params=["onnx", "torchscript"])
def model(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    if request.param == "onnx":
        return write_onnx(tmp_path / "model.onnx"), "ONNX"
    return write_torchscript(tmp_path / "model.pt"), "TorchScript"


def test_matching_emd_is_clean(model: tuple[Path, str], tmp_path: Path) -> None:
    path, framework = model
    document = emd(path.name, framework)
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()
    package = pack(tmp_path / "good.dlpk", {"model.emd": document, path.name: path})
    assert codes(lint_package(package, DEEP)) == set()


def test_mismatching_emd_reports_channels_size_and_classes(
    model: tuple[Path, str], tmp_path: Path
) -> None:
    path, framework = model
    document = emd(path.name, framework, **MISMATCH)
    # TorchScript weights carry no fixed input size, so only ONNX can report DL804.
    expected = {"DL803", "DL804", "DL805"} if framework == "ONNX" else {"DL803", "DL805"}
    loose = lint_emd_file(write_emd(tmp_path, document), DEEP)
    assert codes(loose) == expected
    package = pack(tmp_path / "bad.dlpk", {"model.emd": document, path.name: path})
    found = lint_package(package, DEEP)
    assert codes(found) == expected
    by_code = {d.code: d for d in found if d.code.startswith("DL8")}
    assert "3 input channels" in by_code["DL803"].message
    assert "4 bands" in by_code["DL803"].message
    assert by_code["DL805"].severity is Severity.ERROR
    assert all(d.member == "model.emd" and d.pointer == "/ModelFile" for d in by_code.values())


def test_background_channel_is_accepted(model: tuple[Path, str], tmp_path: Path) -> None:
    path, framework = model
    document = emd(path.name, framework, Classes=classes(1))  # 2 outputs = background + 1
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()


def test_without_deep_nothing_is_opened(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"garbage")
    document = emd("model.onnx", **MISMATCH)
    assert codes(lint_emd_file(write_emd(tmp_path, document), LintOptions())) == set()


def test_dynamic_spatial_dims_are_fine(tmp_path: Path) -> None:
    write_onnx(tmp_path / "model.onnx", ["N", 3, "H", "W"], ["N", 2, "H", "W"])
    document = emd("model.onnx", ImageHeight=512, ImageWidth=512)
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()


def test_object_classifier_compares_last_output_dim(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    node = helper.make_node("GlobalAveragePool", ["x"], ["p"])
    flat = helper.make_node("Flatten", ["p"], ["y"])
    graph = helper.make_graph(
        [node, flat],
        "cls",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "model.onnx"))
    document = emd("model.onnx", ModelType="ObjectClassification", Classes=classes(3))
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()
    document["Classes"] = classes(2)  # no background tolerance for object classifiers
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == {"DL805"}


def test_windows_style_model_path(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    write_onnx(tmp_path / "models" / "model.onnx")
    document = emd(".\\models\\model.onnx", **MISMATCH)
    assert "DL803" in codes(lint_emd_file(write_emd(tmp_path, document), DEEP))


@pytest.mark.parametrize("model_file", ["absent.onnx", "/abs/model.onnx", "../model.onnx", ""])
def test_unresolvable_model_file_is_left_to_other_rules(tmp_path: Path, model_file: str) -> None:
    write_onnx(tmp_path / "model.onnx")
    folder = tmp_path / "sub"
    folder.mkdir()
    document = emd(model_file, **MISMATCH)
    assert codes(lint_emd_file(write_emd(folder, document), DEEP)) == set()
    package = pack(
        tmp_path / "p.dlpk", {"model.emd": document, "model.onnx": tmp_path / "model.onnx"}
    )
    assert codes(lint_package(package, DEEP)) == set()


def test_emd_in_top_level_folder(tmp_path: Path) -> None:
    model_path = write_onnx(tmp_path / "model.onnx")
    document = emd("model.onnx", **MISMATCH)
    package = pack(tmp_path / "p.dlpk", {"pkg/model.emd": document, "pkg/model.onnx": model_path})
    found = lint_package(package, DEEP)
    assert {"DL803", "DL804", "DL805"} <= codes(found)
    assert all(d.member == "pkg/model.emd" for d in found if d.code.startswith("DL8"))


def test_package_extracts_only_the_model_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_path = write_onnx(tmp_path / "model.onnx")
    extracted: list[str] = []

    def spy(archive: zipfile.ZipFile, name: str, target: Path) -> Path:
        extracted.append(name)
        return extract_member(archive, name, target)

    monkeypatch.setattr(deep, "extract_member", spy)
    extra = tmp_path / "readme.txt"
    extra.write_text("x")
    members: dict[str, Path | dict[str, Any]] = {"model.emd": emd("model.onnx")}
    members.update({"model.onnx": model_path, "readme.txt": extra, "other/big.bin": extra})
    assert codes(lint_package(pack(tmp_path / "p.dlpk", members), DEEP)) == set()
    assert extracted == ["model.onnx"]


# -- failures that must not crash -------------------------------------------------------------


def test_corrupt_onnx_is_unloadable(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07 this is not a protobuf \xff\xfe")
    found = lint_emd_file(write_emd(tmp_path, emd("model.onnx")), DEEP)
    [diagnostic] = deep_errors(found)
    assert diagnostic.code == "DL802"
    assert "\n" not in diagnostic.message
    assert "model.onnx" in diagnostic.message


class Custom:
    def __init__(self) -> None:
        self.weights = torch.zeros(2)


def test_pickled_code_is_refused_without_trust(tmp_path: Path) -> None:
    torch.save({"model": Custom()}, tmp_path / "model.pth")
    document = emd("model.pth", "PyTorch")
    found = lint_emd_file(write_emd(tmp_path, document), DEEP)
    assert codes(found) == {"DL807"}
    [diagnostic] = [d for d in found if d.code == "DL807"]
    assert "Custom" in diagnostic.message and "--trust-code" in diagnostic.message
    package = pack(
        tmp_path / "p.dlpk", {"model.emd": document, "model.pth": tmp_path / "model.pth"}
    )
    assert codes(lint_package(package, DEEP)) == {"DL807"}


def test_pickled_module_loads_with_trust(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 2, 1))
    torch.save(net, tmp_path / "model.pth")
    path = write_emd(tmp_path, emd("model.pth", "PyTorch", ExtractBands=[0, 1, 2, 3]))
    assert codes(lint_emd_file(path, DEEP)) == {"DL807"}
    trusted = lint_emd_file(path, LintOptions(deep=True, trust_code=True))
    assert codes(trusted) == {"DL803"}


def test_state_dict_channels_are_checked_conservatively(tmp_path: Path) -> None:
    stem = {"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(2, 64)}
    torch.save({"model": stem, "opt": {"lr": 0.1}}, tmp_path / "fastai.pth")
    document = emd("fastai.pth", "PyTorch", ExtractBands=[0, 1, 2, 3])
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == {"DL803"}
    document["ExtractBands"] = [0, 1, 2]
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()
    # A 1x1 first convolution is not clearly an image stem: say nothing.
    torch.save({"proj.weight": torch.zeros(64, 3, 1, 1)}, tmp_path / "plain.pth")
    document = emd("plain.pth", "PyTorch", ExtractBands=[0, 1, 2, 3])
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == set()


def test_garbage_pth_is_unloadable(tmp_path: Path) -> None:
    (tmp_path / "model.pth").write_bytes(b"not a checkpoint" * 8)
    found = lint_emd_file(write_emd(tmp_path, emd("model.pth", "PyTorch")), DEEP)
    assert codes(found) == {"DL802"}


def test_keras_without_tensorflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    document = emd("model.h5", "Keras", ModelConfiguration="KerasClassifier")
    found = lint_emd_file(write_emd(tmp_path, document), DEEP)
    [diagnostic] = [d for d in found if d.code.startswith("DL8")]
    assert diagnostic.code == "DL801"
    assert diagnostic.severity is Severity.INFO
    assert "pip install 'dlpk[tensorflow]'" in diagnostic.message


def test_saved_model_folder_without_tensorflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    extracted: list[str] = []

    def spy(archive: zipfile.ZipFile, name: str, target: Path) -> Path:
        extracted.append(name)
        return extract_member(archive, name, target)

    monkeypatch.setattr(deep, "extract_member", spy)
    blob = tmp_path / "blob"
    blob.write_bytes(b"\0" * 8)
    document = emd("frozen", "TensorFlow", ModelConfiguration="DeepLab")
    members: dict[str, Path | dict[str, Any]] = {"model.emd": document}
    for name in ("saved_model.pb", "variables/variables.index", "variables/variables.data"):
        members[f"frozen/{name}"] = blob
    members["frozen.txt"] = blob  # a sibling that merely shares the prefix
    found = lint_package(pack(tmp_path / "p.dlpk", members), DEEP)
    assert [d.code for d in found if d.code.startswith("DL8")] == ["DL801"]
    assert sorted(extracted) == sorted(n for n in members if n.startswith("frozen/"))
    document["ModelFile"] = "frozen_graph.pb"
    (tmp_path / "frozen_graph.pb").write_bytes(b"\0")
    found = lint_emd_file(write_emd(tmp_path, document), DEEP)
    assert [d.code for d in found if d.code.startswith("DL8")] == ["DL801"]


def test_folder_that_is_not_a_saved_model(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "a.bin").write_bytes(b"\0")
    document = emd("weights", "TensorFlow", ModelConfiguration="DeepLab")
    assert codes(lint_emd_file(write_emd(tmp_path, document), DEEP)) == {"DL806"}


def test_onnx_without_onnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_onnx(tmp_path / "model.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    found = lint_emd_file(write_emd(tmp_path, emd("model.onnx")), DEEP)
    assert [d.code for d in found if d.code.startswith("DL8")] == ["DL801"]
    assert "pip install 'dlpk[onnx]'" in found[-1].message


@pytest.mark.parametrize(
    ("name", "framework"), [("model.model", "CNTK"), ("model.tflite", "TensorFlow")]
)
def test_unsupported_formats(tmp_path: Path, name: str, framework: str) -> None:
    (tmp_path / name).write_bytes(b"\0" * 16)
    found = lint_emd_file(write_emd(tmp_path, emd(name, framework)), DEEP)
    assert codes(found) == {"DL806"}
