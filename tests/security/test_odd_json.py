"""JSON that is legal but hostile to Python: a lone surrogate escape and an integer too long to
convert are diagnosed or kept, never an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dlpk
from dlpk.cli import main


def test_a_lone_surrogate_lints_normalizes_and_inspects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emd = tmp_path / "s.emd"
    emd.write_text('{"Framework": "ONNX", "ModelName": "\\ud800"}', encoding="utf-8")
    for argv in (["lint", str(emd)], ["inspect", str(emd)], ["normalize", str(emd)]):
        capsys.readouterr()
        assert main(argv) in (0, 1)
        captured = capsys.readouterr()
        assert "internal error" not in captured.err
    canonical = dlpk.normalize(emd)
    assert canonical.encode("utf-8") and json.loads(canonical)["ModelName"] == "\ud800"


def test_an_integer_too_long_for_python_is_a_syntax_error(tmp_path: Path) -> None:
    emd = tmp_path / "n.emd"
    emd.write_text('{"ImageHeight": ' + "9" * 5000 + "}", encoding="utf-8")
    report = dlpk.lint(emd)
    assert [d.code for d in report.errors] == ["DL101"]
    assert "5000 digits" in report.errors[0].message
