"""Deep model checks (`lint --deep`): open the model file and compare it with the .emd.

One small reader per model format turns the file into `ModelFacts` (input channels, fixed input
size, output class count); `_compare` turns facts into DL803-DL805. Readers raise `_Outcome` for
the informational results (framework missing, format unsupported, pickle refused); any other
exception while loading is DL802. Frameworks are imported lazily, only when a file needs them.
"""

from __future__ import annotations

import re
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

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

TORCH_SUFFIXES = (".pt", ".pth", ".ts", ".pkl", ".bin")
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
# Pixel classifiers may carry one extra output channel for background (class value 0).
_PIXEL_MODEL_TYPES = ("ImageClassification",)
_FROZEN_GRAPH_INPUTS = ("image_tensor", "ImageTensor")
# Messages torch gives when weights_only refuses an object (as opposed to a corrupt file).
_REFUSED_PICKLE = re.compile(r"GLOBAL (\S+)|unrecognized function|Can only (?:create|build)")


@dataclass(frozen=True)
class ModelFacts:
    """What a model file says about its interface; None where it cannot tell."""

    channels: int | None = None
    height: int | None = None
    width: int | None = None
    classes: int | None = None
    classes_exact: bool = True  # False: len(Classes) + 1 (a background channel) also matches
    channels_note: str = ""  # how channels were inferred, when it is a guess


class _Outcome(Exception):
    """An informational result that ends the check: DL801, DL806 or DL807."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- entry points -------------------------------------------------------------------------------


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
    except _Outcome as outcome:
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
        raise _Outcome("DL806", f"{name}: CNTK models have no deep check (convert to ONNX)")
    if path.is_dir() or path.name == "saved_model.pb":
        folder = path if path.is_dir() else path.parent
        if not (folder / "saved_model.pb").is_file():
            raise _Outcome("DL806", f"{name} is a folder but not a TensorFlow SavedModel")
        return _saved_model(folder / "saved_model.pb")
    if suffix == ".onnx":
        return _onnx(path, model_type)
    if suffix in TORCH_SUFFIXES:
        if _is_torchscript(path):
            return _torchscript(path, model_type)
        return _torch_state_dict(path, name, trust_code)
    if suffix in KERAS_SUFFIXES:
        return _keras(path, name)
    if suffix == ".pb":
        return _frozen_graph(path)
    raise _Outcome("DL806", f"{name}: no deep check exists for {suffix or 'this'} model files")


def _compare(facts: ModelFacts, document: dict[str, Any], name: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
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


def _static(dim: int | None) -> int | None:
    return dim if dim is not None and dim > 0 else None


def _nhwc(shape: tuple[int | None, ...]) -> ModelFacts:
    if len(shape) != 4:
        return ModelFacts()
    return ModelFacts(channels=_static(shape[3]), height=_static(shape[1]), width=_static(shape[2]))


# -- ONNX ---------------------------------------------------------------------------------------


def _onnx(path: Path, model_type: Any) -> ModelFacts:
    try:
        import onnx
    except ImportError as exc:
        raise _missing("onnx", "onnx") from exc
    graph = onnx.load(str(path), load_external_data=False).graph
    initialisers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    shape = _onnx_shape(inputs[0]) if inputs else ()
    facts = ModelFacts()
    if len(shape) == 4:  # NCHW
        facts = ModelFacts(
            channels=_static(shape[1]), height=_static(shape[2]), width=_static(shape[3])
        )
    out = _onnx_shape(graph.output[0]) if len(graph.output) else ()
    if model_type in _PIXEL_MODEL_TYPES and len(out) == 4:
        return replace(facts, classes=_static(out[1]), classes_exact=False)
    if model_type == "ObjectClassification" and out:
        return replace(facts, classes=_static(out[-1]))
    return facts


def _onnx_shape(value: Any) -> tuple[int | None, ...]:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return ()
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)


# -- PyTorch ------------------------------------------------------------------------------------


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise _missing("PyTorch", "torch") from exc
    return torch


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding `<name>/constants.pkl` (what torch itself tests)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.rsplit("/", 1)[-1] == "constants.pkl" for n in archive.namelist())


def _torchscript(path: Path, model_type: Any) -> ModelFacts:
    torch = _import_torch()
    tensors = _tensors(torch.jit.load(str(path), map_location="cpu").state_dict())
    first = next((t for t in tensors.values() if t.dim() == 4), None)
    channels = int(first.shape[1]) if first is not None else None
    classes = _last_conv_outputs(tensors) if model_type in _PIXEL_MODEL_TYPES else None
    return ModelFacts(channels=channels, classes=classes, classes_exact=False)


def _last_conv_outputs(tensors: Mapping[str, Any]) -> int | None:
    """Output channels of the last 4-D weight: its bias length when present (right for
    transposed convolutions too), else the weight's first dimension."""
    name = next((n for n in reversed(list(tensors)) if tensors[n].dim() == 4), None)
    if name is None:
        return None
    bias = tensors.get(name.removesuffix("weight") + "bias")
    if name.endswith("weight") and bias is not None and bias.dim() == 1:
        return int(bias.shape[0])
    return int(tensors[name].shape[0])


def _torch_state_dict(path: Path, name: str, trust_code: bool) -> ModelFacts:
    torch = _import_torch()
    mmap = zipfile.is_zipfile(path)  # zip-format checkpoints can be mapped instead of read
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:
        refused = _REFUSED_PICKLE.search(str(exc))
        if refused is None:
            raise
        if not trust_code:
            what = f"the Python object {refused.group(1)}" if refused.group(1) else "code"
            raise _Outcome(
                "DL807",
                f"{name} is a pickle that needs {what}, not only weights; it was not loaded "
                "(pass --trust-code to unpickle it)",
            ) from exc
        loaded = torch.load(str(path), map_location="cpu", weights_only=False)
    if isinstance(loaded, torch.nn.Module):
        loaded = loaded.state_dict()
    if isinstance(loaded, Mapping) and isinstance(loaded.get("model"), Mapping):
        loaded = loaded["model"]  # fastai: {"model": state_dict, "opt": ...}
    tensors = _tensors(loaded) if isinstance(loaded, Mapping) else {}
    return ModelFacts(
        channels=_stem_channels(tensors), channels_note=" (judging by its first convolution)"
    )


def _tensors(state: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in state.items() if hasattr(v, "dim") and hasattr(v, "shape")}


def _stem_channels(tensors: Mapping[str, Any]) -> int | None:
    """Input channels of the first convolution, only when it clearly is an image stem:
    a spatial kernel (not 1x1) that widens the channels. Otherwise None: say nothing."""
    for name, tensor in tensors.items():
        if tensor.dim() == 4 and name.endswith("weight"):
            out_channels, in_channels, kernel_h, kernel_w = (int(s) for s in tensor.shape)
            stem = kernel_h > 1 and kernel_w > 1 and out_channels > in_channels
            return in_channels if stem else None
    return None


# -- TensorFlow and Keras -----------------------------------------------------------------------


def _import_tensorflow() -> Any:
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise _missing("TensorFlow", "tensorflow") from exc
    return tf


def _keras(path: Path, name: str) -> ModelFacts:
    tf = _import_tensorflow()
    if path.suffix.lower() != ".keras" and not _h5_has_model(path):
        raise _Outcome("DL806", f"{name} holds weights only (no architecture) to check")
    model = tf.keras.models.load_model(str(path), compile=False, safe_mode=True)
    shape = model.input_shape
    first = shape[0] if isinstance(shape, list) else shape  # several inputs: the image first
    return _nhwc(tuple(first))


def _h5_has_model(path: Path) -> bool:
    """Esri's Keras MaskRCNN packages ship `save_weights` files: no model_config to load."""
    import importlib

    h5py = importlib.import_module("h5py")  # a TensorFlow dependency
    with h5py.File(str(path), "r") as handle:
        return "model_config" in handle.attrs


def _frozen_graph(path: Path) -> ModelFacts:
    tf = _import_tensorflow()
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(path.read_bytes())
    placeholders = [n for n in graph.node if n.op == "Placeholder"]
    named = [n for n in placeholders if n.name in _FROZEN_GRAPH_INPUTS]
    chosen = (named or placeholders)[:1]
    if not chosen or "shape" not in chosen[0].attr:
        return ModelFacts()
    shape = chosen[0].attr["shape"].shape
    if shape.unknown_rank:
        return ModelFacts()
    return _nhwc(tuple(d.size for d in shape.dim))


def _saved_model(pb: Path) -> ModelFacts:
    """Signature inputs read from saved_model.pb, without restoring any variables."""
    _import_tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pb.read_bytes())
    for graph in proto.meta_graphs:
        signature = graph.signature_def.get("serving_default")
        if signature is not None and len(signature.inputs):
            tensor = next(iter(signature.inputs.values()))
            if tensor.tensor_shape.unknown_rank:
                return ModelFacts()
            return _nhwc(tuple(d.size for d in tensor.tensor_shape.dim))
    return ModelFacts()


def _missing(framework: str, extra: str) -> _Outcome:
    return _Outcome(
        "DL801",
        f"{framework} is not installed, so the model was not opened: pip install 'dlpk[{extra}]'",
    )
