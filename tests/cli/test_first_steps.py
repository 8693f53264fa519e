"""What a new user meets first: output piped into `head`, lint of a folder holding nothing to
lint, --model given a model folder or a bare model file, and what `lint --deep` opened."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlpk.cli import main
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"
LANDCOVER_FOLDER = REPO / "examples" / "landcover"
SCENE = REPO / "examples" / "scene.tif"


def first_line_then_close(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`dlpk ARGV | head -1`: the reader takes one line and goes away."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dlpk", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    return subprocess.CompletedProcess(argv, process.wait(), first, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["rules"],
        ["schema", "emd"],
        ["configurations"],
        ["inspect", str(LANDCOVER)],
        ["lint", "--format", "json", str(LANDCOVER)],
    ],
    ids=lambda argv: argv[0],
)
def test_a_reader_that_stops_reading_ends_the_command_quietly(argv: list[str]) -> None:
    done = first_line_then_close(argv)
    assert done.stdout  # the line the reader took
    assert done.returncode == 0
    assert done.stderr == ""


def test_lint_piped_into_head_keeps_its_verdict(tmp_path: Path) -> None:
    for n in range(400):  # a report longer than a pipe's buffer
        (tmp_path / f"broken{n}.emd").write_text("{")
    done = first_line_then_close(["lint", str(tmp_path)])
    assert done.returncode == 1 and done.stderr == ""


def test_lint_of_a_folder_with_nothing_to_lint_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_folder: Path
) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("no model here")
    assert main(["lint", str(empty)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"dlpk: error: {empty}: no .emd, .dlpk or .zip file in this folder or below it "
        "(name the model definitions or packages, or a folder holding them)"
    )
    assert main(["lint", str(model_folder), str(empty)]) == 2  # among good ones too
    assert main(["lint", str(model_folder)]) == 0


def test_a_model_folder_runs_as_its_package_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["classify-pixels", "--raster", str(SCENE), "--progress", "none"]
    assert main([*argv, "--model", str(LANDCOVER), "-o", str(tmp_path / "a.tif")]) == 0
    assert main([*argv, "--model", str(LANDCOVER_FOLDER), "-o", str(tmp_path / "b.tif")]) == 0
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    capsys.readouterr()
    two = tmp_path / "two"
    shutil.copytree(LANDCOVER_FOLDER, two)
    (two / "other.emd").write_text((two / "landcover.emd").read_text())
    assert main([*argv, "--model", str(two), "-o", str(tmp_path / "c.tif")]) == 1
    err = capsys.readouterr().err
    assert "must hold exactly one .emd" in err and "other.emd" in err
    assert not (tmp_path / "c.tif").exists()


def test_a_bare_model_file_is_pointed_to_dlpk_pack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    weights = LANDCOVER_FOLDER / "landcover.onnx"
    status = main(["classify-pixels", "--model", str(weights), "--raster", str(SCENE),
                   "-o", str(tmp_path / "a.tif")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"dlpk: error: {weights} is not a model package")
    assert ".dlpk" in err and ".emd" in err and "`dlpk pack FOLDER`" in err
    assert "UTF-8" not in err and "\n" not in err


def test_lint_deep_says_what_it_opened(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "landcover"
    shutil.copytree(LANDCOVER_FOLDER, folder)
    wrong = json.loads((folder / "landcover.emd").read_text()) | {"ExtractBands": [0, 1]}
    (tmp_path / "wrong").mkdir()
    shutil.copy(folder / "landcover.onnx", tmp_path / "wrong")
    (tmp_path / "wrong" / "wrong.emd").write_text(json.dumps(wrong))
    main(["lint", "--deep", str(LANDCOVER), str(tmp_path / "wrong" / "wrong.emd")])
    captured = capsys.readouterr()
    notes = captured.err.splitlines()
    assert notes == [
        f"deep: {LANDCOVER}: opened landcover.onnx; checked input channels, input size, class "
        "count (where it declares them) and side-effect ops against the .emd: no findings",
        f"deep: {tmp_path / 'wrong' / 'wrong.emd'}: opened landcover.onnx; checked input "
        "channels, input size, class count (where it declares them) and side-effect ops "
        "against the .emd: DL803",
    ]
    assert "deep:" not in captured.out  # the report keeps to findings
    main(["lint", str(LANDCOVER)])
    assert capsys.readouterr().err == ""  # without --deep nothing is opened or said
