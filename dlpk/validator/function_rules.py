"""Rules over InferenceFunction: the Python raster function that runs the model
(docs/esri-formats.md#inferencefunction).

It is a `.py` beside the .emd, whose class named like the file dlpk's runner instantiates (Esri's
samples and arcgis.learn's files are written so; Esri's custom-model draft template is not, so
ArcGIS's own rule is left open and a mismatch is a warning), or a `[Functions]` path
into Pro's installation. Pro ships its deep-learning functions under
`[Functions]System\\DeepLearning\\`; any other `[Functions]` path names a file someone copied
into one Pro installation, which a package's recipient will not have.
"""

from __future__ import annotations

import posixpath

from dlpk.spec import vocab
from dlpk.validator.diagnostics import Severity
from dlpk.validator.emitter import Emitter
from dlpk.validator.files import ARCGIS_FUNCTIONS_PREFIX
from dlpk.validator.path_rules import check_path
from dlpk.validator.pysource import module_binds

POINTER = "/InferenceFunction"


def check_function(emit: Emitter, function: str, referenced: set[str]) -> None:
    if function.startswith(ARCGIS_FUNCTIONS_PREFIX):
        _check_installed(emit, function)
        return
    if not function.lower().endswith(".py"):
        emit.emit("DL510", f"InferenceFunction {function!r} is not a .py file", POINTER)
        return
    relative = check_path(emit, POINTER, function, "DL507", referenced)
    if relative is not None:
        _check_class(emit, relative)


def _check_installed(emit: Emitter, function: str) -> None:
    inside = function[len(ARCGIS_FUNCTIONS_PREFIX) :].replace("\\", "/").lstrip("/")
    name = posixpath.basename(inside)
    packaged = f"package {name} beside the .emd and write {name!r}"
    if inside.lower().startswith(vocab.PRO_DEEP_LEARNING_FOLDER.lower()):
        emit.emit(
            "DL506",
            f"InferenceFunction {function!r} is a raster function installed with ArcGIS Pro; "
            f"it runs only where ArcGIS is installed (to run it elsewhere, dlpk included, "
            f"{packaged})",
            POINTER,
        )
        return
    where = "" if emit.source.in_package else "; this .emd works only on such a machine"
    emit.emit(
        "DL511",
        f"InferenceFunction {function!r} is not a function Pro ships (Pro's deep-learning "
        f"functions are under [Functions]System\\DeepLearning\\): it runs only where someone "
        f"copied {name} into Pro's raster functions folder{where}; {packaged}",
        POINTER,
        severity=None if emit.source.in_package else Severity.WARNING,
    )


def _check_class(emit: Emitter, relative: str) -> None:
    """DL512 when the source is at hand and plainly lacks the class named like the file."""
    index = emit.source.index
    source = index.read(relative) if index is not None else None
    if source is None:
        return
    name = posixpath.basename(relative)
    stem = posixpath.splitext(name)[0]
    found = module_binds(source, stem)
    if found.binds is not False:
        return
    candidates = found.functions or found.classes
    if len(candidates) == 1:
        other = candidates[0]
        advice = (
            f"rename class {other} to {stem} (or the file, and InferenceFunction, to {other}.py)"
        )
    else:
        advice = f"name the raster function's class {stem}"
    emit.emit(
        "DL512",
        f"{name} defines no class {stem}: dlpk's runner instantiates the class named like "
        f"the file, as Esri's samples are written (whether ArcGIS requires it is not "
        f"documented); {advice}",
        POINTER,
    )
