"""Package fixtures: each builder writes a .dlpk; EXPECTED maps its name to the codes lint gives.

Built at test time because several are malformed on purpose (links, encryption flags, duplicate
names, absolute names, overlapping members) in ways no archiver produces on request.
"""

from __future__ import annotations

import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

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
    )
}

EXPECTED: dict[str, set[str]] = {
    "valid": set(),
    "extra_files": {"DL710"},
    "missing_model_file": {"DL501"},
    "no_emd": {"DL702"},
    "two_emds": {"DL703"},
    "top_level_folder": {"DL704"},
    "emd_in_subfolder_only": {"DL702"},
    "traversal_member": {"DL705", "DL710"},
    "absolute_member": {"DL705", "DL710"},
    "symlink_member": {"DL706", "DL710"},
    "encrypted_member": {"DL707"},
    "duplicate_member": {"DL708"},
    "bomb": {"DL709"},
    "bad_emd_json": {"DL102"},
    "not_a_zip": {"DL701"},
    "truncated_zip": {"DL701"},
    "backslash_member": {"DL711", "DL710"},
}
