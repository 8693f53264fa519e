"""Did-you-mean: a misspelt option, choice or model argument is answered with what it
resembles, in one line; ArcGIS parameters dlpk has no equivalent for say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpk.cli import main
from dlpk.errors import UsageError
from dlpk.runners.models.raster_function import scalars_for
from tests.conftest import REPO

PIXELS = ["classify-pixels", "--model", str(REPO / "examples/landcover.dlpk"),
          "--raster", str(REPO / "examples/scene.tif")]  # fmt: skip


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The last line argparse printed before exiting with status 2."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_misspelt_option_names_the_one_it_resembles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = error_of(["export-chips", "--raster", "r.tif", "--tile-siz", "64", "-o", "o"], capsys)
    assert line == "dlpk export-chips: error: unknown option --tile-siz; did you mean --tile-size?"
    line = error_of(["export-chips", "--raster", "r.tif", "--tile_size_x=64", "-o", "o"], capsys)
    assert line.endswith("unknown option --tile_size_x; did you mean --tile-size-x?")
    line = error_of([*PIXELS, "-o", "o.tif", "--overwrit", "--zzzz"], capsys)
    assert line.endswith("did you mean --overwrite?; unknown option --zzzz")


def test_a_misspelt_required_option_is_named_before_the_missing_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = error_of(["export-chips", "--rastr", "r.tif", "-o", "o"], capsys)
    assert line.endswith("unknown option --rastr; did you mean --raster?")


def test_prefixes_are_not_options(capsys: pytest.CaptureFixture[str]) -> None:
    line = error_of([*PIXELS, "-o", "o.tif", "--over"], capsys)
    assert "unknown option --over" in line


def test_an_arcgis_parameter_without_equivalent_says_what_dlpk_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    detect = ["detect-objects", "--model", "m", "--raster", "r", "-o", "o.gpkg"]
    line = error_of([*detect, "--run-nms", "NMS"], capsys)
    assert "--run-nms: ArcGIS's run_nms (Detect Objects Using Deep Learning) has no dlpk" in line
    assert "class-aware NMS" in line
    line = error_of(["export-chips", "--raster", "r", "-o", "o", "--start_index", "5"], capsys)
    assert "start_index" in line and "deprecated" in line


def test_a_misspelt_choice_or_command(capsys: pytest.CaptureFixture[str]) -> None:
    line = error_of(["export-chips", "--raster", "r", "-o", "o", "--format", "classified_tiles"],
                    capsys)  # fmt: skip
    assert "invalid choice: 'classified_tiles'; did you mean Classified_Tiles?" in line
    assert "did you mean classify-pixels?" in error_of(["clasify-pixels"], capsys)


def test_a_misspelt_model_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "out.tif"
    code = main([*PIXELS, "-o", str(output), "--arguments", "paddin 32;batch_size 2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("dlpk: error: unknown argument(s) paddin (did you mean padding?")
    assert not output.exists()


def test_a_bad_value_table_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*PIXELS, "-o", str(tmp_path / "o.tif"), "--arguments", "padding=32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "(or --arg padding=32)" in err[0]


def test_a_raster_function_s_argument_misspelt(tmp_path: Path) -> None:
    declared = {"threshold": "0.5", "class_names": None}
    with pytest.raises(UsageError, match=r"did you mean threshold\? this raster function takes"):
        scalars_for(declared, {"treshold": "0.7"}, tmp_path / "m.emd", "cpu")
    with pytest.raises(UsageError) as raised:
        scalars_for(declared, {"zzz": "1"}, tmp_path / "m.emd", "cpu")
    assert "did you mean" not in str(raised.value)
