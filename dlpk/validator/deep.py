"""Deep model checks (`lint --deep`): open the model file and compare it with the .emd.

One small reader per model format turns the file into `ModelFacts` (input channels, fixed input
size, output class count); `_compare` turns facts into DL803-DL805. Readers raise `Outcome` for
the informational results (framework missing, format unsupported, pickle refused); any other
exception while loading is DL802. Frameworks are imported lazily, only when a file needs them.

Each reader also lists the graph's operations with side effects (DL808, dlpk/spec/graph_ops.py):
TensorFlow and ONNX graphs are read as protobuf messages, never run; a TorchScript archive's
code is parsed as text first and not loaded at all when it reaches such an op (torch.jit.load
runs a module's `__setstate__`), unless the user trusts the package.
"""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

from dlpk.spec.graph_ops import describe
from dlpk.validator.deep_models import (
    KERAS_SUFFIXES,
    TORCH_SUFFIXES,
    ModelFacts,
    Outcome,
    is_torchscript,
    read_frozen_graph,
    read_keras,
    read_onnx,
    read_saved_model_facts,
    read_torch_state_dict,
    read_torchscript,
)
from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.docvalues import int_value
from dlpk.validator.files import escapes_root, is_absolute_path, to_relative_posix
from dlpk.validator.rules import rule
from dlpk.validator.safezip import (
    MAX_RATIO,
    RATIO_MIN_BYTES,
    MemberInfo,
    extract_member,
    member_infos,
)


def deep_check_folder(
    document: dict[str, Any], folder: Path, file: str, member: str | None, trust_code: bool
) -> list[Diagnostic]:
    relative = _model_relative(document)
    if relative is None or not (folder / relative).exists():
        return []

    def diag(code: str, message: str) -> Diagnostic:
        return Diagnostic(
            code, rule(code).severity, message, file, member=member, pointer="/ModelFile"
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            facts = _inspect(folder / relative, relative, document, trust_code)
    except Outcome as outcome:
        return [diag(outcome.code, outcome.message)]
    except Exception as exc:  # any failure to load is a finding, never a crash
        return [diag("DL802", f"{relative} could not be loaded ({_one_line(exc)})")]
    return [diag(code, message) for code, message in _compare(facts, document, relative)]


def deep_check_package(
    document: dict[str, Any],
    archive: zipfile.ZipFile,
    base: str,
    file: str,
    member: str,
    trust_code: bool,
) -> list[Diagnostic]:
    """Extract only the model file (or SavedModel folder) to a temporary folder and check it."""
    relative = _model_relative(document)
    if relative is None:
        return []
    target = f"{base}/{relative}" if base else relative
    infos = [i for i in member_infos(archive) if not i.is_dir]
    wanted = [i for i in infos if i.name == target]  # a file, else a folder (SavedModel)
    wanted = wanted or [i for i in infos if i.name.startswith(target + "/")]
    if not wanted or not all(_extractable(i) for i in wanted):
        return []  # missing, encrypted, link or bomb members: package rules report those
    with tempfile.TemporaryDirectory(prefix="dlpk-deep-") as tmp:
        root = Path(tmp)
        try:
            for info in wanted:
                extract_member(archive, info.name, root)
        except Exception as exc:
            message = f"{relative} could not be extracted ({_one_line(exc)})"
            return [
                Diagnostic(
                    "DL802", rule("DL802").severity, message, file, member, pointer="/ModelFile"
                )
            ]
        folder = root.joinpath(*base.split("/")) if base else root
        return deep_check_folder(document, folder, file, member, trust_code)


def _model_relative(document: dict[str, Any]) -> str | None:
    raw = document.get("ModelFile")
    if not isinstance(raw, str) or is_absolute_path(raw):
        return None
    relative = to_relative_posix(raw)
    return None if not relative or escapes_root(relative) else relative


def _extractable(info: MemberInfo) -> bool:
    bomb = info.size >= RATIO_MIN_BYTES and info.size > MAX_RATIO * max(info.compressed, 1)
    return not (info.is_link or info.encrypted or bomb)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- dispatch and comparison --------------------------------------------------------------------


def _inspect(path: Path, name: str, document: dict[str, Any], trust_code: bool) -> ModelFacts:
    model_type = document.get("ModelType")
    suffix = path.suffix.lower()
    if document.get("Framework") == "CNTK":
        raise Outcome("DL806", f"{name}: CNTK models have no deep check (convert to ONNX)")
    if path.is_dir() or path.name == "saved_model.pb":
        folder = path if path.is_dir() else path.parent
        if not (folder / "saved_model.pb").is_file():
            raise Outcome("DL806", f"{name} is a folder but not a TensorFlow SavedModel")
        return read_saved_model_facts(folder / "saved_model.pb")
    if suffix == ".onnx":
        return read_onnx(path, model_type)
    if suffix in TORCH_SUFFIXES:
        if is_torchscript(path):
            return read_torchscript(path, model_type, trust_code)
        return read_torch_state_dict(path, name, trust_code, document.get("ModelConfiguration"))
    if suffix in KERAS_SUFFIXES:
        return read_keras(path, name)
    if suffix == ".pb":
        return read_frozen_graph(path)
    raise Outcome("DL806", f"{name}: no deep check exists for {suffix or 'this'} model files")


def _compare(facts: ModelFacts, document: dict[str, Any], name: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if facts.side_effects:
        found.append(
            (
                "DL808",
                f"{name} holds operations with side effects ({describe(facts.side_effects)}); "
                "it runs only in a container (--backend docker) or with --trust-code",
            )
        )
    bands = document.get("ExtractBands")
    if facts.channels is not None and isinstance(bands, list) and facts.channels != len(bands):
        found.append(
            (
                "DL803",
                f"{name} takes {facts.channels} input channels{facts.channels_note} but "
                f"ExtractBands lists {len(bands)} bands",
            )
        )
    expected = (int_value(document.get("ImageHeight")), int_value(document.get("ImageWidth")))
    actual = (facts.height, facts.width)
    if any(
        a is not None and e is not None and a != e for a, e in zip(actual, expected, strict=True)
    ):
        shown = "x".join("?" if a is None else str(a) for a in actual)
        found.append(
            (
                "DL804",
                f"{name} has a fixed {shown} (HxW) input but ImageHeight x ImageWidth is "
                f"{expected[0]}x{expected[1]}",
            )
        )
    classes = document.get("Classes")
    if facts.classes is not None and isinstance(classes, list):
        allowed = {len(classes)} if facts.classes_exact else {len(classes), len(classes) + 1}
        if facts.classes not in allowed:
            count = len(classes)
            expect = (
                f"{count}" if facts.classes_exact else f"{count} or {count + 1} with background"
            )
            found.append(
                (
                    "DL805",
                    f"{name} outputs {facts.classes} classes but Classes lists {count} "
                    f"(expected {expect})",
                )
            )
    return found
