"""What several checks need: the base run (or why not), the classes, the grid comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.conformance.context import DETECTOR, PIXELS, ModelContext, TaskRun
from dlpk.conformance.outcome import NotApplicable
from dlpk.conformance.outputs import Classified, Features, read_classified, read_features
from dlpk.conformance.synthetic import Geometry, TestRaster


def base_run(context: ModelContext) -> TaskRun:
    """The task on the test raster with the user's arguments; checks that compare against it
    skip when it failed (CF201 says why)."""
    run = context.base()
    if not run.ok:
        raise NotApplicable("not run: the task failed on the test raster (CF201)")
    return run


def only(context: ModelContext, *tasks: str) -> None:
    if context.task not in tasks:
        names = " and ".join(f"`dlpk {t}`" for t in tasks)
        raise NotApplicable(f"not applicable: only for models run with {names}")


def probed(context: ModelContext) -> Any:
    """The loaded model, for a probe; a raster function or a model not loaded here skips."""
    if context.runs_function:
        raise NotApplicable("not applicable: a raster function has no forward pass to probe")
    if context.adapter is None:
        raise NotApplicable(f"not run: {context.load_skipped or 'the model is not loaded'}")
    return context.adapter


def unstable(context: ModelContext) -> bool:
    """Whether the same input gives other outputs twice (two forward passes of a built-in
    model, else two runs of the task): what CF401 judges, and what makes other comparisons
    meaningless."""
    if "unstable" not in context.cache:
        if context.adapter is not None and not context.runs_function:
            from dlpk.conformance.probes import largest_change, read_tiles

            assert context.emd is not None and context.raster is not None
            normalised = context.configuration is None or context.configuration.normalised
            if context.task in (PIXELS, DETECTOR):
                count = max(1, min(context.batch_size, 4))
                batch = read_tiles(
                    context.raster.path, context.emd, normalised, geometry(context), count
                )
            else:
                grid = geometry(context)
                batch = (
                    np.random.default_rng(0)
                    .normal(0, 1, (2, _bands(context), grid.tile_height, grid.tile_width))
                    .astype(np.float32)
                )
            outputs = context.adapter.forward(batch), context.adapter.forward(batch)
            context.cache["score_change"] = largest_change(*outputs)
            context.cache["unstable"] = bool(context.cache["score_change"])
        else:
            runs = context.base(), context.run("again")
            context.cache["unstable"] = (
                runs[0].ok and runs[1].ok and runs[0].digest() != runs[1].digest()
            )
    return bool(context.cache["unstable"])


def _bands(context: ModelContext) -> int:
    assert context.emd is not None
    extract = context.emd.ExtractBands
    return len(extract) if isinstance(extract, list) else 3


def geometry(context: ModelContext) -> Geometry:
    assert context.geometry is not None
    return context.geometry


def raster(context: ModelContext) -> TestRaster:
    assert context.raster is not None
    return context.raster


def classified(run: TaskRun) -> Classified:
    return read_classified(run.output)


def features(run: TaskRun) -> Features:
    return read_features(run.output, run.raster.transform)


def class_values(context: ModelContext) -> list[int]:
    assert context.emd is not None
    return [c.Value for c in context.emd.Classes or []]


def class_names(context: ModelContext) -> list[str]:
    assert context.emd is not None
    return [c.Name for c in context.emd.Classes or []]


def colours(context: ModelContext) -> dict[int, tuple[int, int, int]]:
    from dlpk.runners.tasks.inference.classes import class_color

    assert context.emd is not None
    found = {c.Value: class_color(c) for c in context.emd.Classes or []}
    found.setdefault(0, (0, 0, 0))
    return found


def in_box(rows: NDArray[Any], cols: NDArray[Any], raster: TestRaster) -> NDArray[np.bool_]:
    box = raster.nodata_box
    return np.asarray(
        (rows >= box.row)
        & (rows < box.row + box.height)
        & (cols >= box.col)
        & (cols < box.col + box.width),
        dtype=bool,
    )


def detection_classes(found: Features) -> NDArray[Any]:
    """The class of each detection (ClassValue, else Class, else one class for all)."""
    for name in ("ClassValue", "Class", "Classname", "Value"):
        column = found.column(name)
        if column is not None:
            return np.asarray(column)
    return np.zeros(len(found), dtype=np.int64)


def is_pixels(context: ModelContext) -> bool:
    return context.task == PIXELS


def is_detector(context: ModelContext) -> bool:
    return context.task == DETECTOR
