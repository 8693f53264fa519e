"""Rules over the files an .emd references: ModelFile(s), InferenceFunction, configuration modules.

Returns the set of referenced paths so package rules can list what is never referenced. The
checks of one path are path_rules'; InferenceFunction's own are function_rules'.
"""

from __future__ import annotations

import posixpath
from typing import Any

from dlpk.spec import vocab
from dlpk.validator.diagnostics import Severity
from dlpk.validator.emitter import Emitter
from dlpk.validator.files import Found, escapes_root, is_absolute_path, to_relative_posix
from dlpk.validator.function_rules import check_function
from dlpk.validator.jsontext import child_pointer
from dlpk.validator.path_rules import check_path


def check_references(emit: Emitter, doc: dict[str, Any]) -> set[str]:
    referenced: set[str] = set()
    framework = doc.get("Framework")
    model_file = doc.get("ModelFile")
    if isinstance(model_file, str) and model_file not in (".", ""):
        check_path(emit, "/ModelFile", model_file, "DL501", referenced)
        _check_extension(emit, framework, to_relative_posix(model_file))
    model_files = doc.get("ModelFiles")
    if isinstance(model_files, list):
        for index, name in enumerate(model_files):
            if isinstance(name, str):
                check_path(emit, child_pointer("/ModelFiles", index), name, "DL501", referenced)
    function = doc.get("InferenceFunction")
    if isinstance(function, str):
        check_function(emit, function, referenced)
    config = doc.get("ModelConfiguration")
    if isinstance(config, dict):
        for key in ("Architecture", "Config"):
            module = config.get(key)
            if isinstance(module, str) and module:
                _check_module(emit, child_pointer("/ModelConfiguration", key), module, referenced)
    extra = doc.get("ModelConfigurationFile")
    if isinstance(extra, str):
        check_path(emit, "/ModelConfigurationFile", extra, "DL501", referenced)
    return referenced


def _check_extension(emit: Emitter, framework: Any, path: str) -> None:
    allowed = vocab.MODEL_FILE_EXTENSIONS.get(str(framework))
    if allowed is None:
        return
    extension = posixpath.splitext(path)[1].lower()
    if extension not in allowed:
        shown = ", ".join(e or "(folder)" for e in allowed)
        emit.emit(
            "DL505",
            f"ModelFile extension {extension or '(none)'!r} is not one {framework} model files "
            f"usually have ({shown}); the raster function opens the file whatever its name, so "
            "only check that it is the right file",
            "/ModelFile",
        )


def _check_module(emit: Emitter, pointer: str, module: str, referenced: set[str]) -> None:
    """Keras MaskRCNN names modules as paths (`.\\mrcnn\\spacenet`): a .py file or a package.

    Esri's MaskRCNN.py joins the path to the .emd folder and imports its last part, so a
    backslash path imports only on Windows, and an absolute one only where it exists."""
    key = pointer.rsplit("/", 1)[-1]
    relative = to_relative_posix(module)
    if is_absolute_path(module):
        emit.emit(
            "DL503",
            f"{key} module {module!r} is absolute: "
            + (
                "it breaks once the package is unpacked elsewhere; write the module's path "
                "relative to the .emd"
                if emit.source.in_package
                else "it imports only on a machine that has this path; to share the model, put "
                "the module beside the .emd and write its relative path"
            ),
            pointer,
            severity=None if emit.source.in_package else Severity.WARNING,
        )
        return
    if not relative or escapes_root(relative):
        return
    if "\\" in module:
        fix = emit.value_fix(pointer, relative, f"write {relative!r}", safe=True)
        emit.emit(
            "DL504",
            f"{key} module {module!r} uses backslashes, which ArcGIS resolves only on Windows "
            "(the last path part is imported as the module name)",
            pointer,
            fix=fix,
        )
    relative = relative.removesuffix(".py")
    index = emit.source.index
    candidates = (f"{relative}.py", f"{relative}/__init__.py", relative)
    if index is not None and all(index.lookup(c).found is Found.MISSING for c in candidates):
        emit.emit(
            "DL508",
            f"module {module!r} resolves to neither {relative}.py nor a {relative}/ package",
            pointer,
        )
    referenced.update({f"{relative}.py", relative})
