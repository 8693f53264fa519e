"""Opening a model for inference: read its .emd, pick its configuration and adapter.

A job's model is the unpacked package the launcher already linted, so it is only parsed here. A
.dlpk (or an .emd outside a job, for library use) is linted and unpacked once, by
`packaging.unpack`, into a fresh folder removed when the task ends.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dlpk.errors import ModelError
from dlpk.packaging.unpack import parse_emd, prepared_model
from dlpk.runners.models import Adapter, load_adapter
from dlpk.spec.configurations import (
    CONFIGURATIONS,
    FUNCTION_CONFIGURATIONS,
    RASTER_FUNCTION,
    Configuration,
)
from dlpk.spec.emd import ClassEntry, EsriModelDefinition
from dlpk.validator.files import ARCGIS_FUNCTIONS_PREFIX, DirectoryIndex, Found
from dlpk.validator.references import Kind, read_reference


@dataclass
class OpenedModel:
    """A linted model definition, the folder holding its files, and its configuration."""

    emd: EsriModelDefinition
    folder: Path
    configuration: Configuration
    warnings: list[str]
    emd_name: str = ""

    @property
    def runs_function(self) -> bool:
        """True when the package's InferenceFunction .py does the work
        (docs/esri-formats.md#methods)."""
        return self.configuration.name == RASTER_FUNCTION

    @property
    def emd_path(self) -> Path:
        return self.folder / self.emd_name

    @property
    def classes(self) -> list[ClassEntry]:
        """The ordered Classes every task maps outputs to; none is a model error."""
        if not self.emd.Classes:
            raise ModelError("the model definition lists no Classes")
        return self.emd.Classes

    @property
    def model_path(self) -> Path:
        """The file (or SavedModel folder) ModelFile names, read as lint reads it."""
        return model_file_path(self.folder, self.emd.ModelFile)

    def load(self, device: str, trust_code: bool) -> Adapter:
        return load_adapter(
            self.configuration.framework,
            self.model_path,
            device,
            trust_code,
            self.configuration.name,
            [c.Value for c in self.emd.Classes or []],
        )


FILE_HINT = "put the model file beside the .emd and name it relative to the .emd's folder"


def model_file_path(folder: Path, raw: str | None) -> Path:
    """Where ModelFile points, by the reading lint uses (`validator.references`): `\\` is a
    separator, so Esri's `.\\frozen_inference_graph.pb` is the file beside the .emd; letter
    case must match, as on the Linux servers ArcGIS also runs on. An absolute path is read as
    it is when it exists here (as ArcGIS reads it), else as its tail or file name beside the
    .emd; a relative path never leaves the model folder."""
    text = raw or ""
    reference = read_reference(text, DirectoryIndex(folder))
    if reference.kind is Kind.EMPTY:
        if text == ".":
            return folder
        raise ModelError("the model definition names no ModelFile", FILE_HINT)
    if reference.kind is Kind.CONTROL:
        raise ModelError(
            f"ModelFile {text!r} holds a control character (a JSON escape such as \\t)",
            "write each backslash of a Windows path as \\\\ in the .emd",
        )
    if reference.kind is Kind.ESCAPES:
        raise ModelError(f"ModelFile {text!r} points outside the model folder", FILE_HINT)
    if reference.kind is Kind.ABSOLUTE and Path(text).is_absolute() and Path(text).exists():
        return Path(text)
    if reference.found:
        return folder.joinpath(*reference.relative.split("/"))
    actual = reference.lookup.actual
    if reference.lookup.found is Found.OTHER_CASE and actual is not None:
        raise ModelError(
            f"ModelFile {text!r} matches {actual!r} only ignoring letter case",
            f"write {actual!r} in the .emd (`dlpk fix` does)",
        )
    if reference.kind is Kind.ABSOLUTE:
        name = posixpath.basename(reference.relative) or "the model file"
        raise ModelError(
            f"ModelFile {text!r} is absolute, does not exist here and {name} is not beside "
            "the .emd",
            f"put {name} beside the .emd and name it relative to the .emd's folder",
        )
    raise ModelError(f"ModelFile {text!r} is not beside the .emd", FILE_HINT)


#: ModelType -> the task whose tool runs it in ArcGIS (docs/esri-formats.md#modeltype).
_TASK_OF_TYPE = {
    "ImageClassification": "classify-pixels",
    "ObjectDetection": "detect-objects",
    "InstanceDetection": "detect-objects",
    "ObjectClassification": "classify-objects",
}


def _function_configuration(emd: EsriModelDefinition, task: str) -> Configuration:
    function = emd.InferenceFunction or ""
    if function.startswith(ARCGIS_FUNCTIONS_PREFIX):
        raise ModelError(
            f"InferenceFunction {function} is a raster function installed with ArcGIS Pro; "
            "it runs only inside ArcGIS",
            "package the function's .py beside the .emd and name it by its file name",
        )
    wanted = _TASK_OF_TYPE.get(str(emd.ModelType or ""))
    if wanted is not None and wanted != task:
        raise ModelError(f"{emd.ModelType} models run with `dlpk {wanted}`, not {task}")
    found = FUNCTION_CONFIGURATIONS.get(task)
    if found is None:
        runnable = ", ".join(f"dlpk {t}" for t in FUNCTION_CONFIGURATIONS)
        raise ModelError(
            f"dlpk does not run Python raster functions with {task} yet",
            f"they run with {runnable}",
        )
    return found


def _configuration(emd: EsriModelDefinition, task: str) -> Configuration:
    if emd.InferenceFunction:
        return _function_configuration(emd, task)
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


@contextlib.contextmanager
def open_model(path: Path, task: str) -> Iterator[OpenedModel]:
    """Yield the model of `path`: a job's .emd as it is; a .dlpk linted and unpacked."""
    with contextlib.ExitStack() as stack:
        if path.suffix.lower() == ".emd" and path.is_file():
            folder, emd_name, warnings = path.parent, path.name, []
        else:
            prepared = stack.enter_context(prepared_model(path))
            folder, emd_name, warnings = prepared.folder, prepared.emd_name, prepared.warnings
        emd = parse_emd(folder / emd_name)
        yield OpenedModel(emd, folder, _configuration(emd, task), warnings, emd_name)
