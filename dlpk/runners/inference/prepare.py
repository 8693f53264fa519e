"""The launcher's side of a model: lint it, unpack a package, know its framework.

Runs on the host before a job is built, so lint errors stop the job before any container starts
and the image can be chosen from the .emd's Framework. Unpacking checks every member name first
(`extract_all`); nothing from the package is imported or unpickled here.
"""

from __future__ import annotations

import contextlib
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dlpk.errors import InputNotFoundError, PackageError
from dlpk.runners.inference.model import parse_emd, stop_on_errors
from dlpk.validator.lint import LintOptions, lint_emd_file, lint_package
from dlpk.validator.package_rules import locate_emd
from dlpk.validator.safezip import extract_all, member_infos


@dataclass(frozen=True)
class PreparedModel:
    folder: Path  # holds the .emd and the files it references
    emd_name: str  # relative to folder
    framework: str | None
    warnings: list[str]  # lint warnings: shown, not fatal


@contextlib.contextmanager
def prepared_model(path: Path) -> Iterator[PreparedModel]:
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    if path.suffix.lower() not in (".dlpk", ".zip"):
        warnings = stop_on_errors(lint_emd_file(path, LintOptions()), path)
        yield PreparedModel(path.parent, path.name, parse_emd(path).Framework, warnings)
        return
    warnings = stop_on_errors(lint_package(path, LintOptions()), path)
    with tempfile.TemporaryDirectory(prefix="dlpk-model-") as scratch:
        root = Path(scratch) / "model"
        with zipfile.ZipFile(path) as archive:
            location, _ = locate_emd(member_infos(archive), str(path))
            if location is None:
                raise PackageError(f"{path} holds no usable .emd", f"run `dlpk lint {path}`")
            extract_all(archive, root)
        emd_path = root.joinpath(*location.member.split("/"))
        framework = parse_emd(emd_path).Framework
        yield PreparedModel(emd_path.parent, emd_path.name, framework, warnings)
