"""Lint gives the verdict ArcGIS would give on the patterns of Esri's own files, with true messages
and fixes that never break an import (the corpus in tests/corpus holds one fixture per pattern;
these tests pin the messages, the severities by context and the fixes)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

import dlpk
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.files import DirectoryIndex, MemberIndex
from dlpk.validator.fixes import fix_text
from dlpk.validator.lint import LintOptions, lint_emd_bytes, lint_emd_file, lint_package

BASE: dict[str, Any] = {
    "Framework": "TensorFlow",
    "ModelConfiguration": "ObjectDetectionAPI",
    "ModelFile": "model.pb",
    "ModelType": "ObjectDetection",
    "ImageHeight": 256,
    "ImageWidth": 256,
    "ExtractBands": [0, 1, 2],
    "Classes": [{"Value": 1, "Name": "Tree", "Color": [0, 255, 0]}],
}


def emd_text(**changes: Any) -> str:
    doc = BASE | changes
    return json.dumps({k: v for k, v in doc.items() if v is not None}, indent=4)


def loose(folder: Path, text: str, **files: str) -> list[Diagnostic]:
    """Lint `text` as a loose .emd in `folder`, beside model.pb and `files`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pb").write_bytes(b"graph")
    for name, content in files.items():
        (folder / name).write_text(content)
    (folder / "model.emd").write_text(text)
    return lint_emd_file(folder / "model.emd", LintOptions())


def packaged(path: Path, text: str, **files: str) -> list[Diagnostic]:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.emd", text)
        archive.writestr("model.pb", b"graph")
        for name, content in files.items():
            archive.writestr(name, content)
    return lint_package(path, LintOptions())


def only(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    [found] = [d for d in diagnostics if d.code == code]
    return found


def fixed(folder: Path, text: str, unsafe: bool = False) -> str:
    index = DirectoryIndex(folder)

    def lint(candidate: str) -> list[Diagnostic]:
        return lint_emd_bytes(candidate.encode(), "model.emd", index=index).diagnostics

    return fix_text(text, lint, unsafe).text


# -- Classes -------------------------------------------------------------------------------------
def test_a_detection_class_with_value_zero_is_a_true_note(tmp_path: Path) -> None:
    classes = [{"Value": 0, "Name": "Tree", "Color": [0, 255, 0]}]
    note = only(loose(tmp_path, emd_text(Classes=classes)), "DL304")
    assert note.severity is Severity.INFO and note.pointer == "/Classes/0"
    assert "position in Classes" in note.message and "never detected" not in note.message


def test_shared_class_names_are_a_warning_naming_their_values(tmp_path: Path) -> None:
    classes = [{"Value": v, "Name": "Clutter", "Color": [127, 127, 127]} for v in range(1, 8)]
    warning = only(loose(tmp_path, emd_text(Classes=classes)), "DL303")
    assert warning.severity is Severity.WARNING
    assert "7 classes (Values 1, 2, 3, 4, 5, ...)" in warning.message


def test_an_integer_class_name_is_a_warning_whose_fix_writes_the_string(tmp_path: Path) -> None:
    text = emd_text(Classes=[{"Value": 1, "Name": 1, "Color": [0, 255, 0]}])
    warning = only(loose(tmp_path, text), "DL206")
    assert warning.severity is Severity.WARNING and warning.fix is not None and warning.fix.safe
    repaired = fixed(tmp_path, text)
    assert json.loads(repaired)["Classes"][0]["Name"] == "1"
    assert not loose(tmp_path, repaired)


def test_a_name_of_another_wrong_type_is_still_an_error(tmp_path: Path) -> None:
    text = emd_text(Classes=[{"Value": 1, "Name": ["a"], "Color": [0, 255, 0]}])
    assert only(loose(tmp_path, text), "DL206").severity is Severity.ERROR


# -- Framework spellings -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("framework", "configuration", "model_type", "model_file"),
    [
        ("Onnx", "CntkLandClassification", "ImageClassification", "model.onnx"),
        ("Onnx", "ObjectDetectionAPI", "ObjectDetection", "model.onnx"),
        ("XView", "ObjectDetectionAPI", "ObjectDetection", "model.pb"),
    ],
)
def test_esri_module_folders_lint_clean_and_fix_keeps_them(
    tmp_path: Path, framework: str, configuration: str, model_type: str, model_file: str
) -> None:
    text = emd_text(
        Framework=framework,
        ModelConfiguration=configuration,
        ModelType=model_type,
        ModelFile=model_file,
    )
    assert not loose(tmp_path, text, **{model_file: "weights"})
    assert fixed(tmp_path, text, unsafe=True) == text


def test_a_framework_in_other_case_is_an_error_fixed_to_the_folder(tmp_path: Path) -> None:
    text = emd_text(Framework="Tensorflow")
    error = only(loose(tmp_path, text), "DL217")
    assert error.severity is Severity.ERROR and "Tensorflow.ObjectDetectionAPI" in error.message
    assert json.loads(fixed(tmp_path, text))["Framework"] == "TensorFlow"


@pytest.mark.parametrize(
    ("configuration", "model_type", "target"),
    [
        ("PixelClassifier", "ImageClassification", "ONNX"),
        ("ObjectDetectionAPI", "ObjectDetection", "Onnx"),
    ],
)
def test_lower_case_onnx_is_fixed_to_the_spelling_whose_module_exists(
    tmp_path: Path, configuration: str, model_type: str, target: str
) -> None:
    text = emd_text(
        Framework="onnx",
        ModelConfiguration=configuration,
        ModelType=model_type,
        ModelFile="model.onnx",
    )
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    assert only(loose(tmp_path, text), "DL217").severity is Severity.ERROR
    assert json.loads(fixed(tmp_path, text))["Framework"] == target


def test_an_ambiguous_framework_case_gets_no_fix(tmp_path: Path) -> None:
    """ "onnx" with a module of neither "ONNX" nor "Onnx": no spelling is known to import."""
    text = emd_text(Framework="onnx", ModelConfiguration="Custom", ModelFile="model.onnx")
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    error = only(loose(tmp_path, text), "DL217")
    assert error.fix is None and "'Onnx' or 'ONNX'" in error.message


def test_a_framework_case_mismatch_is_a_warning_under_a_custom_function(tmp_path: Path) -> None:
    text = emd_text(Framework="Tensorflow", InferenceFunction="Detector.py")
    found = loose(tmp_path, text, **{"Detector.py": "class Detector:\n    pass\n"})
    assert only(found, "DL217").severity is Severity.WARNING


def test_an_unknown_framework_is_a_warning_with_an_unsafe_suggestion(tmp_path: Path) -> None:
    warning = only(loose(tmp_path, emd_text(Framework="TensorFlw")), "DL203")
    assert warning.severity is Severity.WARNING
    assert warning.fix is not None and not warning.fix.safe and "'TensorFlow'" in warning.message


# -- Keras MaskRCNN ------------------------------------------------------------------------------
KERAS = {"Framework": "Keras", "ModelFile": "model.h5"}


def test_keras_maskrcnn_needs_the_object_configuration(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"h5")
    found = loose(tmp_path, emd_text(**KERAS, ModelConfiguration="MaskRCNN"))
    error = only(found, "DL405")
    assert error.severity is Severity.ERROR and '["Config"]' in error.message


def test_keras_maskrcnn_without_architecture_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"h5")
    config = {"Name": "MaskRCNN", "Config": "spacenet"}
    found = loose(tmp_path, emd_text(**KERAS, ModelConfiguration=config), **{"spacenet.py": ""})
    assert "no Architecture module path" in only(found, "DL405").message


def test_a_custom_function_decides_what_keras_maskrcnn_needs(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"h5")
    text = emd_text(**KERAS, ModelConfiguration="MaskRCNN", InferenceFunction="Mask.py")
    assert not loose(tmp_path, text, **{"Mask.py": "class Mask:\n    pass\n"})


def test_backslash_module_paths_warn_and_fix_to_forward_slashes(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"h5")
    (tmp_path / "mrcnn").mkdir()
    (tmp_path / "mrcnn" / "spacenet.py").write_text("config = model = None\n")
    modules = {
        "Name": "MaskRCNN",
        "Architecture": ".\\mrcnn\\spacenet",
        "Config": "mrcnn\\spacenet",
    }
    text = emd_text(**KERAS, ModelConfiguration=modules)
    found = loose(tmp_path, text)
    assert {(d.code, d.severity) for d in found} == {("DL504", Severity.WARNING)}
    assert {d.pointer for d in found} == {
        "/ModelConfiguration/Architecture",
        "/ModelConfiguration/Config",
    }
    repaired = json.loads(fixed(tmp_path, text))["ModelConfiguration"]
    assert repaired == {
        "Name": "MaskRCNN",
        "Architecture": "mrcnn/spacenet",
        "Config": "mrcnn/spacenet",
    }


# -- absolute paths by context -------------------------------------------------------------------
def test_a_loose_absolute_path_is_a_warning_fixed_only_to_a_file_beside(tmp_path: Path) -> None:
    beside = only(loose(tmp_path / "a", emd_text(ModelFile="D:\\test\\model.pb")), "DL503")
    assert beside.severity is Severity.WARNING and beside.fix is not None
    assert "'model.pb' is beside the .emd" in beside.message
    elsewhere = loose(tmp_path / "b", emd_text(ModelFile="D:\\test\\other.pb"))
    assert only(elsewhere, "DL503").fix is None
    assert [d.code for d in elsewhere] == ["DL503"]  # a Windows path cannot be looked up here


@pytest.mark.skipif(os.name == "nt", reason="a POSIX absolute path")
def test_a_loose_absolute_path_is_looked_up_where_this_system_can(tmp_path: Path) -> None:
    weights = tmp_path / "weights" / "model.pb"
    weights.parent.mkdir()
    weights.write_bytes(b"graph")
    assert [d.code for d in loose(tmp_path / "a", emd_text(ModelFile=str(weights)))] == ["DL503"]
    gone = str(tmp_path / "gone" / "model.pb")
    missing = only(loose(tmp_path / "b", emd_text(ModelFile=gone)), "DL501")
    assert missing.severity is Severity.ERROR and "does not exist" in missing.message


def test_an_absolute_path_in_a_package_is_an_error(tmp_path: Path) -> None:
    error = only(packaged(tmp_path / "m.dlpk", emd_text(ModelFile="D:\\test\\model.pb")), "DL503")
    assert error.severity is Severity.ERROR and error.fix is not None
    assert "unpacked elsewhere" in error.message


# -- InferenceFunction ---------------------------------------------------------------------------
def test_an_unshipped_functions_path_is_a_warning_loose_and_an_error_packaged(
    tmp_path: Path,
) -> None:
    text = emd_text(InferenceFunction="[Functions]\\CustomObjectDetector.py")
    assert only(loose(tmp_path, text), "DL511").severity is Severity.WARNING
    error = only(packaged(tmp_path / "m.dlpk", text), "DL511")
    assert error.severity is Severity.ERROR and "write 'CustomObjectDetector.py'" in error.message


def test_a_function_pro_ships_is_dl506_not_dl511(tmp_path: Path) -> None:
    shipped = "[Functions]system\\deeplearning\\ArcGISLearn\\ArcGISObjectDetector.py"
    found = loose(tmp_path, emd_text(InferenceFunction=shipped))
    assert [d.code for d in found] == ["DL506"]


def test_a_function_whose_class_is_named_otherwise_is_a_warning(tmp_path: Path) -> None:
    text = emd_text(InferenceFunction="Detector.py")
    source = "import numpy\n\n\nclass ObjectDetector:\n    pass\n"
    warning = only(loose(tmp_path, text, **{"Detector.py": source}), "DL512")
    assert warning.severity is Severity.WARNING
    assert "rename class ObjectDetector to Detector" in warning.message
    packaged_warning = only(packaged(tmp_path / "m.dlpk", text, **{"Detector.py": source}), "DL512")
    assert packaged_warning.message == warning.message


def test_the_suggested_class_is_the_one_with_the_raster_function_methods(tmp_path: Path) -> None:
    """Esri's draft template: a helper class beside the function's class, named otherwise."""
    text = emd_text(InferenceFunction="Draft.py")
    source = (
        "class GeometryType:\n    Polygon = 4\n\n\n"
        "class ObjectDetector:\n    def getParameterInfo(self):\n        return []\n"
    )
    warning = only(loose(tmp_path, text, **{"Draft.py": source}), "DL512")
    assert "rename class ObjectDetector to Draft" in warning.message


@pytest.mark.parametrize(
    "source",
    [
        "class Detector:\n    pass\n",
        "from detectors import Base as Detector\n",
        "try:\n    import torch\nexcept ImportError:\n    torch = None\n"
        "else:\n    class Detector:\n        pass\n",
        "from helpers import *\n",
        "globals()['Detector'] = type('Detector', (), {})\n",
        "def broken(:\n",
    ],
)
def test_no_class_claim_where_the_source_binds_or_may_bind_the_name(
    tmp_path: Path, source: str
) -> None:
    text = emd_text(InferenceFunction="Detector.py")
    assert not [d for d in loose(tmp_path, text, **{"Detector.py": source}) if d.code == "DL512"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_function_file_that_is_a_fifo_is_never_opened(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "Detector.py")
    found = loose(tmp_path, emd_text(InferenceFunction="Detector.py"))
    assert not [d for d in found if d.code == "DL512"]


def test_the_fix_lint_without_a_reader_makes_no_class_claim() -> None:
    index = MemberIndex(["model.emd", "model.pb", "Detector.py"])
    text = emd_text(InferenceFunction="Detector.py")
    found = lint_emd_bytes(text.encode(), "m.dlpk", "model.emd", index, True).diagnostics
    assert not found


# -- data manifests and missing ModelType --------------------------------------------------------
MANIFEST = {
    "Framework": "e.g. CNTK",
    "ModelConfiguration": "some description",
    "ModelType": "e.g. ObjectDetection or ImageClassification",
    "ModelFile": "e.g. .\\trained.model",
    "ImageHeight": "e.g. 256",
    "ImageWidth": "e.g. 256",
    "ExtractBands": "e.g. [0, 1, 2]",
}


def test_a_training_data_manifest_is_an_error_only_inside_a_package(tmp_path: Path) -> None:
    text = json.dumps(MANIFEST)
    assert only(loose(tmp_path, text), "DL601").severity is Severity.WARNING
    error = only(packaged(tmp_path / "m.dlpk", text), "DL601")
    assert error.severity is Severity.ERROR and "no inference tool can run" in error.message


def test_a_missing_model_type_names_the_one_the_configuration_implies(tmp_path: Path) -> None:
    text = emd_text(
        Framework="arcgis.learn.models._inferencing",
        ModelConfiguration="_maskrcnn_inferencing",
        ModelType=None,
    )
    warning = only(loose(tmp_path, text), "DL210")
    assert '"ModelType": "InstanceDetection"' in warning.message


def test_an_unusual_extension_is_only_a_note(tmp_path: Path) -> None:
    text = emd_text(Framework="PyTorch", ModelConfiguration="FastaiSSD", ModelFile="model.h5")
    (tmp_path / "model.h5").write_bytes(b"h5")
    assert only(loose(tmp_path, text), "DL505").severity is Severity.INFO


def test_fix_of_a_package_reads_its_inference_function_as_lint_does(tmp_path: Path) -> None:
    """DL512 needs the .py's source: fix lints a package's .emd with its members at hand, so
    what it leaves is what lint says."""
    from tests.corpus.packages import function_class_mismatch

    path = tmp_path / "mismatch.dlpk"
    function_class_mismatch(path)
    linted = {d.code for d in dlpk.lint(path).diagnostics}
    fixed = dlpk.fix(path, output=tmp_path / "fixed.dlpk")
    assert "DL512" in linted
    assert "DL512" in {d.code for d in fixed.remaining}
