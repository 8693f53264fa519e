"""Opening a model for inference: lint it, unpack it safely, read its .emd, pick its adapter.

Lint errors stop here, before any pixel is read: a package that ArcGIS would refuse is refused.
A .dlpk is unpacked into a fresh temporary folder that is removed when the task ends.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from dlpk.errors import ModelError, PackageError
from dlpk.runners.adapters import Adapter, load_adapter
from dlpk.spec.configurations import CONFIGURATIONS, Configuration
from dlpk.spec.emd import EsriModelDefinition
from dlpk.validator.diagnostics import Diagnostic, Severity


@dataclass
class OpenedModel:
    """A linted model definition, the folder holding its files, and its configuration."""

    emd: EsriModelDefinition
    folder: Path
    configuration: Configuration
    warnings: list[str]

    @property
    def model_path(self) -> Path:
        return self.folder / (self.emd.ModelFile or "")

    def load(self, device: str, trust_code: bool) -> Adapter:
        path = self.model_path
        if not path.is_file():
            raise ModelError(f"{self.emd.ModelFile} is not in the package")
        return load_adapter(self.configuration.framework, path, device, trust_code)


def stop_on_errors(diagnostics: list[Diagnostic], where: Path) -> list[str]:
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        shown = "; ".join(f"{d.code} {d.message}" for d in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise PackageError(f"{where} does not lint: {shown}{more}", f"run `dlpk lint {where}`")
    return [f"{d.code} {d.message}" for d in diagnostics if d.severity is Severity.WARNING]


def _configuration(emd: EsriModelDefinition, task: str) -> Configuration:
    if emd.InferenceFunction:
        raise ModelError(
            f"this model runs through its InferenceFunction {emd.InferenceFunction}, "
            "which dlpk does not run yet",
            "use a TorchScript or ONNX configuration (see dlpk/spec/configurations.py)",
        )
    key = (emd.Framework or "", emd.configuration_name or "")
    found = CONFIGURATIONS.get(key)
    if found is None:
        runnable = ", ".join(f"{f}/{n}" for f, n in CONFIGURATIONS)
        raise ModelError(
            f"no runner for Framework {key[0]!r} with ModelConfiguration {key[1]!r}",
            f"runnable: {runnable}",
        )
    if found.task != task:
        raise ModelError(f"{key[0]}/{key[1]} models run with `dlpk {found.task}`, not {task}")
    return found


def parse_emd(emd_path: Path) -> EsriModelDefinition:
    try:
        return EsriModelDefinition.model_validate(json.loads(emd_path.read_text("utf-8")))
    except (ValidationError, ValueError) as exc:
        raise PackageError(f"{emd_path.name} is not a usable model definition ({exc})") from exc


@contextlib.contextmanager
def open_model(path: Path, task: str) -> Iterator[OpenedModel]:
    """Lint `path` (.dlpk or .emd), unpack a package to a temporary folder, and yield the model."""
    from dlpk.runners.inference.prepare import prepared_model

    with prepared_model(path) as prepared:
        emd = parse_emd(prepared.folder / prepared.emd_name)
        yield OpenedModel(emd, prepared.folder, _configuration(emd, task), prepared.warnings)
