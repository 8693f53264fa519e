"""TensorFlow SavedModels and frozen graphs for Esri's predefined configurations
(docs/esri-formats.md#framework-and-modelconfiguration).

`ObjectDetectionAPI` (TensorFlow Object Detection API exports): input `image_tensor`, uint8
NHWC; outputs detection_boxes ([ymin, xmin, ymax, xmax] in 0..1), detection_scores,
detection_classes and num_detections, turned into the runner's detector outputs (x1, y1, x2,
y2 in tile pixels, scores, 1-based labels; rows past num_detections get label 0).
`DeepLab`: input `ImageTensor`, uint8 NHWC; output `SemanticPredictions` [N, H, W] of class
Values: Esri's DeepLab.py returns the prediction as the output pixel, so a prediction of 2 is
class Value 2 whatever its place in Classes. It is turned into one-hot [N, K, H, W] scores in
the channel layout the pixel-classifier contract maps back to those Values: one channel per
class in Classes order (K = len(Classes)), with a background channel (Value 0) first when no
class has Value 0. Both take raw pixels (no normalisation), clipped to 0..255.

Without trust a graph is read as a protobuf first and refused when it holds an op off the
allow-list (file, process, network or Python ops; dlpk/spec/graph_ops.py): the GraphDef and its
function library, or every meta graph of a SavedModel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.models.base import import_framework, one_line, refuse_side_effects
from dlpk.spec.graph_ops.tensorflow import read_saved_model, saved_model_ops, tensorflow_graph_ops

DETECTION_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
TENSORS = {
    "ObjectDetectionAPI": ("image_tensor", DETECTION_OUTPUTS),
    "DeepLab": ("ImageTensor", ("SemanticPredictions",)),
}

Runner = Callable[[NDArray[np.uint8]], dict[str, NDArray[Any]]]


def tensorflow_device(tf: Any, device: str) -> str:
    """The tf.device string for --device, refusing gpu when TensorFlow sees none."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise ModelError("--device gpu: TensorFlow sees no GPU here")
    return "/GPU:0" if device in ("gpu", "auto") and gpus else "/CPU:0"


def _saved_model(
    tf: Any, folder: Path, inputs: str, outputs: tuple[str, ...], trust_code: bool
) -> Runner:
    if not trust_code:
        refuse_side_effects(folder, saved_model_ops(read_saved_model(folder)))
    loaded = tf.saved_model.load(str(folder))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ModelError(f"{folder.name} has no serving_default signature")
    _, accepted = signature.structured_input_signature
    if inputs not in accepted:
        raise ModelError(f"the serving signature takes {sorted(accepted)}, not {inputs!r}")

    def run(batch: NDArray[np.uint8]) -> dict[str, NDArray[Any]]:
        result = signature(**{inputs: tf.constant(batch)})
        return {name: np.asarray(result[name]) for name in outputs if name in result}

    run.keep = loaded  # type: ignore[attr-defined]  # the signature needs its object alive
    return run


def _frozen_graph(
    tf: Any, path: Path, inputs: str, outputs: tuple[str, ...], trust_code: bool
) -> Runner:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    if not trust_code:
        refuse_side_effects(path, tensorflow_graph_ops(graph_def))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    names = {op.name for op in graph.get_operations()}
    if inputs not in names:
        raise ModelError(f"{path.name} has no {inputs!r} tensor")
    fetches = {name: f"{name}:0" for name in outputs if name in names}
    session = tf.compat.v1.Session(graph=graph)

    def run(batch: NDArray[np.uint8]) -> dict[str, NDArray[Any]]:
        values = session.run(fetches, feed_dict={f"{inputs}:0": batch})
        return {name: np.asarray(value) for name, value in values.items()}

    return run


def deeplab_channels(values: Sequence[int]) -> tuple[int, ...]:
    """The class Value of each one-hot channel: Classes' Values in order, after a background
    Value 0 when no class has it (the layout `channel_map` reads,
    docs/esri-formats.md#classes)."""
    return tuple(values) if 0 in values else (0, *values)


@dataclass
class TensorFlowAdapter:
    run: Runner
    configuration: str
    values: tuple[int, ...]  # the Classes' Values, in order
    device: str

    @classmethod
    def load(
        cls,
        path: Path,
        device: str,
        configuration: str,
        values: Sequence[int] = (),
        trust_code: bool = False,
    ) -> TensorFlowAdapter:
        tf = import_framework("tensorflow", "TensorFlow")
        if configuration not in TENSORS:
            raise ModelError(f"no TensorFlow runner for ModelConfiguration {configuration!r}")
        inputs, outputs = TENSORS[configuration]
        target = tensorflow_device(tf, device)
        folder = path if path.is_dir() else path.parent
        is_saved_model = path.is_dir() or path.name == "saved_model.pb"
        try:
            with tf.device(target):
                if is_saved_model:
                    run = _saved_model(tf, folder, inputs, outputs, trust_code)
                else:
                    run = _frozen_graph(tf, path, inputs, outputs, trust_code)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
        return cls(run, configuration, tuple(values), "gpu" if "GPU" in target else "cpu")

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        pixels = np.clip(np.rint(batch), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        try:
            result = self.run(np.ascontiguousarray(pixels))
        except Exception as exc:
            raise ModelError(
                f"the model failed on a {pixels.shape} NHWC batch ({one_line(exc)})"
            ) from exc
        if self.configuration == "DeepLab":
            return [self._one_hot(result, batch.shape)]
        return self._detections(result, batch.shape)

    def _one_hot(self, result: dict[str, NDArray[Any]], shape: tuple[int, ...]) -> NDArray[Any]:
        """SemanticPredictions (class Values) as one-hot scores over `deeplab_channels`."""
        predicted = result.get("SemanticPredictions")
        n, _, height, width = shape
        if predicted is None or predicted.shape != (n, height, width):
            got = None if predicted is None else predicted.shape
            raise ModelError(f"SemanticPredictions is {got}; expected {(n, height, width)}")
        channels = np.asarray(deeplab_channels(self.values), dtype=np.int64)
        order = np.argsort(channels, kind="stable")
        ordered = channels[order]
        value = predicted.astype(np.int64)
        place = np.clip(np.searchsorted(ordered, value), 0, len(ordered) - 1)
        unknown = ordered[place] != value
        if unknown.any():
            listed = ", ".join(str(v) for v in self.values)
            raise ModelError(
                f"SemanticPredictions holds {int(value[unknown][0])}, which is no class Value "
                f"(Classes: {listed}; 0 is background)",
                "Esri's DeepLab writes the prediction as the class Value: list each value the "
                "model predicts in Classes",
            )
        scores = np.zeros((n, len(channels), height, width), dtype=np.float32)
        np.put_along_axis(scores, order[place][:, np.newaxis], 1.0, axis=1)
        return scores

    def _detections(
        self, result: dict[str, NDArray[Any]], shape: tuple[int, ...]
    ) -> list[NDArray[np.generic]]:
        missing = [name for name in DETECTION_OUTPUTS[:3] if name not in result]
        if missing:
            raise ModelError(f"the model has no {', '.join(missing)} output")
        boxes = result["detection_boxes"].astype(np.float32)
        scores = result["detection_scores"].astype(np.float32)
        labels = result["detection_classes"].astype(np.int64)
        _, _, height, width = shape
        pixels = boxes[..., [1, 0, 3, 2]] * np.array([width, height, width, height], np.float32)
        if "num_detections" in result:
            count = result["num_detections"].astype(np.int64).reshape(-1, 1)
            labels = np.where(np.arange(labels.shape[1])[np.newaxis] < count, labels, 0)
        return [pixels, scores, labels]
