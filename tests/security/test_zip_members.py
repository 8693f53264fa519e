"""Hostile packages whose members are not what the central directory says (a compression dlpk
cannot read, a local header naming another file, data that fails its CRC) or whose names mean
something else on Windows, where ArcGIS unpacks them: lint reports them, unpacking refuses them
in one line, and nothing is left behind."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from dlpk.cli import main
from dlpk.errors import PackageError
from dlpk.packaging.unpack import prepared_model
from dlpk.validator.lint import LintOptions, lint_package
from dlpk.validator.safezip import corrupt_members, member_key, unreadable_members
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"
with zipfile.ZipFile(LANDCOVER) as _archive:
    MEMBERS = {name: _archive.read(name) for name in _archive.namelist()}


def _package(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**MEMBERS, **(extra or {})}.items():
            archive.writestr(name, data)
    return path


def _codes(path: Path) -> set[str]:
    return {d.code for d in lint_package(path, LintOptions())}


def _patched(path: Path, edit: bytes, replacement: bytes) -> Path:
    """The package with the first `edit` bytes (a local header's name) replaced."""
    data = bytearray(path.read_bytes())
    at = data.find(edit)
    assert at >= 0 and len(edit) == len(replacement)
    data[at : at + len(edit)] = replacement
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (".. /evil.py", "reads as '..'"),
        ("models/... /x.py", "reads as '..'"),
        ("con.pt", "device name"),
        ("LPT1", "device name"),
        ("models/a|b.pt", "cannot hold"),
        ("models/tab\there.pt", "cannot hold"),
    ],
)
def test_names_windows_reads_otherwise_are_refused(tmp_path: Path, name: str, why: str) -> None:
    path = _package(tmp_path / "model.dlpk", {name: b"data"})
    diagnostics = [d for d in lint_package(path, LintOptions()) if d.code == "DL705"]
    assert len(diagnostics) == 1 and why in diagnostics[0].message
    with pytest.raises(PackageError), prepared_model(path):
        pass


def test_names_windows_does_not_tell_apart_collide(tmp_path: Path) -> None:
    assert member_key("Model.onnx. ") == member_key("model.onnx")
    path = _package(tmp_path / "model.dlpk", {"landcover.onnx.": b"other weights"})
    assert "DL708" in _codes(path)
    with pytest.raises(PackageError), prepared_model(path):
        pass


def test_names_that_only_look_odd_stay_valid(tmp_path: Path) -> None:
    extra = {"console.pt": b"x", ".hidden/notes.txt": b"x", "a b/c.d.e": b"x"}
    path = _package(tmp_path / "model.dlpk", extra)
    assert not {"DL705", "DL708"} & _codes(path)


def test_a_local_header_naming_another_file_is_found(tmp_path: Path) -> None:
    path = _patched(_package(tmp_path / "model.dlpk"), b"landcover.onnx", b"landcover.exe_")
    with zipfile.ZipFile(path) as archive:
        assert unreadable_members(archive) == [
            ("landcover.onnx", "is named 'landcover.exe_' in its local header")
        ]
    assert "DL713" in _codes(path)
    with pytest.raises(PackageError), prepared_model(path):
        pass


def test_a_member_dlpk_cannot_decompress_is_found(tmp_path: Path) -> None:
    path = _package(tmp_path / "model.dlpk")
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 10] = 9  # the first member's method: Deflate64
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0].filename
        assert unreadable_members(archive) == [
            (first, "is compressed with Deflate64, which dlpk cannot read")
        ]
    [diagnostic] = [d for d in lint_package(path, LintOptions()) if d.code == "DL713"]
    assert diagnostic.severity.value == "error" and "Deflate64" in diagnostic.message


@pytest.mark.parametrize("where", [0.0, 0.5])  # the deflate block header, or its data
def test_data_that_fails_its_crc_is_found(tmp_path: Path, where: float) -> None:
    path = _package(tmp_path / "model.dlpk")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("landcover.onnx")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    data[start + int(info.compress_size * where)] ^= 0xFF
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        [(name, why)] = corrupt_members(archive)
    assert name == "landcover.onnx" and why.startswith("is corrupt (")
    assert "DL713" in _codes(path)
    out = tmp_path / "classes.tif"
    scene = str(REPO / "examples/scene.tif")
    code = main(["classify-pixels", "--model", str(path), "--raster", scene, "-o", str(out)])
    assert code == 1 and not out.exists()  # lint errors stop the job before it unpacks
    assert not list(tmp_path.glob(".classes.tif.*"))


def test_a_sound_package_has_no_unreadable_or_corrupt_member() -> None:
    with zipfile.ZipFile(LANDCOVER) as archive:
        assert unreadable_members(archive) == [] and corrupt_members(archive) == []
        assert json.loads(archive.read("landcover.emd"))["Framework"]


def test_a_directory_pointing_before_the_file_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    """A central directory's start stated past where it is (found by the zip fuzzer): zipfile
    then places the member's local header before the start of the file."""
    path = tmp_path / "p.dlpk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/b.emd", b'{"ModelFile": "x.onnx"}')
    raw = bytearray(path.read_bytes())
    end = raw.rfind(b"PK\x05\x06")
    stated = struct.unpack_from("<L", raw, end + 16)[0]
    struct.pack_into("<L", raw, end + 16, stated + 5)
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].header_offset == -5
        assert unreadable_members(archive) == [
            ("a/b.emd", "has no local header where the directory says")
        ]
    assert "DL713" in _codes(path)
