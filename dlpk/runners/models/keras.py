"""Keras models (.keras, .h5) through keras.models.load_model, channels last.

The runner's batches are NCHW; Keras models take NHWC, so the batch is transposed on the way in
and a segmenter's [N, H, W, K] scores on the way out. Loading never runs Python from the file
unless the user trusts it: `.keras` loads in Keras's safe mode, and an `.h5` whose architecture
holds a Lambda layer (marshalled Python bytecode) is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.models.base import import_framework, one_line
from dlpk.runners.models.tensorflow import tensorflow_device


def _h5_layers(path: Path) -> list[str]:
    """Class names of the layers in an .h5 model's stored architecture."""
    import h5py

    with h5py.File(path, "r") as handle:
        config = handle.attrs.get("model_config")
    if config is None:
        return []
    text = config.decode("utf-8") if isinstance(config, bytes) else str(config)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("class_name"), str):
                found.append(node["class_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    return found


@dataclass
class KerasAdapter:
    model: Any
    device: str
    tf: Any

    @classmethod
    def load(cls, path: Path, device: str, trust_code: bool = False) -> KerasAdapter:
        tf = import_framework("tensorflow", "Keras")
        keras = import_framework("keras", "Keras")
        target = tensorflow_device(tf, device)
        if path.suffix.lower() in (".h5", ".hdf5") and not trust_code:
            try:
                layers = _h5_layers(path)
            except (OSError, ValueError) as exc:
                raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
            if "Lambda" in layers:
                raise ModelError(
                    f"{path.name} holds a Lambda layer, which is Python code",
                    "it loads only with --trust-code or in a container",
                )
        try:
            with tf.device(target):
                model = keras.models.load_model(path, compile=False, safe_mode=not trust_code)
        except Exception as exc:
            raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
        return cls(model, "gpu" if "GPU" in target else "cpu", tf)

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        nhwc = np.ascontiguousarray(batch.transpose(0, 2, 3, 1))
        try:
            result = self.model(nhwc, training=False)
        except Exception as exc:
            raise ModelError(
                f"the model failed on a {nhwc.shape} NHWC batch ({one_line(exc)})"
            ) from exc
        outputs = list(result) if isinstance(result, tuple | list) else [result]
        arrays = [np.asarray(output) for output in outputs]
        # channels last -> channels first for image-shaped outputs (segmenters)
        return [a.transpose(0, 3, 1, 2) if a.ndim == 4 else a for a in arrays]
