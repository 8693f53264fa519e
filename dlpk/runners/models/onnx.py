"""ONNX models through onnxruntime; the CUDA provider is used for gpu (or auto when present).

Without trust the model is read with onnx first (no external data) and refused when a node is
not a standard-domain op onnx knows, or a tensor keeps its data in another file
(dlpk/spec/graph_ops.py): onnxruntime would read whatever file the model names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.models.base import import_framework, one_line, refuse_side_effects
from dlpk.spec.graph_ops.onnx import onnx_ops

_CUDA = "CUDAExecutionProvider"


def _fixed(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _check_graph(path: Path) -> None:
    onnx = import_framework("onnx", "ONNX")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors and the like
        raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
    refuse_side_effects(path, onnx_ops(model, onnx))


@dataclass
class OnnxAdapter:
    """A session; a graph with a fixed batch size gets batches cut (and the last one padded) to
    fit, and a fixed tile size is checked so the error names the argument to change."""

    session: Any
    input_name: str
    device: str
    shape: tuple[int | None, ...] = ()

    @classmethod
    def load(cls, path: Path, device: str, trust_code: bool = False) -> OnnxAdapter:
        ort = import_framework("onnxruntime", "ONNX")
        if not trust_code:
            _check_graph(path)
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
        shape = tuple(_fixed(d) for d in inputs[0].shape or ())
        return cls(session, inputs[0].name, "gpu" if use_gpu else "cpu", shape)

    def _check(self, batch: NDArray[np.float32]) -> None:
        if len(self.shape) != 4:
            return
        _, channels, height, width = self.shape
        if channels is not None and channels != batch.shape[1]:
            raise ModelError(
                f"the model takes {channels} bands; ExtractBands gives {batch.shape[1]}"
            )
        for fixed, given, name in (
            (height, batch.shape[2], "rows"),
            (width, batch.shape[3], "cols"),
        ):
            if fixed is not None and fixed != given:
                raise ModelError(
                    f"the model takes tiles of {fixed} {name}, not {given}",
                    "leave tile_size unset or set it to the model's size",
                )

    def _run(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        try:
            outputs = self.session.run(None, {self.input_name: batch})
        except Exception as exc:
            raise ModelError(
                f"the model failed on a {batch.shape} batch ({one_line(exc)})"
            ) from exc
        return [np.asarray(output) for output in outputs]

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        self._check(batch)
        fixed = self.shape[0] if self.shape else None
        if fixed is None or fixed == batch.shape[0]:
            return self._run(batch)
        parts: list[list[NDArray[np.generic]]] = []
        for start in range(0, batch.shape[0], fixed):
            chunk = batch[start : start + fixed]
            count = chunk.shape[0]
            if count < fixed:
                filler = np.zeros((fixed - count, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, filler])
            parts.append([output[:count] for output in self._run(chunk)])
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]
