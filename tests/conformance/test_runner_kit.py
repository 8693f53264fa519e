"""The runner kit: dlpk's own runner passes it, and runners that break the job contract in
one way each (tests/conformance/fake_runners.py) fail the case that covers it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

import dlpk
from dlpk.conformance.runner.targets import CommandTarget, ImageTarget, target_for
from dlpk.errors import UsageError

FAKE = Path(__file__).with_name("fake_runners.py")


def fake(mode: str) -> str:
    return shlex.join([sys.executable, str(FAKE), mode])


def test_dlpk_local_runner_passes_the_kit() -> None:
    report = dlpk.conformance(runner="local")
    assert report.kind == "runner" and report.ok, [c for c in report.checks if c.status != "pass"]
    assert len(report.checks) == 17
    # dlpk's classify_pixels reads a missing input as an invalid job (2), where the
    # contract's code is 3: tolerated, with a warning, until the runner says 3
    assert {c.id for c in report.checks if c.status != "pass"} <= {"RC302"}
    assert report.check("RC501").evidence["left"]  # it was killed mid-way: progress, log


def test_a_runner_writing_result_json_before_its_outputs_fails() -> None:
    report = dlpk.conformance(runner=fake("result-first"), select=["RC101", "RC103"])
    assert report.check("RC101").status == "pass"  # every file is right in the end ...
    late = report.check("RC103")
    assert late.status == "fail"  # ... but not in the right order
    assert "out/classified.tif" in late.evidence["late"]


def test_a_runner_exiting_0_on_bad_jobs_fails() -> None:
    report = dlpk.conformance(
        runner=fake("always-zero"), select=["RC202", "RC204", "RC301", "RC401"]
    )
    assert report.checks and all(c.status == "fail" for c in report.checks)
    assert all("exit code 0, not" in c.summary for c in report.checks)
    assert report.exit_code == 1


def test_a_runner_leaving_a_finished_looking_output_when_killed_fails() -> None:
    check = dlpk.conformance(runner=fake("eager-output"), select=["RC501"]).check("RC501")
    assert check.status == "fail" and "out/classified.tif" in check.summary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local", CommandTarget((sys.executable, "-m", "dlpk.runners"))),
        ("docker:dlpk-runner-onnx:1-cpu", ImageTarget("dlpk-runner-onnx:1-cpu")),
        ("registry.example/runner:2", ImageTarget("registry.example/runner:2")),
        (
            f"{sys.executable} -m dlpk.runners",
            CommandTarget((sys.executable, "-m", "dlpk.runners")),
        ),
    ],
)
def test_what_runner_names(text: str, expected: object) -> None:
    assert target_for(text) == expected


@pytest.mark.parametrize("text", ["docker:", "", "no-such-command --flag", "'unclosed"])
def test_runner_names_that_name_nothing(text: str) -> None:
    with pytest.raises(UsageError):
        target_for(text)
