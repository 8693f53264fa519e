"""docs/python-api.md: every Python example runs, from the repository root's point of view."""

from __future__ import annotations

import os
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


# -- docs/walkthrough.md: its blocks, in order, in one folder -------------------------------
WALKTHROUGH = REPO / "docs" / "walkthrough.md"
STEP = re.compile(r"(?:as\s+`([^`]+)`:\n\n)?```(\w+)\n(.*?)```", re.S)


def walkthrough_steps() -> list[tuple[str, str, str]]:
    """("save", path, text) for a block the page says to save as a file, ("run", "", script)
    for a shell block; other blocks are shown, not run."""
    steps = []
    for path, language, text in STEP.findall(WALKTHROUGH.read_text(encoding="utf-8")):
        if path:
            steps.append(("save", path, text))
        elif language == "sh":
            steps.append(("run", "", text))
    return steps


def test_the_walkthrough_saves_its_files_and_runs_them() -> None:
    steps = walkthrough_steps()
    saved = [path for kind, path, _ in steps if kind == "save"]
    assert saved == ["train.py", "building/building.emd", "look.py"]
    scripts = "".join(text for kind, _, text in steps if kind == "run")
    for command in ("dlpk export-chips", "python train.py", "dlpk pack", "dlpk lint",
                    "dlpk classify-pixels", "python look.py"):  # fmt: skip
        assert command in scripts


def test_the_walkthrough_emd_lints_clean(tmp_path: Path) -> None:
    import dlpk

    emd = next(text for kind, path, text in walkthrough_steps() if path.endswith(".emd"))
    (tmp_path / "building.emd").write_text(emd, encoding="utf-8")
    (tmp_path / "model.pt").write_bytes(b"not opened without --deep")
    report = dlpk.lint(tmp_path / "building.emd", strict=True)
    assert report.ok, report.render("text")


@pytest.mark.slow
def test_the_walkthrough_runs(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for kind, path, text in walkthrough_steps():
        if kind == "save":
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text, encoding="utf-8")
            continue
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, f"{text}\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "buildings.tif").is_file()


# -- citations: the project's own docs, never an unshipped reference ------------------------
CITED = re.compile(r"docs/esri-formats\.md#([a-z0-9-]+)")
SCANNED = [REPO / "README.md", *(REPO / "docs").glob("*.md")] + [
    path for folder in ("dlpk", "tests") for path in (REPO / folder).rglob("*.py")
]


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown page."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_citations_name_sections_the_project_ships() -> None:
    anchors = _anchors((REPO / "docs" / "esri-formats.md").read_text(encoding="utf-8"))
    cited: set[str] = set()
    for path in SCANNED:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"§\s*\d", text), f"{path.relative_to(REPO)} cites a section sign"
        cited |= set(CITED.findall(text))
    assert cited, "nothing cites docs/esri-formats.md"
    assert cited <= anchors, f"no such section in docs/esri-formats.md: {cited - anchors}"
