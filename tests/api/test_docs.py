"""docs/python-api.md: every Python example runs, from the repository root's point of view."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DOC = REPO / "docs" / "python-api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_example_runs(number: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    code = BLOCKS[number]
    if "dlpk.Docker(" in code:
        request.getfixturevalue("docker_ready")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # every example prints what it shows
