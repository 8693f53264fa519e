"""`dlpk conformance` on the command line: exit codes, one-line errors, --list, -o, --strict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlpk.cli import main
from tests.conformance import builders
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"


def dlpk_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dlpk", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_list_names_every_check_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert {
        "CF101",
        "CF301",
        "CF302",
        "CF401",
        "CF402",
        "CF502",
        "CF601",
        "CF701",
        "CF801",
        "CF901",
        "RC101",
        "RC103",
        "RC201",
        "RC501",
    } <= set(ids)
    assert all(row["proves"] and "." in row["name"] for row in rows)
    assert main(["conformance", "--list"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n") == len(rows) and "tiles.receptive_field" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a package (PKG) to check, or --runner"),
        (["x.dlpk", "--runner", "local"], "not both"),
        (["examples/landcover.dlpk", "--select", "CF999"], "no model check matches 'CF999'"),
        (["examples/landcover.dlpk", "--arg", "padding"], "expected name=value"),
        (["--runner", "no-such-runner --flag"], "is not an executable command"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    done = dlpk_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_not_a_package_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "model.dlpk"
    fake.write_text("not a zip")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    for path, why in (
        (fake, "DL701"),
        (notes, "a .dlpk, .zip or .emd"),
        (tmp_path / "absent.dlpk", "no such file"),
    ):
        done = dlpk_cli(str(path))
        assert done.returncode == 2, done
        assert why in done.stderr and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr + done.stdout


def test_a_model_that_cannot_load_is_a_failed_check_not_a_traceback(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    package = builders.corrupt_package(tmp_path / "corrupt")
    done = dlpk_cli(str(package), "--ignore", "CF801")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.strip().startswith("CF103")]
    assert "FAIL" in line and "not a TorchScript archive" in line


def test_report_to_a_file_and_strict(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    package = builders.pixel_package(tmp_path / "extra", "extra_channel")
    report = tmp_path / "report.xml"
    args = [str(package), "--select", "CF2", "--arg", "predict_background=False"]
    done = dlpk_cli(*args, "--format", "junit", "-o", str(report))
    assert done.returncode == 0, done.stdout  # CF203 warns: warnings pass ...
    assert done.stdout == "" and "passed: report written to" in done.stderr
    assert "<testsuites" in report.read_text()
    strict = dlpk_cli(*args, "--strict")
    assert strict.returncode == 1  # ... unless --strict
    assert "CF203" in strict.stdout and "WARN" in strict.stdout


def test_runner_kit_from_the_command_line() -> None:
    done = dlpk_cli("--runner", "local", "--select", "RC201,RC206", "--format", "json")
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert report["kind"] == "runner" and report["summary"]["passed"] == 2
    assert [c["id"] for c in report["checks"]] == ["RC201", "RC206"]
