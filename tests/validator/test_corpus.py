"""The acceptance corpus: every fixture lints to exactly its expected verdict, the set of its
codes with their severities ("DL503:warning"): a severity is part of the verdict, since an
error stops a package that ArcGIS would run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlpk.validator.lint import LintOptions, lint_emd_file, lint_package
from tests.corpus.packages import BUILDERS, EXPECTED, verdict

EMD_DIR = Path(__file__).parents[1] / "corpus" / "emd"
EMD_EXPECTED: dict[str, list[str]] = json.loads((EMD_DIR / "expected.json").read_text())


def test_every_emd_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in EMD_DIR.glob("*.emd")) == sorted(EMD_EXPECTED)


@pytest.mark.parametrize("name", sorted(EMD_EXPECTED))
def test_emd_fixture(name: str) -> None:
    diagnostics = lint_emd_file(EMD_DIR / name, LintOptions())
    assert sorted(verdict(diagnostics)) == EMD_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_package_fixture(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.dlpk"
    BUILDERS[name](path)
    diagnostics = lint_package(path, LintOptions())
    assert verdict(diagnostics) == EXPECTED[name]
