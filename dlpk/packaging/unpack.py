"""Opening a model once: lint it, unpack a package into a fresh folder, read its definition.

Runs on the launcher's side before a job is built, so lint errors stop the job before any
container starts, and the image can be chosen from the .emd's Framework; the runner then reads
the unpacked, linted folder without linting it again. Unpacking checks every member name first
(`extract_all`), and the package's declared size against its budget and the free space where it
is unpacked; nothing from the package is imported or unpickled here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from dlpk.errors import InputNotFoundError, PackageError, UsageError
from dlpk.packaging.pack import folder_emd
from dlpk.scratch import scratch_folder
from dlpk.spec.emd import EsriModelDefinition
from dlpk.spec.vocab import ARCGIS_LEARN_FRAMEWORK
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.lint import LintOptions, lint_emd_file, lint_package
from dlpk.validator.package_rules import locate_emd
from dlpk.validator.safezip import check_extraction, extract_all, member_infos


def parse_emd(emd_path: Path) -> EsriModelDefinition:
    try:
        return EsriModelDefinition.model_validate(json.loads(emd_path.read_text("utf-8")))
    except (ValidationError, ValueError) as exc:
        raise PackageError(f"{emd_path.name} is not a usable model definition ({exc})") from exc


def stop_on_errors(diagnostics: list[Diagnostic], where: Path) -> list[str]:
    """Raise on lint errors (a package ArcGIS would refuse is refused); return the warnings."""
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        shown = "; ".join(f"{d.code} {d.message}" for d in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise PackageError(f"{where} does not lint: {shown}{more}", f"run `dlpk lint {where}`")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity is Severity.WARNING]


def runner_framework(emd: EsriModelDefinition) -> str | None:
    """The Framework that picks the runner image: arcgis.learn's for a package it wrote (one
    carrying ArcGISLearnVersion and an InferenceFunction) whatever its Framework says."""
    if emd.ArcGISLearnVersion is not None and emd.InferenceFunction:
        return ARCGIS_LEARN_FRAMEWORK
    return emd.Framework


@dataclass(frozen=True)
class PreparedModel:
    folder: Path  # holds the .emd and the files it references
    emd_name: str  # relative to folder
    framework: str | None
    warnings: list[str]  # lint warnings: shown, not fatal


@contextlib.contextmanager
def prepared_model(path: Path) -> Iterator[PreparedModel]:
    """Lint `path` (.dlpk, .emd, or a model folder holding one .emd) and yield its folder; a
    package is unpacked for the block."""
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    if path.is_dir():
        path = folder_emd(path)  # as `dlpk pack` and `dlpk inspect` read a model folder
    suffix = path.suffix.lower()
    if suffix not in (".dlpk", ".zip", ".emd"):
        raise UsageError(
            f"{path} is not a model package: a model is a .dlpk, an .emd, or a folder holding "
            "one .emd beside the files it names",
            "make a package of the model's folder with `dlpk pack FOLDER`",
        )
    if suffix == ".emd":
        warnings = stop_on_errors(lint_emd_file(path, LintOptions()), path)
        yield PreparedModel(path.parent, path.name, runner_framework(parse_emd(path)), warnings)
        return
    warnings = stop_on_errors(lint_package(path, LintOptions()), path)
    try:
        with zipfile.ZipFile(path) as archive:
            location, _ = locate_emd(member_infos(archive), str(path))
            if location is None:
                raise PackageError(f"{path} holds no usable .emd", f"run `dlpk lint {path}`")
            # the budget and the free space, before a scratch folder is even made
            check_extraction(archive, Path(tempfile.gettempdir()), str(path))
            folder = scratch_folder("dlpk-model-")
            root = folder / "model"
            try:
                extract_all(archive, root, str(path))
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise PackageError(f"{path} is not a readable zip archive ({exc})") from exc
    try:
        # the .emd as extraction wrote it: lint read this member (its member path), and no
        # other member unpacks to the same file (extract_all refuses names that collide)
        emd_path = root.joinpath(*location.member.split("/"))
        if not emd_path.is_file():
            raise PackageError(f"{path}: {location.member} was not unpacked", "repack it")
        framework = runner_framework(parse_emd(emd_path))
        yield PreparedModel(emd_path.parent, emd_path.name, framework, warnings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
