"""The readers of `lint --deep`: one per model format, each turning a model file into
`ModelFacts` (input channels, fixed input size, output class count, operations with side
effects) without running it. Frameworks are imported here, lazily, only when a file needs them."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dlpk.spec.graph_ops.onnx import onnx_ops
from dlpk.spec.graph_ops.tensorflow import saved_model_ops, tensorflow_graph_ops
from dlpk.spec.graph_ops.torchscript import torchscript_archive_ops, torchscript_module_ops

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
    side_effects: tuple[str, ...] = ()  # ops off the allow-list (DL808)


class Outcome(Exception):
    """An informational result that ends the check: DL801, DL806 or DL807."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- entry points -------------------------------------------------------------------------------


def _static(dim: int | None) -> int | None:
    return dim if dim is not None and dim > 0 else None


def _nhwc(shape: tuple[int | None, ...]) -> ModelFacts:
    if len(shape) != 4:
        return ModelFacts()
    return ModelFacts(channels=_static(shape[3]), height=_static(shape[1]), width=_static(shape[2]))


# -- ONNX ---------------------------------------------------------------------------------------


def read_onnx(path: Path, model_type: Any) -> ModelFacts:
    try:
        import onnx
    except ImportError as exc:
        raise _missing("onnx", "onnx") from exc
    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    initialisers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    shape = _onnx_shape(inputs[0]) if inputs else ()
    facts = ModelFacts(side_effects=tuple(onnx_ops(model, onnx)))
    if len(shape) == 4:  # NCHW
        facts = replace(
            facts, channels=_static(shape[1]), height=_static(shape[2]), width=_static(shape[3])
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


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding `<name>/constants.pkl` (what torch itself tests)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.rsplit("/", 1)[-1] == "constants.pkl" for n in archive.namelist())


def read_torchscript(path: Path, model_type: Any, trust_code: bool) -> ModelFacts:
    torch = _import_torch()
    side_effects = torchscript_archive_ops(path, torch)
    if side_effects and not trust_code:
        return ModelFacts(side_effects=tuple(side_effects))  # loading would run __setstate__
    module = torch.jit.load(str(path), map_location="cpu")
    side_effects = sorted({*side_effects, *torchscript_module_ops(module, torch)})
    tensors = _tensors(module.state_dict())
    first = next((t for t in tensors.values() if t.dim() == 4), None)
    channels = int(first.shape[1]) if first is not None else None
    classes = _last_conv_outputs(tensors) if model_type in _PIXEL_MODEL_TYPES else None
    return ModelFacts(
        channels=channels, classes=classes, classes_exact=False, side_effects=tuple(side_effects)
    )


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


def _arcgis_learn_classes(tensors: Mapping[str, Any], configuration: Any) -> int | None:
    """The classes an arcgis.learn state dict's head is built for: UnetClassifier's last
    convolution has a channel per class and one for background, FeatureClassifier's last
    Linear a row per class. None for other configurations."""
    if isinstance(configuration, Mapping):
        configuration = configuration.get("Name")
    if configuration == "_unet":
        outputs = _last_conv_outputs(tensors)
        return None if outputs is None else outputs - 1
    if configuration == "_FeatureClassifier":
        name = next(
            (n for n in reversed(list(tensors)) if n.endswith("weight") and tensors[n].dim() == 2),
            None,
        )
        return None if name is None else int(tensors[name].shape[0])
    return None


def read_torch_state_dict(
    path: Path, name: str, trust_code: bool, configuration: Any = None
) -> ModelFacts:
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
            raise Outcome(
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
        channels=_stem_channels(tensors),
        channels_note=" (judging by its first convolution)",
        classes=_arcgis_learn_classes(tensors, configuration),
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


def read_keras(path: Path, name: str) -> ModelFacts:
    tf = _import_tensorflow()
    if path.suffix.lower() != ".keras" and not _h5_has_model(path):
        raise Outcome("DL806", f"{name} holds weights only (no architecture) to check")
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


def read_frozen_graph(path: Path) -> ModelFacts:
    tf = _import_tensorflow()
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(path.read_bytes())
    effects = ModelFacts(side_effects=tuple(tensorflow_graph_ops(graph)))
    placeholders = [n for n in graph.node if n.op == "Placeholder"]
    named = [n for n in placeholders if n.name in _FROZEN_GRAPH_INPUTS]
    chosen = (named or placeholders)[:1]
    if not chosen or "shape" not in chosen[0].attr:
        return effects
    shape = chosen[0].attr["shape"].shape
    if shape.unknown_rank:
        return effects
    return replace(_nhwc(tuple(d.size for d in shape.dim)), side_effects=effects.side_effects)


def read_saved_model_facts(pb: Path) -> ModelFacts:
    """Signature inputs read from saved_model.pb, without restoring any variables."""
    _import_tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pb.read_bytes())
    effects = tuple(saved_model_ops(proto))
    for graph in proto.meta_graphs:
        signature = graph.signature_def.get("serving_default")
        if signature is not None and len(signature.inputs):
            tensor = next(iter(signature.inputs.values()))
            if tensor.tensor_shape.unknown_rank:
                break
            shape = tuple(d.size for d in tensor.tensor_shape.dim)
            return replace(_nhwc(shape), side_effects=effects)
    return ModelFacts(side_effects=effects)


def _missing(framework: str, extra: str) -> Outcome:
    return Outcome(
        "DL801",
        f"{framework} is not installed, so the model was not opened: pip install 'dlpk[{extra}]'",
    )
