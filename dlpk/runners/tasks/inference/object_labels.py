"""From an ObjectClassifier's scores to labels: the class, Value and confidence of each chip.

Shared by classify-objects over features and over whole images, so both map scores the same way.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.tasks.inference.engine import Forward
from dlpk.runners.tasks.inference.object_features import Labels
from dlpk.spec.emd import ClassEntry

TASK = "classify-objects"
OBJECT_ARGUMENTS = ("batch_size",)


def confidences(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scores as probabilities: kept when each row already is one, else a softmax."""
    rows_sum = scores.sum(axis=1)
    if (scores >= 0).all() and (scores <= 1).all() and np.allclose(rows_sum, 1, atol=1e-3):
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def label_chips(
    forward: Forward, chips: NDArray[np.float32], classes: list[ClassEntry]
) -> tuple[list[ClassEntry], NDArray[np.float64]]:
    """The winning class and its probability for each chip (a background index never wins)."""
    outputs = forward(chips)
    if len(outputs) != 1 or outputs[0].shape[:1] != (len(chips),) or outputs[0].ndim != 2:
        shapes = [tuple(o.shape) for o in outputs]
        raise ModelError(f"an ObjectClassifier returns one [N, K] output; got {shapes}")
    scores = np.asarray(outputs[0], dtype=np.float64)
    offset = scores.shape[1] - len(classes)
    if offset not in (0, 1):
        raise ModelError(f"the model outputs {scores.shape[1]} scores for {len(classes)} classes")
    probabilities = confidences(scores)[:, offset:]
    best = np.argmax(probabilities, axis=1)
    return [classes[i] for i in best], probabilities[np.arange(len(best)), best]


def label_batch(
    forward: Forward,
    chips: list[tuple[NDArray[np.float32], bool]],
    numbers: list[int],
    classes: list[ClassEntry],
    labels: Labels,
) -> None:
    """One forward pass over `chips` (model input, whether it saw a valid pixel); the label,
    Value and confidence (0-100) of each chip that saw one go to `labels` at its number."""
    winners, probabilities = label_chips(forward, np.stack([c[0] for c in chips]), classes)
    for i, (_, seen), entry, p in zip(numbers, chips, winners, probabilities, strict=True):
        if seen:
            labels.names[i], labels.values[i] = entry.Name, entry.Value
            labels.confidence[i] = round(100 * float(p), 4)
