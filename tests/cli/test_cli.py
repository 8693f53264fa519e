"""The command line end to end: exit statuses, formats, fix, normalize, pack, inspect, rules."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from dlpk.cli import main
from dlpk.validator.rules import RULES
from tests.conftest import REPO

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-2.1.0-rtm.5.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_esri_doc_example_reports_both_problems_and_fix_repairs_the_first(
    capsys: pytest.CaptureFixture[str], esri_doc_package: Path
) -> None:
    status, out, _ = run(capsys, "lint", str(esri_doc_package))
    assert status == 1
    assert "DL202" in out and "ObjectionDetection" in out and "'ObjectDetection'" in out
    assert "DL501" in out and "tree_detection.pb" in out

    status, out, err = run(capsys, "fix", str(esri_doc_package))
    assert "fixed DL202" in out
    assert status == 1 and "remaining DL501" in err  # the missing file cannot be invented
    with zipfile.ZipFile(esri_doc_package) as archive:
        emd = json.loads(archive.read("tree_detection.emd"))
    assert emd["ModelType"] == "ObjectDetection"
    assert emd["Classes"][0]["Name"] == "Tree"  # everything else is kept

    status, out, _ = run(capsys, "lint", "--format", "json", str(esri_doc_package))
    codes = {d["code"] for d in json.loads(out)["diagnostics"]}
    assert "DL202" not in codes and "DL501" in codes and "DL304" in codes


def test_clean_folder_lints_with_status_zero(
    capsys: pytest.CaptureFixture[str], model_folder: Path
) -> None:
    status, out, _ = run(capsys, "lint", str(model_folder))
    assert status == 0
    assert "1 file(s) checked: 0 error(s)" in out


def test_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emd = tmp_path / "m.emd"
    emd.write_text((REPO / "tests/corpus/emd/bands_duplicate.emd").read_text())
    (tmp_path / "frozen_inference_graph.pb").write_bytes(b"x")
    assert run(capsys, "lint", str(emd))[0] == 0
    assert run(capsys, "lint", "--strict", str(emd))[0] == 1


def test_select_and_ignore(capsys: pytest.CaptureFixture[str], esri_doc_package: Path) -> None:
    _, out, _ = run(capsys, "lint", "--format", "json", "--select", "DL2", str(esri_doc_package))
    assert {d["code"] for d in json.loads(out)["diagnostics"]} == {"DL202"}
    _, out, _ = run(
        capsys, "lint", "--format", "json", "--ignore", "DL202,DL5", str(esri_doc_package)
    )
    assert {d["code"] for d in json.loads(out)["diagnostics"]} == set()


def test_missing_path_is_a_usage_error_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "lint", str(tmp_path / "nope.dlpk"))
    assert status == 2
    assert err.startswith("dlpk: error:") and "no such file" in err
    assert "Traceback" not in err


def test_broken_zip_is_a_diagnostic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.dlpk"
    broken.write_bytes(b"PK\x03\x04 not really")
    status, out, _ = run(capsys, "lint", str(broken))
    assert status == 1 and "DL701" in out


def test_json_report_shape(capsys: pytest.CaptureFixture[str], esri_doc_package: Path) -> None:
    _, out, _ = run(capsys, "lint", "--format", "json", str(esri_doc_package))
    report = json.loads(out)
    assert report["version"] == 1
    assert set(report["summary"]) == {"files", "errors", "warnings", "infos", "fixable"}
    first = report["diagnostics"][0]
    assert set(first) == {
        "code", "severity", "message", "file", "member", "pointer", "line", "column", "fix"
    }  # fmt: skip
    model_type = next(d for d in report["diagnostics"] if d["code"] == "DL202")
    assert (model_type["line"], model_type["column"]) == (5, 17)
    assert model_type["pointer"] == "/ModelType"
    assert model_type["member"] == "tree_detection.emd"
    assert model_type["fix"]["safe"] is True


def test_sarif_validates_against_the_official_schema(
    capsys: pytest.CaptureFixture[str], esri_doc_package: Path, tmp_path: Path
) -> None:
    emd = tmp_path / "broken.emd"
    emd.write_text('{"ModelType": "ObjectionDetection",}')
    _, out, _ = run(capsys, "lint", "--format", "sarif", str(esri_doc_package), str(emd))
    log = json.loads(out)
    jsonschema.validate(log, SARIF_SCHEMA)
    results = log["runs"][0]["results"]
    loose = [r for r in results if r["locations"][0]["physicalLocation"].get("region")]
    assert {r["ruleId"] for r in loose} >= {"DL102", "DL202"}
    assert loose[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_github_annotations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emd = tmp_path / "m.emd"
    emd.write_text('{\n  "ModelType": "Banana"\n}')
    _, out, _ = run(capsys, "lint", "--format", "github", str(emd))
    line = next(x for x in out.splitlines() if "DL202" in x)
    assert line.startswith(f"::error file={emd},line=2,col=16,title=DL202::")


def test_report_to_file(capsys: pytest.CaptureFixture[str], esri_doc_package: Path) -> None:
    target = esri_doc_package.with_suffix(".sarif")
    run(capsys, "lint", "--format", "sarif", "-o", str(target), str(esri_doc_package))
    assert json.loads(target.read_text())["version"] == "2.1.0"


def test_fix_emd_in_place_and_to_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emd = tmp_path / "m.emd"
    original = '\ufeff{"modeltype": "ObjectDetection", "ImageHeight": "256",}'
    emd.write_text(original, encoding="utf-8")
    out_file = tmp_path / "fixed.emd"
    run(capsys, "fix", str(emd), "-o", str(out_file))
    assert emd.read_text(encoding="utf-8") == original  # -o leaves the input alone
    fixed = json.loads(out_file.read_text(encoding="utf-8"))
    assert fixed == {"ModelType": "ObjectDetection", "ImageHeight": 256}
    status, _, err = run(capsys, "fix", str(emd), "-o", str(out_file))
    assert status == 2 and "--overwrite" in err
    run(capsys, "fix", str(emd))
    assert json.loads(emd.read_text(encoding="utf-8")) == fixed


def test_unsafe_fix_only_when_asked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emd = tmp_path / "m.emd"
    emd.write_text('{"ModelFile": "C:\\\\models\\\\m.onnx"}')
    (tmp_path / "m.onnx").write_bytes(b"x")
    run(capsys, "fix", str(emd))
    assert json.loads(emd.read_text())["ModelFile"] == "C:\\models\\m.onnx"
    run(capsys, "fix", "--unsafe", str(emd))
    assert json.loads(emd.read_text())["ModelFile"] == "m.onnx"


def test_fix_flattens_a_top_level_folder_with_unsafe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.corpus.packages import top_level_folder

    package = tmp_path / "nested.dlpk"
    top_level_folder(package)
    run(capsys, "fix", "--unsafe", str(package))
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["model.emd", "model.onnx"]
    assert run(capsys, "lint", str(package))[0] == 0


def test_normalize_is_canonical_and_check_reports(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    emd = tmp_path / "m.emd"
    emd.write_text(
        '{"Classes": [{"Color": [1, 2, 3], "name": "B", "Value": 2}, {"Value": 1, "Name": "A"}],'
        ' "modelfile": ".\\\\weights\\\\m.pth", "Framework": "PyTorch", "custom": {"k": 1}}'
    )
    status, out, _ = run(capsys, "normalize", str(emd))
    assert status == 0
    doc = json.loads(out)
    assert list(doc) == ["Framework", "ModelFile", "Classes", "custom"]
    assert doc["ModelFile"] == "weights/m.pth"
    assert [c["Value"] for c in doc["Classes"]] == [2, 1]  # order is semantic: never sorted
    assert list(doc["Classes"][0]) == ["Value", "Name", "Color"]
    assert run(capsys, "normalize", "--check", str(emd))[0] == 1
    emd.write_text(out)
    assert run(capsys, "normalize", "--check", str(emd))[0] == 0


def test_normalize_refuses_broken_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emd = tmp_path / "m.emd"
    emd.write_text('{"a": ')
    status, _, err = run(capsys, "normalize", str(emd))
    assert status == 1 and "line 1, column 7" in err


def test_pack_is_deterministic_and_refuses_errors(
    capsys: pytest.CaptureFixture[str], model_folder: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.dlpk", tmp_path / "b.dlpk"
    assert run(capsys, "pack", str(model_folder), "-o", str(first))[0] == 0
    (model_folder / "__pycache__").mkdir()
    (model_folder / "__pycache__" / "x.pyc").write_bytes(b"cache")
    import os

    os.utime(model_folder / "model.onnx", (1, 1))  # timestamps must not matter
    assert run(capsys, "pack", str(model_folder), "-o", str(second))[0] == 0
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["README.txt", "model.onnx", "water.emd"]
    status, _, err = run(capsys, "pack", str(model_folder), "-o", str(first))
    assert status == 2 and "already exists" in err
    (model_folder / "water.emd").write_text('{"ModelType": "Nope"}')
    status, _, err = run(capsys, "pack", str(model_folder), "-o", str(tmp_path / "c.dlpk"))
    assert status == 1 and "refusing to pack" in err
    assert not (tmp_path / "c.dlpk").exists()


def test_bundled_sample_package_is_what_pack_produces(tmp_path: Path) -> None:
    target = tmp_path / "landcover.dlpk"
    assert main(["pack", str(REPO / "examples" / "landcover"), "-o", str(target)]) == 0
    assert target.read_bytes() == (REPO / "examples" / "landcover.dlpk").read_bytes()


def test_inspect_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    package = str(REPO / "examples" / "landcover.dlpk")
    status, out, _ = run(capsys, "inspect", package)
    assert status == 0
    assert "ImageClassification" in out and "Vegetation" in out and "#267300" in out
    assert "16 px (ModelPadding)" in out
    _, out, _ = run(capsys, "inspect", "--format", "json", package)
    info = json.loads(out)
    assert info["classes"][1] == {"value": 2, "name": "Built-up", "color": [230, 0, 0]}
    assert [f["name"] for f in info["files"]] == ["landcover.emd", "landcover.onnx"]
    assert info["lint"] == {"errors": 0, "warnings": 0}


def test_rules_listing(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "rules", "--format", "json")
    rows = json.loads(out)
    assert [r["code"] for r in rows] == list(RULES)
    assert all(r["summary"] and r["severity"] in ("error", "warning", "info") for r in rows)
    status, out, _ = run(capsys, "rules", "DL106")
    assert status == 0 and "duplicate-key" in out
    assert run(capsys, "rules", "DL999")[0] == 2


def test_rule_codes_are_stable() -> None:
    """Codes are an interface: this list only ever grows."""
    published = (REPO / "tests" / "data" / "rule-codes.txt").read_text().split()
    assert list(RULES)[: len(published)] == published


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dlpk", "lint", str(REPO / "examples" / "landcover.dlpk")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
