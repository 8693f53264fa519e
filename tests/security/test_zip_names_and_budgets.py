"""Hostile packages: bombs of many small members, and names that unpack onto one file.

Every package is built here with `zipfile`; bombs are lazy (members of zeros that bzip2 or
deflate to almost nothing) and tests shrink the budget or the free space instead of writing
gigabytes, except one that goes through the real numbers without extracting anything.
"""

from __future__ import annotations

import errno
import json
import shutil
import struct
import tempfile
import unicodedata
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

import dlpk
from dlpk.cli import main
from dlpk.errors import PackageError
from dlpk.packaging.reader import read_package_emd
from dlpk.packaging.unpack import prepared_model
from dlpk.validator import safezip
from dlpk.validator.safezip import (
    MAX_PACKAGE_RATIO,
    PACKAGE_RATIO_FLOOR,
    RATIO_MIN_BYTES,
    ByteBudget,
    extract_all,
    extract_member,
    member_key,
    member_path,
)
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"
SCENE = REPO / "examples" / "scene.tif"
with zipfile.ZipFile(LANDCOVER) as _archive:
    EMD: dict[str, Any] = json.loads(_archive.read("landcover.emd"))
    ONNX = _archive.read("landcover.onnx")


def _emd(*names: str) -> bytes:
    classes = [{"Value": i + 1, "Name": n, "Color": [0, 0, 255]} for i, n in enumerate(names)]
    return json.dumps(EMD | {"Classes": classes}, indent=4).encode()


def _zip(path: Path, members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED):
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression) as archive:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are the point
        for name, data in members:
            archive.writestr(name, data)
    return path


def _model(path: Path, prefix: str = "") -> Path:
    members = [(f"{prefix}landcover.emd", _emd("Vegetation", "Built-up"))]
    return _zip(path, [*members, (f"{prefix}landcover.onnx", ONNX)])


def _bomb(path: Path, count: int, size: int, compression: int = zipfile.ZIP_BZIP2) -> Path:
    """A working model plus `count` members of `size` zeros: each under the per-member ratio
    rule's size, all together far beyond what the package's bytes allow."""
    _model(path)
    zeros = bytes(size)
    with zipfile.ZipFile(path, "a", compression, compresslevel=9) as archive:
        for i in range(count):
            archive.writestr(f"landcover.onnx.d/shard{i:05}.bin", zeros)
    return path


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where prepared_model unpacks (tempfile's folder), to check nothing is left there."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def small_floor(monkeypatch: pytest.MonkeyPatch) -> int:
    """A 1 MiB floor instead of 1 GiB, so a bomb of a few MiB is over budget."""
    monkeypatch.setattr(safezip, "PACKAGE_RATIO_FLOOR", 1 << 20)
    return 1 << 20


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def _one_line(err: str, needle: str) -> str:
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlpk: error: "), err
    assert needle in lines[0], err
    return lines[0]


def _codes(path: Path) -> set[str]:
    return {d.code for d in dlpk.lint(path).errors}


def _classify(capsys: pytest.CaptureFixture[str], model: Path, tmp_path: Path) -> tuple[int, str]:
    out = tmp_path / "classes.tif"
    code, err = _cli(capsys, "classify-pixels", "--model", str(model), "--raster", str(SCENE),
                     "-o", str(out), "--device", "cpu")  # fmt: skip
    assert not out.exists()
    return code, err


# -- the whole-package budget --------------------------------------------------------------------


def test_many_small_bzip2_members_are_a_bomb(tmp_path: Path, small_floor: int) -> None:
    # 48 members of 256 KiB zeros: 12 MiB from a few KiB, no member large enough for DL709's
    # per-member ratio (the audit's 4,300 x 15 MiB, scaled down with the floor)
    path = _bomb(tmp_path / "bomb.dlpk", 48, 256 * 1024)
    assert path.stat().st_size < 20_000
    report = dlpk.lint(path)
    [bomb] = [d for d in report.errors if d.code == "DL709"]
    assert "compressed data" in bomb.message and "zip bomb" in bomb.message
    assert {d.code for d in report.errors} == {"DL709"}
    assert main(["lint", str(path)]) == 1
    assert dlpk.inspect(path)["lint"]["errors"] == 1


def test_a_small_real_package_passes_whatever_its_ratio(tmp_path: Path) -> None:
    # 15 MiB of zeros in one member: 1000x, but under the floor and the per-member size
    path = _bomb(tmp_path / "small.dlpk", 1, 15 * 1024**2, zipfile.ZIP_DEFLATED)
    assert dlpk.lint(path).ok
    with prepared_model(path) as model:
        assert (model.folder / "landcover.onnx.d" / "shard00000.bin").stat().st_size == 15 << 20


def test_the_real_budget_refuses_a_gigabyte_bomb_without_writing_it(
    tmp_path: Path, scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = PACKAGE_RATIO_FLOOR // (RATIO_MIN_BYTES - 1) + 1
    path = _bomb(tmp_path / "bomb.dlpk", count, RATIO_MIN_BYTES - 1, zipfile.ZIP_DEFLATED)
    declared = count * (RATIO_MIN_BYTES - 1)
    assert declared > PACKAGE_RATIO_FLOOR and declared > MAX_PACKAGE_RATIO * path.stat().st_size
    assert _codes(path) == {"DL709"}
    assert _cli(capsys, "lint", str(path))[0] == 1
    code, err = _classify(capsys, path, tmp_path)
    assert code == 1
    _one_line(err, "DL709")
    assert list(scratch.iterdir()) == []
    # extraction holds the same budget without lint's help, before writing anything
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="budget") as caught:
        extract_all(archive, target)
    assert "\n" not in str(caught.value)
    assert not target.exists()


def test_classify_pixels_refuses_a_bomb_and_leaves_nothing(
    tmp_path: Path, scratch: Path, small_floor: int, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bomb(tmp_path / "bomb.dlpk", 48, 256 * 1024)
    with pytest.raises(PackageError, match="DL709"):
        dlpk.classify_pixels(path, SCENE, tmp_path / "classes.tif")
    code, err = _classify(capsys, path, tmp_path)
    assert code == PackageError.exit_code == 1
    _one_line(err, "does not lint: DL709")
    assert list(scratch.iterdir()) == []


def test_extract_all_holds_the_budget_itself(tmp_path: Path, small_floor: int) -> None:
    path = _bomb(tmp_path / "bomb.dlpk", 48, 256 * 1024)
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="zip bomb"):
        extract_all(archive, target)
    assert not target.exists()


def test_unpacking_refuses_what_does_not_fit_in_the_free_space(
    tmp_path: Path,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _model(tmp_path / "model.dlpk")
    assert dlpk.lint(path).ok
    usage = shutil.disk_usage(scratch)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=1000))
    with pytest.raises(PackageError, match="free") as caught:
        dlpk.classify_pixels(path, SCENE, tmp_path / "classes.tif")
    assert "TMPDIR" in str(caught.value)
    code, err = _classify(capsys, path, tmp_path)
    assert code == 1
    line = _one_line(err, "only 1000 bytes free")
    assert str(scratch) in line and "needs" in line
    assert list(scratch.iterdir()) == []


def test_the_running_count_stops_extraction_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if the members lied about their sizes: the count across members stops the copy
    path = _bomb(tmp_path / "p.dlpk", 4, 3 << 20)
    monkeypatch.setattr(safezip, "check_extraction", lambda *_: 5 << 20)
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="unpacking stopped"):
        extract_all(archive, target)
    assert not target.exists()
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="inflates beyond"):
        extract_member(archive, "landcover.onnx.d/shard00000.bin", tmp_path, ByteBudget(1 << 20))


def test_a_member_that_lies_about_its_size_is_a_one_line_error(tmp_path: Path) -> None:
    path = _model(tmp_path / "p.dlpk")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(1 << 20))
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size
        header = data.rfind(signature)
        struct.pack_into("<I", data, header + at, 1000)
    path.write_bytes(bytes(data))
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="cannot unpack"):
        extract_all(archive, target)
    assert not target.exists()


def test_a_full_disk_while_unpacking_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safezip, "_copy_bounded", full)
    target = tmp_path / "out"
    target.mkdir()  # given an empty folder: emptied again, kept
    path = _model(tmp_path / "p.dlpk")
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="No space") as caught:
        extract_all(archive, target)
    assert "TMPDIR" in str(caught.value) and "\n" not in str(caught.value)
    assert list(target.iterdir()) == []


# -- names that unpack onto one file -------------------------------------------------------------


def test_member_names_are_normalised_once() -> None:
    assert member_path("./a//b/./c.emd") == "a/b/c.emd" == member_path("a\\b\\c.emd")
    nfd = unicodedata.normalize("NFD", "modèle.emd")
    assert member_path(nfd) == unicodedata.normalize("NFC", "modèle.emd") != nfd
    assert member_key("./Model.EMD") == member_key("model.emd")
    assert member_path("a/../b") == "a/../b"  # left for the '..' check to see


def test_a_dot_slash_twin_of_the_emd_is_refused_everywhere(
    tmp_path: Path, scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the audit's package: lint read the first .emd, unzipping left the second
    path = _zip(
        tmp_path / "twins.dlpk",
        [
            ("landcover.emd", _emd("Vegetation", "Built-up")),
            ("./landcover.emd", _emd("Water", "Clouds", "Snow")),
            ("landcover.onnx", ONNX),
        ],
    )
    report = dlpk.lint(path)
    [twin] = [d for d in report.errors if d.code == "DL708"]
    assert "'landcover.emd', './landcover.emd'" in twin.message and twin.member == "landcover.emd"
    assert {d.code for d in report.errors} == {"DL708"}  # one .emd at the root, not DL703
    assert _cli(capsys, "lint", str(path))[0] == 1
    # inspect shows what lint read: the member unzipping would leave
    names = [c["name"] for c in dlpk.inspect(path)["classes"]]
    assert names == ["Water", "Clouds", "Snow"]
    assert read_package_emd(path).member == "./landcover.emd"
    code, err = _classify(capsys, path, tmp_path)
    assert code == 1
    _one_line(err, "DL708")
    assert list(scratch.iterdir()) == []
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="all unpack to"):
        extract_all(archive, target)
    assert not target.exists()


NFC = unicodedata.normalize("NFC", "modèle.bin")
NFD = unicodedata.normalize("NFD", "modèle.bin")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("weights.bin", "./weights.bin"),
        ("a/weights.bin", "a//weights.bin"),
        ("a/weights.bin", "./a/./weights.bin"),
        ("Weights.BIN", "weights.bin"),
        (NFC, NFD),
        ("a", "a/weights.bin"),  # a file where a folder must be
    ],
    ids=["dot-slash", "double-slash", "dot-parts", "case", "nfc-nfd", "file-and-folder"],
)
def test_names_that_collide_once_normalised_are_duplicates(
    tmp_path: Path, first: str, second: str
) -> None:
    path = _model(tmp_path / "p.dlpk")
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore", UserWarning)
        archive.writestr(first, b"one")
        archive.writestr(second, b"two")
    assert _codes(path) == {"DL708"}
    target = tmp_path / "out"
    with zipfile.ZipFile(path) as archive, pytest.raises(PackageError, match="all unpack to"):
        extract_all(archive, target)
    assert not target.exists()


def test_distinct_names_in_one_folder_are_not_duplicates(tmp_path: Path) -> None:
    path = _model(tmp_path / "p.dlpk")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("a/", b"")
        archive.writestr("./a/", b"")  # folder entries may repeat
        archive.writestr("a/one.bin", b"1")
        archive.writestr("a/two.bin", b"2")
    assert _codes(path) == set()


def test_dot_slash_names_lint_inspect_and_run_as_one_model(tmp_path: Path) -> None:
    # no duplicate: `./landcover.emd` is at the root for lint, inspect and the runner alike
    path = _model(tmp_path / "dotted.dlpk", prefix="./")
    report = dlpk.lint(path)
    assert report.ok, report.render()
    assert not [d for d in report.diagnostics if d.code in ("DL704", "DL710")]
    package = read_package_emd(path)
    with prepared_model(path) as model:
        assert model.emd_name == "landcover.emd"
        assert (model.folder / model.emd_name).read_bytes() == package.data
        assert sorted(p.name for p in model.folder.iterdir()) == [
            "landcover.emd",
            "landcover.onnx",
        ]
    out = tmp_path / "classes.tif"
    result = dlpk.classify_pixels(path, SCENE, out, device="cpu")
    assert result.status == "done" and out.is_file()


def test_an_nfd_emd_name_unpacks_where_lint_looked(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "modèle.emd")
    path = _zip(
        tmp_path / "p.dlpk", [(nfd, _emd("Vegetation", "Built-up")), ("landcover.onnx", ONNX)]
    )
    assert dlpk.lint(path).ok
    with prepared_model(path) as model:
        assert model.emd_name == unicodedata.normalize("NFC", nfd)
        assert (model.folder / model.emd_name).is_file()


def test_an_encrypted_emd_is_one_line_for_inspect_fix_and_normalize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlpk.cli import main

    package = tmp_path / "enc.dlpk"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("m.emd", '{"Framework": "ONNX"}')
    data = bytearray(package.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.find(signature) + flag_offset] |= 1  # the "encrypted" bit
    package.write_bytes(bytes(data))
    for argv in (["inspect", str(package)], ["fix", str(package)], ["normalize", str(package)]):
        capsys.readouterr()
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "m.emd is encrypted" in err[0], err
