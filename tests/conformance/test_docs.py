"""docs/conformance.md stays true: every check is in its tables under its id and name, and its
Python example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlpk.conformance.model_kit import check_names
from dlpk.conformance.runner.kit import case_names
from tests.conftest import REPO

DOC = (REPO / "docs" / "conformance.md").read_text(encoding="utf-8")
ROWS = dict(re.findall(r"^\| (CF\d{3}|RC\d{3}) \| `([\w.]+)` \|", DOC, re.M))


def test_every_check_is_documented_by_id_and_name() -> None:
    registered = {c.id: c.name for c in [*check_names(), *case_names()]}
    assert registered == ROWS


def test_readme_shows_the_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "| `dlpk conformance PKG` |" in readme and "docs/conformance.md" in readme


@pytest.mark.slow
def test_the_python_example_runs(tmp_path: Path) -> None:
    [code] = re.findall(r"```python\n(.*?)```", DOC, re.S)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "True 0"
