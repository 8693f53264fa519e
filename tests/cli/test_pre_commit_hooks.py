""".pre-commit-hooks.yaml, exercised by pre-commit itself: the hooks install dlpk from this
repository (its committed and staged files, as `pre-commit try-repo` takes them) and fail a
commit that holds a broken .emd, pass one that holds a good one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ESRI_DOC_EMD, REPO

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook environment for the module's tests (pre-commit builds it on first use)."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_hook(hook: str, files: dict[str, str], workdir: Path, home: Path) -> tuple[int, str]:
    workdir.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    for name, text in files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "add", "."], cwd=workdir, check=True)
    env = os.environ | {"PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    done = subprocess.run(
        [*PRE_COMMIT, "try-repo", str(REPO), hook, "--all-files"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_lint_hook_fails_a_broken_emd_and_passes_a_good_one(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    code, out = _try_hook("dlpk-lint", {"bad.emd": ESRI_DOC_EMD}, tmp_path / "bad", pre_commit_home)
    assert code == 1, out
    assert "DL202" in out and "unknown ModelType 'ObjectionDetection'" in out
    good = (REPO / "examples" / "landcover" / "landcover.emd").read_text(encoding="utf-8")
    files = {"landcover.emd": good, "landcover.onnx": "weights"}
    code, out = _try_hook("dlpk-lint", files, tmp_path / "good", pre_commit_home)
    assert code == 0, out
    assert "dlpk lint" in out and "Passed" in out, out


@pytest.mark.slow
def test_normalize_hook_fails_a_non_canonical_emd(tmp_path: Path, pre_commit_home: Path) -> None:
    shuffled = '{"ModelFile": "m.onnx", "Framework": "ONNX"}\n'
    code, out = _try_hook(
        "dlpk-normalize", {"m.emd": shuffled}, tmp_path / "shuffled", pre_commit_home
    )
    assert code == 1 and "normalized" in out, out
