"""--debug shows the traceback of a raster function that failed in the runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlpk.cli.main import main
from dlpk.errors import ModelError
from tests.raster_functions import function_package
from tests.rasters import write_raster

FAILING_PRF = """
def deep_inside(value):
    return value / 0


class Failing:
    def initialize(self, **kwargs):
        deep_inside(1)
"""


def test_debug_shows_the_functions_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = function_package(tmp_path / "pkg", "Failing", FAILING_PRF, "ObjectDetection")
    raster = write_raster(tmp_path / "scene.tif", np.zeros((1, 32, 32), np.uint8))
    command = ["detect-objects", "--model", str(package), "--raster", str(raster),
               "-o", str(tmp_path / "out.gpkg"), "--trust-code", "--backend", "local"]  # fmt: skip
    assert main(command) == ModelError.exit_code
    plain = capsys.readouterr().err
    assert "initialize() failed (ZeroDivisionError: division by zero)" in plain
    assert "Traceback" not in plain
    with pytest.raises(ModelError):
        main(["--debug", *command])
    shown = capsys.readouterr().err
    assert "in deep_inside" in shown and "ZeroDivisionError: division by zero" in shown
