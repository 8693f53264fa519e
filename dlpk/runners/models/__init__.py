"""Model adapters: load a model file of one framework and run float32 NCHW batches through it.

An adapter knows its framework, not the task: it returns the model's raw outputs as numpy arrays,
and the task checks them against the configuration's contract (dlpk/spec/configurations.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlpk.errors import ModelError
from dlpk.runners.models.base import Adapter, import_framework
from dlpk.spec.configurations import FRAMEWORK_EXTRAS

__all__ = ["Adapter", "import_framework", "load_adapter"]


def load_adapter(
    framework: str,
    path: Path,
    device: str,
    trust_code: bool = False,
    configuration: str = "",
    values: Sequence[int] = (),
) -> Adapter:
    """The adapter for `framework`, with the model at `path` loaded on `device` (cpu|gpu|auto);
    TensorFlow needs the configuration name (its tensors) and the Classes' Values in order
    (DeepLab predicts Values).

    Without `trust_code` a graph holding operations with side effects (files, processes,
    network, Python) is refused before it is loaded (dlpk/spec/graph_ops.py); the Docker
    backend passes trust_code, as the container is the sandbox."""
    if framework == "ONNX":
        from dlpk.runners.models.onnx import OnnxAdapter

        return OnnxAdapter.load(path, device, trust_code)
    if framework == "TorchScript":
        from dlpk.runners.models.torchscript import TorchScriptAdapter

        return TorchScriptAdapter.load(path, device, trust_code)
    if framework == "Keras":
        from dlpk.runners.models.keras import KerasAdapter

        return KerasAdapter.load(path, device, trust_code)
    if framework == "TensorFlow":
        from dlpk.runners.models.tensorflow import TensorFlowAdapter

        return TensorFlowAdapter.load(path, device, configuration, values, trust_code)
    known = ", ".join(sorted(FRAMEWORK_EXTRAS))
    raise ModelError(f"no runner for Framework {framework!r}", f"runnable frameworks: {known}")
