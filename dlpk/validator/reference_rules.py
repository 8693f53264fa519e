"""Rules over the files an .emd references: ModelFile(s), InferenceFunction, configuration modules.

Returns the set of referenced paths so package rules can list what is never referenced.
"""

from __future__ import annotations

import posixpath
from typing import Any

from dlpk.spec import vocab
from dlpk.validator.emitter import Emitter
from dlpk.validator.files import (
    ARCGIS_FUNCTIONS_PREFIX,
    Found,
    escapes_root,
    is_absolute_path,
    to_relative_posix,
)
from dlpk.validator.jsontext import child_pointer

_SUSPICIOUS_CONTROL = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def check_references(emit: Emitter, doc: dict[str, Any]) -> set[str]:
    referenced: set[str] = set()
    framework = doc.get("Framework")
    model_file = doc.get("ModelFile")
    if isinstance(model_file, str) and model_file not in (".", ""):
        path = _check_path(emit, "/ModelFile", model_file, "DL501", referenced)
        if path is not None:
            _check_extension(emit, framework, path)
    model_files = doc.get("ModelFiles")
    if isinstance(model_files, list):
        for index, name in enumerate(model_files):
            if isinstance(name, str):
                _check_path(emit, child_pointer("/ModelFiles", index), name, "DL501", referenced)
    function = doc.get("InferenceFunction")
    if isinstance(function, str):
        _check_function(emit, function, referenced)
    config = doc.get("ModelConfiguration")
    if isinstance(config, dict):
        for key in ("Architecture", "Config"):
            module = config.get(key)
            if isinstance(module, str) and module:
                _check_module(emit, child_pointer("/ModelConfiguration", key), module, referenced)
    extra = doc.get("ModelConfigurationFile")
    if isinstance(extra, str):
        _check_path(emit, "/ModelConfigurationFile", extra, "DL501", referenced)
    return referenced


def _check_function(emit: Emitter, function: str, referenced: set[str]) -> None:
    if function.startswith(ARCGIS_FUNCTIONS_PREFIX):
        emit.emit(
            "DL506",
            f"InferenceFunction {function!r} is a raster function installed with ArcGIS Pro; "
            "it runs only where ArcGIS is installed",
            "/InferenceFunction",
        )
        return
    if not function.lower().endswith(".py"):
        emit.emit(
            "DL510", f"InferenceFunction {function!r} is not a .py file", "/InferenceFunction"
        )
        return
    _check_path(emit, "/InferenceFunction", function, "DL507", referenced)


def _check_path(
    emit: Emitter, pointer: str, raw: str, missing_code: str, referenced: set[str]
) -> str | None:
    """Common path checks; returns the package-relative POSIX path that was looked up."""
    key = pointer.split("/")[1]
    for char, escape in _SUSPICIOUS_CONTROL.items():
        if char in raw:
            fixed = raw.replace(char, "\\" + escape[1])
            fix = emit.value_fix(pointer, fixed, f"write {fixed!r}", safe=False)
            emit.emit(
                "DL111",
                f"{key} contains the escape {escape}: a Windows path needs '\\\\' in JSON",
                pointer,
                fix=fix,
            )
            return None
    relative = to_relative_posix(raw)
    if is_absolute_path(raw):
        relative = _portable_candidate(emit, raw)
        fix = emit.value_fix(pointer, relative, f"make it relative: {relative!r}", safe=False)
        emit.emit(
            "DL503",
            f"{key} {raw!r} is absolute: it breaks once the package is unpacked elsewhere; "
            "paths are relative to the .emd folder",
            pointer,
            fix=fix,
        )
    elif "\\" in raw:
        fix = emit.value_fix(pointer, relative, f"write {relative!r}", safe=True)
        emit.emit(
            "DL504",
            f"{key} {raw!r} uses backslashes, which only Windows resolves",
            pointer,
            fix=fix,
        )
    if escapes_root(relative):
        emit.emit("DL509", f"{key} {raw!r} points outside the model folder", pointer)
        return None
    referenced.add(relative)
    _lookup(emit, pointer, key, raw, relative, missing_code)
    return relative


def _portable_candidate(emit: Emitter, raw: str) -> str:
    """For an absolute path: the relative path that exists, else the bare file name."""
    stripped = to_relative_posix(raw.split(":", 1)[-1].lstrip("\\/"))
    name = posixpath.basename(stripped)
    index = emit.source.index
    for candidate in (stripped, name):
        if index is not None and index.lookup(candidate).found is not Found.MISSING:
            return candidate
    return name


def _lookup(emit: Emitter, pointer: str, key: str, raw: str, relative: str, code: str) -> None:
    index = emit.source.index
    if index is None or not relative:
        return
    result = index.lookup(relative)
    where = "in the package" if emit.source.in_package else "beside the .emd"
    if result.found is Found.MISSING:
        emit.emit(code, f"{key} {raw!r} is not {where}", pointer)
    elif result.found is Found.OTHER_CASE and result.actual is not None:
        fix = emit.value_fix(pointer, result.actual, f"write {result.actual!r}", safe=True)
        emit.emit(
            "DL502",
            f"{key} {raw!r} matches {result.actual!r} only ignoring case; Linux servers "
            "will not find it",
            pointer,
            fix=fix,
        )


def _check_extension(emit: Emitter, framework: Any, path: str) -> None:
    allowed = vocab.MODEL_FILE_EXTENSIONS.get(str(framework))
    if allowed is None:
        return
    extension = posixpath.splitext(path)[1].lower()
    if extension not in allowed:
        shown = ", ".join(e or "(folder)" for e in allowed)
        emit.emit(
            "DL505",
            f"ModelFile extension {extension or '(none)'!r} is unusual for {framework} "
            f"(expected {shown})",
            "/ModelFile",
        )


def _check_module(emit: Emitter, pointer: str, module: str, referenced: set[str]) -> None:
    """Keras MaskRCNN names modules as paths (`.\\mrcnn\\spacenet`): a .py file or a package."""
    relative = to_relative_posix(module)
    if not relative or escapes_root(relative) or is_absolute_path(module):
        return
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
