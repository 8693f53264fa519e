"""CF7: a model whose .emd claims SupportsVariableTileSize runs at other tile sizes, and tiles
them to the same result."""

from __future__ import annotations

from typing import Any

from dlpk.conformance.checks.common import (
    base_run,
    classified,
    detection_classes,
    features,
    geometry,
    only,
)
from dlpk.conformance.compare import differences, interior
from dlpk.conformance.context import DETECTOR, PIXELS, ModelContext
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed, warned
from dlpk.conformance.outputs import unmatched
from dlpk.conformance.registry import MODEL_CHECKS


def other_sizes(tile: int, padding: int) -> list[int]:
    """A smaller and a larger tile, each leaving a core (> 2 x padding): multiples of 32 for
    tiles of 128 px and more (what encoders that halve the tile five times need), else of 8."""
    step = 32 if tile >= 128 else 8
    smallest = (2 * padding + step) // step * step
    small = max(smallest, (tile * 3 // 4) // step * step)
    large = max(small + step, (tile * 3 // 2 + step - 1) // step * step)
    return [size for size in dict.fromkeys((small, large)) if size != tile]


@MODEL_CHECKS.register(
    "CF701", "tile_size.variable", "with SupportsVariableTileSize, other tile sizes run alike"
)
def variable(context: ModelContext) -> Outcome:
    only(context, PIXELS, DETECTOR)
    assert context.emd is not None
    if context.runs_function:
        raise NotApplicable("not applicable: a raster function chooses its own blocks (tx, ty)")
    if not context.emd.SupportsVariableTileSize:
        raise NotApplicable("not applicable: the .emd does not claim SupportsVariableTileSize")
    base = base_run(context)
    grid = geometry(context)
    sizes = other_sizes(grid.tile_height, grid.padding)
    evidence: dict[str, Any] = {"declared": grid.tile_height, "tried": sizes}
    differing: dict[str, Any] = {}
    for size in sizes:
        run = context.run(f"tile-{size}", {"tile_size": str(size), "padding": str(grid.padding)})
        if not run.ok:
            return failed(
                f"the .emd claims SupportsVariableTileSize, but tile_size {size} fails: "
                f"{run.failure()}",
                'drop "SupportsVariableTileSize": true from the .emd, or export the model '
                "with dynamic height and width axes",
                **evidence,
            )
        differing[str(size)] = _difference(context, base, run)
    evidence["differences"] = differing
    if any(differing.values()):
        return warned(
            f"tile sizes {sizes} run, but their results differ from the declared size's "
            f"({differing})",
            "see CF301: the receptive field must fit the padding for tiles of any size",
            **evidence,
        )
    return passed(f"tile sizes {sizes} run and give the declared size's result", **evidence)


def _difference(context: ModelContext, base: Any, other: Any) -> int:
    grid = geometry(context)
    if context.task == PIXELS:
        a, b = classified(base), classified(other)
        area = a.valid & b.valid & interior(a.values.shape, grid.padding)
        return differences(a.values, b.values, area).count
    ours, theirs = features(base), features(other)
    lonely, missing = unmatched(
        ours.boxes, detection_classes(ours), theirs.boxes, detection_classes(theirs)
    )
    return len(lonely) + len(missing)
