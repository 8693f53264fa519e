"""CF4: the same job gives the same bytes: run twice, and at batch size 1 against the declared.

The outputs are compared byte for byte; for a built-in model the scores are compared too, so a
model whose scores wander (dropout left on, a random op, batch statistics) is seen even when
the classes happen to stay the same on the test raster."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlpk.conformance.checks.common import (
    base_run,
    classified,
    detection_classes,
    features,
    geometry,
    raster,
    unstable,
)
from dlpk.conformance.context import DETECTOR, PIXELS, ModelContext, TaskRun
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed, warned
from dlpk.conformance.outputs import unmatched
from dlpk.conformance.probes import batch_change, largest_change, read_tiles, scale
from dlpk.conformance.registry import MODEL_CHECKS

#: Score changes below this fraction of the scores' magnitude are floating-point noise.
TOLERANCE = 1e-4


def _tiles(context: ModelContext, count: int) -> Any:
    assert context.emd is not None
    normalised = context.configuration is None or context.configuration.normalised
    if context.task not in (PIXELS, DETECTOR):
        grid = geometry(context)
        return (
            np.random.default_rng(0)
            .normal(0, 1, (count, _channels(context), grid.tile_height, grid.tile_width))
            .astype(np.float32)
        )
    return read_tiles(raster(context).path, context.emd, normalised, geometry(context), count)


def _channels(context: ModelContext) -> int:
    assert context.emd is not None
    extract = context.emd.ExtractBands
    return len(extract) if isinstance(extract, list) else 3


def _output_difference(context: ModelContext, first: TaskRun, second: TaskRun) -> dict[str, Any]:
    """What differs between two runs' outputs, as evidence."""
    if context.task == PIXELS:
        a, b = classified(first), classified(second)
        if a.values.shape != b.values.shape:
            return {"shapes": [list(a.values.shape), list(b.values.shape)]}
        differ = a.values != b.values
        rows, cols = np.nonzero(differ)
        return {
            "differing_pixels": int(differ.sum()),
            "pixels": [[int(r), int(c)] for r, c in zip(rows[:10], cols[:10], strict=True)],
        }
    ours, theirs = features(first), features(second)
    if context.task == DETECTOR:
        lonely, missing = unmatched(
            ours.boxes, detection_classes(ours), theirs.boxes, detection_classes(theirs), 0.9
        )
        return {"detections": [len(ours), len(theirs)], "unmatched": [len(lonely), len(missing)]}
    label_a, label_b = ours.column("ClassLabel"), theirs.column("ClassLabel")
    if label_a is None or label_b is None or len(label_a) != len(label_b):
        return {"features": [len(ours), len(theirs)]}
    return {
        "differing_labels": int(
            sum(str(x) != str(y) for x, y in zip(label_a, label_b, strict=True))
        )
    }


@MODEL_CHECKS.register(
    "CF401", "repeat.determinism", "two runs of the same job give the same bytes"
)
def determinism(context: ModelContext) -> Outcome:
    first = base_run(context)
    second = context.run("again")
    if not second.ok:
        return failed(
            f"the second run failed: {second.failure()}",
            "the same job must succeed every time it runs",
        )
    same = first.digest() == second.digest()
    evidence: dict[str, Any] = {"sha256": [first.digest(), second.digest()]}
    change = None
    if context.adapter is not None and not context.runs_function:
        batch = _tiles(context, max(1, min(context.batch_size, 4)))
        change = largest_change(context.adapter.forward(batch), context.adapter.forward(batch))
        evidence["score_change"] = change
    fix = (
        "run the model in evaluation mode (dropout and batch norm in training mode change "
        "every run), and remove random operations from the exported graph"
    )
    if not same:
        evidence |= _output_difference(context, first, second)
        return failed("two runs of the same job wrote different outputs", fix, **evidence)
    if change:
        return warned(
            f"the outputs matched, but the scores of two forward passes differ by "
            f"up to {change:.3g}",
            fix,
            **evidence,
        )
    return passed(
        "two runs wrote the same bytes"
        + ("; two forward passes gave the same scores" if change == 0 else ""),
        **evidence,
    )


@MODEL_CHECKS.register(
    "CF402", "repeat.batch_size", "batch size 1 and the declared batch size agree"
)
def batch_size(context: ModelContext) -> Outcome:
    declared = context.batch_size
    if context.runs_function and "batch_size" not in context.function_arguments:
        raise NotApplicable(
            "not applicable: the raster function declares no batch_size (it gets one block "
            "at a time)"
        )
    first = base_run(context)
    if unstable(context):
        raise NotApplicable(
            "not judged: the same input gives other outputs from run to run (CF401), whatever "
            "the batch size"
        )
    other = 1 if declared != 1 else 4
    second = context.run(f"batch-{other}", {"batch_size": str(other)})
    if not second.ok:
        return failed(
            f"the run with batch_size {other} failed: {second.failure()}",
            "the model must take batches of any size (a dynamic batch axis)",
            batch_sizes=[declared, other],
        )
    same = first.digest() == second.digest()
    evidence: dict[str, Any] = {"batch_sizes": [declared, other]}
    change = tolerance = None
    if context.adapter is not None and not context.runs_function:
        batch = _tiles(context, max(declared, other, 2))
        change = batch_change(context.adapter, batch)
        tolerance = TOLERANCE * scale(context.adapter.forward(batch[:1]))
        evidence |= {"score_change": change, "tolerance": tolerance}
    fix = (
        "the model must treat each tile alone: no statistics over the batch (batch norm in "
        "training mode, normalisation across the batch dimension)"
    )
    if not same:
        evidence |= _output_difference(context, first, second)
        if change is not None and tolerance is not None and change <= tolerance:
            return warned(
                f"batch sizes {declared} and {other} wrote different outputs although the "
                f"scores agree within {tolerance:.2g}: floating-point noise flipping near-ties",
                None,
                **evidence,
            )
        return failed(
            f"batch sizes {declared} and {other} wrote different outputs", fix, **evidence
        )
    if change is not None and tolerance is not None and change > tolerance:
        return warned(
            f"the outputs matched, but a tile's scores change by up to {change:.3g} "
            "with the batch it is in",
            fix,
            **evidence,
        )
    return passed(f"batch sizes {declared} and {other} wrote the same bytes", **evidence)
