"""ONNX models through onnxruntime; the CUDA provider is used for gpu (or auto when present)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.adapters.base import import_framework, one_line

_CUDA = "CUDAExecutionProvider"


@dataclass
class OnnxAdapter:
    session: Any
    input_name: str
    device: str

    @classmethod
    def load(cls, path: Path, device: str) -> OnnxAdapter:
        ort = import_framework("onnxruntime", "ONNX")
        available = ort.get_available_providers()
        if device == "gpu" and _CUDA not in available:
            raise ModelError("--device gpu: onnxruntime has no CUDA provider here")
        use_gpu = device in ("gpu", "auto") and _CUDA in available
        providers = [_CUDA, "CPUExecutionProvider"] if use_gpu else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{path.name} has {len(inputs)} inputs; the contract is one (NCHW)")
        return cls(session, inputs[0].name, "gpu" if use_gpu else "cpu")

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        try:
            outputs = self.session.run(None, {self.input_name: batch})
        except Exception as exc:
            raise ModelError(
                f"the model failed on a {batch.shape} batch ({one_line(exc)})"
            ) from exc
        return [np.asarray(output) for output in outputs]
