"""The reports: JSON valid against the published schema, JUnit that CI systems read, Markdown
and text that show what a package wrote without letting it drive the terminal."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from dlpk.cli import main
from dlpk.conformance.reporters import render
from dlpk.spec.conformance import CONFORMANCE_VERSION, ConformanceReport
from dlpk.spec.publish import schema_path


def report(strict: bool = False) -> ConformanceReport:
    checks = [
        {
            "id": "CF101",
            "name": "package.lint",
            "group": "package",
            "status": "pass",
            "summary": "no lint errors or warnings",
        },
        {
            "id": "CF301",
            "name": "tiles.invariance",
            "group": "tiles",
            "status": "fail",
            "summary": "12 pixel(s) differ | near seams",
            "fix": 'set "ModelPadding": 6',
            "evidence": {"differing_pixels": 12},
            "artifacts": ["CF301-seam.png"],
        },
        {
            "id": "CF402",
            "name": "repeat.batch_size",
            "group": "repeat",
            "status": "warn",
            "summary": "scores wander \x1b]0;owned\x07 a little",
            "fix": "evaluation mode",
        },
        {
            "id": "CF601",
            "name": "detectors.seam",
            "group": "detectors",
            "status": "skip",
            "summary": "not applicable: only for detectors",
        },
    ]
    return ConformanceReport.model_validate(
        {
            "kind": "model",
            "target": "m.dlpk",
            "dlpk": "0.1.0",
            "strict": strict,
            "started": "2026-12-01T00:00:00+00:00",
            "finished": "2026-12-01T00:00:05+00:00",
            "checks": checks,
            "summary": {"passed": 1, "failed": 1, "warned": 1, "skipped": 1},
        }
    )


def test_json_report_validates_against_the_published_schema() -> None:
    schema = json.loads(schema_path("conformance").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(render(report(), "json"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == []
    assert document["version"] == CONFORMANCE_VERSION
    assert ConformanceReport.model_validate(document) == report()
    assert "\x1b" not in render(report(), "json")  # escaped as \u001b


def test_exit_code_follows_failures_and_strict() -> None:
    assert report().exit_code == 1
    warned_only = report().model_copy(
        update={"checks": [c for c in report().checks if c.status != "fail"]}
    )
    assert warned_only.ok and warned_only.exit_code == 0
    assert warned_only.model_copy(update={"strict": True}).exit_code == 1


@pytest.mark.parametrize("strict", [False, True])
def test_junit(strict: bool) -> None:
    root = ET.fromstring(render(report(strict), "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4" and suite.get("skipped") == "1"
    assert suite.get("failures") == ("2" if strict else "1")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["dlpk.conformance.version"] == str(CONFORMANCE_VERSION)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["CF301 tiles.invariance"].find("failure")
    assert failure is not None and failure.get("type") == "CF301"
    assert 'set "ModelPadding": 6' in (failure.text or "") and "CF301-seam.png" in failure.text
    assert cases["CF601 detectors.seam"].find("skipped") is not None
    warned = cases["CF402 repeat.batch_size"]
    assert (warned.find("failure") is not None) == strict
    assert (warned.find("system-out") is not None) != strict
    assert "\x1b" not in render(report(strict), "junit")


def test_markdown_and_text() -> None:
    markdown = render(report(), "markdown")
    assert markdown.count("\n| CF") == 4
    assert "12 pixel(s) differ \\| near seams" in markdown  # a pipe stays in its cell
    assert "#### What to fix" in markdown and "evaluation mode" in markdown
    text = render(report(), "text")
    assert "\x1b" not in text and "\\x1b]0;owned\\x07" in text
    assert 'fix: set "ModelPadding": 6' in text and "see: CF301-seam.png" in text
    assert text.rstrip().endswith("1 passed, 1 failed, 1 warned, 1 skipped")


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "conformance"]) == 0
    assert capsys.readouterr().out == schema_path("conformance").read_text()
