"""Rules over Framework and ModelConfiguration: the module ArcGIS imports to run the model.

Without an InferenceFunction the built-in raster functions import
f"{Framework}.{ModelConfiguration}", so both are module names, matched with their exact
case, and spellings follow the folders Esri ships ("Onnx", not "ONNX"; "ONNX" is dlpk's own).
A custom InferenceFunction decides for itself whether it imports them, so there the findings are
warnings. A fix writes only a spelling whose module exists: it must never break an import.
"""

from __future__ import annotations

from typing import Any

from dlpk.spec import vocab
from dlpk.validator.diagnostics import Severity
from dlpk.validator.docvalues import configuration_name, file_name, str_value
from dlpk.validator.emitter import Emitter
from dlpk.validator.suggest import closest

_MASKRCNN_KEYS = ("Config", "Architecture")


def custom_function(doc: dict[str, Any]) -> str | None:
    """The InferenceFunction's file name when it is not one of arcgis.learn's, which import
    Framework.ModelConfiguration as the built-in functions do
    (docs/esri-formats.md#framework-and-modelconfiguration)."""
    function = doc.get("InferenceFunction")
    if not isinstance(function, str):
        return None
    name = file_name(function)
    return None if name in vocab.ARCGIS_INFERENCE_FUNCTIONS else name


def check_framework(emit: Emitter, doc: dict[str, Any]) -> None:
    framework = str_value(doc, "Framework")
    if framework is None:
        return
    if framework in vocab.FRAMEWORK_CONFIGURATIONS:
        _check_configuration(emit, doc, framework)
        _check_keras_maskrcnn(emit, doc, framework)
        return
    same_letters = [f for f in vocab.FRAMEWORKS if f.lower() == framework.lower()]
    if same_letters:
        _case_mismatch(emit, doc, framework, same_letters)
    else:
        _unknown(emit, doc, framework)


def _module(framework: str, doc: dict[str, Any]) -> str:
    configuration = configuration_name(doc)
    return f"{framework}.{configuration}" if configuration else framework


def _case_mismatch(
    emit: Emitter, doc: dict[str, Any], framework: str, candidates: list[str]
) -> None:
    configuration = configuration_name(doc)
    fitting = [f for f in candidates if configuration in vocab.FRAMEWORK_CONFIGURATIONS[f]]
    chosen = fitting if fitting else candidates
    function = custom_function(doc)
    severity = Severity.WARNING if function else None
    if len(chosen) != 1:
        names = " or ".join(repr(f) for f in chosen)
        emit.emit(
            "DL217",
            f"Framework {framework!r} matches {names} only ignoring case, and module names are "
            f"matched exactly; write the spelling of the folder that holds {configuration!r}",
            "/Framework",
            severity=severity,
        )
        return
    target = chosen[0]
    if target in vocab.DLPK_FRAMEWORKS:
        why = f"dlpk selects its runner by the exact name {target!r}, so none is found"
    elif function:
        why = (
            f"if {function} imports {_module(framework, doc)} that fails, as Python matches "
            "module names by exact case"
        )
    else:
        why = (
            f"without an InferenceFunction ArcGIS imports {_module(framework, doc)}, which "
            "fails because Python matches module names by exact case"
        )
    owner = "dlpk's configuration" if target in vocab.DLPK_FRAMEWORKS else "Esri's module folder"
    fix = emit.value_fix("/Framework", target, f"write {target!r}", safe=True)
    emit.emit(
        "DL217",
        f"Framework {framework!r} differs from {owner} {target!r} only in case: {why}; "
        f"write {target!r}",
        "/Framework",
        fix=fix,
        severity=severity,
    )


def _unknown(emit: Emitter, doc: dict[str, Any], framework: str) -> None:
    suggestion = closest(framework, vocab.FRAMEWORKS)
    hint = f"; did you mean {suggestion.value!r}?" if suggestion else ""
    fix = None
    if suggestion is not None:
        fix = emit.value_fix(
            "/Framework", suggestion.value, f"replace with {suggestion.value!r}", False
        )
    function = custom_function(doc)
    if function:
        effect = f"{function} decides whether that matters"
    else:
        effect = (
            f"without an InferenceFunction ArcGIS imports {_module(framework, doc)}, which "
            "exists only where someone installed that module into Pro's raster functions"
        )
    emit.emit(
        "DL203",
        f"Framework {framework!r} is no module folder Esri ships nor a dlpk configuration: "
        f"{effect}{hint}",
        "/Framework",
        fix=fix,
    )


def _check_configuration(emit: Emitter, doc: dict[str, Any], framework: str) -> None:
    configuration = configuration_name(doc)
    names = vocab.FRAMEWORK_CONFIGURATIONS[framework]
    if not isinstance(configuration, str) or configuration in names:
        return
    config = doc["ModelConfiguration"]
    pointer = "/ModelConfiguration" + ("/Name" if isinstance(config, dict) else "")
    suggestion = closest(configuration, names)
    hint = f": did you mean {suggestion.value!r}?" if suggestion else ""
    fix = None
    if suggestion is not None:
        fix = emit.value_fix(pointer, suggestion.value, f"use {suggestion.value!r}", False)
    emit.emit(
        "DL204",
        f"ModelConfiguration {configuration!r} is not a known {framework} module{hint}",
        pointer,
        fix=fix,
    )


def _check_keras_maskrcnn(emit: Emitter, doc: dict[str, Any], framework: str) -> None:
    """Esri's Keras/MaskRCNN.py imports the modules named by ModelConfiguration["Config"] (for
    its `config`) and ["Architecture"] (for its `model`)."""
    if framework != "Keras" or configuration_name(doc) != "MaskRCNN" or custom_function(doc):
        return
    config = doc["ModelConfiguration"]
    wanted = (
        '{"Name": "MaskRCNN", "Config": ..., "Architecture": ...} with the module paths of '
        'the .py files that define `config` and `model` (e.g. "mrcnn/spacenet")'
    )
    if isinstance(config, str):
        emit.emit(
            "DL405",
            'ModelConfiguration "MaskRCNN" is a string, but Esri\'s Keras/MaskRCNN.py reads '
            'ModelConfiguration["Config"] and ["Architecture"], which fails on a string; write '
            + wanted,
            "/ModelConfiguration",
        )
        return
    missing = [k for k in _MASKRCNN_KEYS if not isinstance(config.get(k), str) or not config[k]]
    if missing:
        emit.emit(
            "DL405",
            f"ModelConfiguration has no {' or '.join(missing)} module path, which Esri's "
            f"Keras/MaskRCNN.py reads (a KeyError without it); write {wanted}",
            "/ModelConfiguration",
        )
