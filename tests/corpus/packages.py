"""Package fixtures: each builder writes a .dlpk; EXPECTED maps its name to lint's verdict, the
codes it gives with their severities ("DL503:error").

Built at test time because several are malformed on purpose (links, encryption flags, duplicate
names, absolute names, overlapping members) in ways no archiver produces on request. The last
ones are patterns of real Esri files whose verdict depends on being inside a package.
"""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dlpk.validator.diagnostics import Diagnostic

EMD = {
    "Framework": "ONNX",
    "ModelConfiguration": "PixelClassifier",
    "ModelType": "ImageClassification",
    "ModelFile": "model.onnx",
    "ImageHeight": 64,
    "ImageWidth": 64,
    "ExtractBands": [0, 1, 2],
    "Classes": [{"Value": 1, "Name": "Water", "Color": [0, 0, 255]}],
}
EMD_BYTES = json.dumps(EMD, indent=4).encode()


def verdict(diagnostics: Iterable[Diagnostic]) -> set[str]:
    """What a lint run decided: each code with its severity."""
    return {f"{d.code}:{d.severity.value}" for d in diagnostics}


def _emd(**changes: Any) -> bytes:
    return json.dumps(EMD | changes, indent=4).encode()


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def valid(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES, "model.onnx": b"\x08\x07"})


def extra_files(path: Path) -> None:
    _zip(
        path,
        {
            "model.emd": EMD_BYTES,
            "model.onnx": b"\x08\x07",
            "notes.txt": b"x",
            "ModelCharacteristics/loss.png": b"x",
            "ModelCharacteristics/results.png": b"x",
        },
    )


def missing_model_file(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES})


def no_emd(path: Path) -> None:
    _zip(path, {"model.onnx": b"x"})


def two_emds(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES, "old.emd": EMD_BYTES, "model.onnx": b"x"})


def top_level_folder(path: Path) -> None:
    _zip(path, {"model/model.emd": EMD_BYTES, "model/model.onnx": b"x"})


def emd_in_subfolder_only(path: Path) -> None:
    _zip(path, {"a/model.emd": EMD_BYTES, "b/model.onnx": b"x"})


def traversal_member(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES, "model.onnx": b"x", "../evil.py": b"x"})


def absolute_member(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES, "model.onnx": b"x", "/etc/evil": b"x"})


def symlink_member(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.emd", EMD_BYTES)
        archive.writestr("model.onnx", b"x")
        link = zipfile.ZipInfo("link")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")


def encrypted_member(path: Path) -> None:
    valid(path)
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag of model.onnx in its central-directory record.
    central = data.rfind(b"PK\x01\x02")
    flags_at = central + 8
    struct.pack_into("<H", data, flags_at, struct.unpack_from("<H", data, flags_at)[0] | 1)
    path.write_bytes(bytes(data))


def duplicate_member(path: Path) -> None:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns; the duplicate is the point
        archive.writestr("model.emd", EMD_BYTES)
        archive.writestr("model.onnx", b"a")
        archive.writestr("model.onnx", b"b")


def bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("model.emd", EMD_BYTES)
        with archive.open("model.onnx", "w", force_zip64=True) as sink:
            block = bytes(1 << 20)
            for _ in range(64):
                sink.write(block)


def bad_emd_json(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES[:-2] + b",\n}", "model.onnx": b"x"})


def not_a_zip(path: Path) -> None:
    path.write_bytes(b"this is not a zip archive")


def truncated_zip(path: Path) -> None:
    valid(path)
    path.write_bytes(path.read_bytes()[:60])


def backslash_member(path: Path) -> None:
    _zip(path, {"model.emd": EMD_BYTES, "model.onnx": b"x", "docs\\readme.txt": b"x"})


def training_data_manifest(path: Path) -> None:
    """Export Training Data's metadata .emd (placeholders `e.g. ...`) packed as if a model."""
    manifest = {
        "Framework": "e.g. CNTK",
        "ModelConfiguration": "some description",
        "ModelType": "e.g. ObjectDetection or ImageClassification",
        "ModelFile": "e.g. .\\trained.model",
        "ImageHeight": "e.g. 256",
        "ImageWidth": "e.g. 256",
        "ExtractBands": "e.g. [0, 1, 2]",
        "Classes": [{"Value": 1, "Name": "Tree", "Color": [-1, -1, -1]}],
    }
    _zip(path, {"esri_model_definition.emd": json.dumps(manifest, indent=2).encode()})


def absolute_model_file(path: Path) -> None:
    """An absolute ModelFile: valid in a loose .emd on its machine, broken once packaged."""
    emd = _emd(ModelFile="C:\\models\\model.onnx")
    _zip(path, {"model.emd": emd, "model.onnx": b"\x08\x07"})


def unshipped_function(path: Path) -> None:
    """A [Functions] path outside System\\DeepLearning: the recipient's Pro lacks the file."""
    emd = _emd(InferenceFunction="[Functions]Custom\\Classifier.py")
    _zip(path, {"model.emd": emd, "model.onnx": b"\x08\x07"})


def function_class_mismatch(path: Path) -> None:
    emd = _emd(InferenceFunction="Classifier.py")
    source = b"class PixelClassifier:\n    pass\n"
    _zip(path, {"model.emd": emd, "model.onnx": b"\x08\x07", "Classifier.py": source})


def function_class_named_like_file(path: Path) -> None:
    emd = _emd(InferenceFunction="Classifier.py")
    source = b"import json\n\n\nclass Classifier:\n    pass\n"
    _zip(path, {"model.emd": emd, "model.onnx": b"\x08\x07", "Classifier.py": source})


def esri_onnx_folder(path: Path) -> None:
    """Esri's python_raster_functions/Onnx/ module, spelt as its folder (not dlpk's "ONNX")."""
    emd = _emd(Framework="Onnx", ModelConfiguration="CntkLandClassification")
    _zip(path, {"model.emd": emd, "model.onnx": b"\x08\x07"})


def keras_maskrcnn_string(path: Path) -> None:
    emd = _emd(
        Framework="Keras",
        ModelConfiguration="MaskRCNN",
        ModelType="ObjectDetection",
        ModelFile="mask_rcnn.h5",
    )
    _zip(path, {"model.emd": emd, "mask_rcnn.h5": b"\x89HDF"})


BUILDERS: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        valid,
        extra_files,
        missing_model_file,
        no_emd,
        two_emds,
        top_level_folder,
        emd_in_subfolder_only,
        traversal_member,
        absolute_member,
        symlink_member,
        encrypted_member,
        duplicate_member,
        bomb,
        bad_emd_json,
        not_a_zip,
        truncated_zip,
        backslash_member,
        training_data_manifest,
        absolute_model_file,
        unshipped_function,
        function_class_mismatch,
        function_class_named_like_file,
        esri_onnx_folder,
        keras_maskrcnn_string,
    )
}

EXPECTED: dict[str, set[str]] = {
    "valid": set(),
    "extra_files": {"DL710:info"},
    "missing_model_file": {"DL501:error"},
    "no_emd": {"DL702:error"},
    "two_emds": {"DL703:error"},
    "top_level_folder": {"DL704:error"},
    "emd_in_subfolder_only": {"DL702:error"},
    "traversal_member": {"DL705:error", "DL710:info"},
    "absolute_member": {"DL705:error", "DL710:info"},
    "symlink_member": {"DL706:error", "DL710:info"},
    "encrypted_member": {"DL707:error"},
    "duplicate_member": {"DL708:error"},
    "bomb": {"DL709:error"},
    "bad_emd_json": {"DL102:error"},
    "not_a_zip": {"DL701:error"},
    "truncated_zip": {"DL701:error"},
    "backslash_member": {"DL711:error", "DL710:info"},
    "training_data_manifest": {"DL601:error"},
    "absolute_model_file": {"DL503:error"},
    "unshipped_function": {"DL511:error"},
    "function_class_mismatch": {"DL512:warning"},
    "function_class_named_like_file": set(),
    "esri_onnx_folder": set(),
    "keras_maskrcnn_string": {"DL405:error"},
}
