"""CF9: what a job costs: throughput and peak memory of the task at the declared batch size,
against the bare forward pass of the same model over the same tiles, each measured in a fresh
process so its peak memory is its own. Informational: it fails nothing, and warns only when
the task runs at a tenth of the model's own speed or less, which points at a real problem
(a raster function doing extra work, a tile far smaller than the model could take)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from dlpk.conformance.checks.common import geometry, only
from dlpk.conformance.context import DETECTOR, PIXELS, ModelContext
from dlpk.conformance.outcome import NotApplicable, Outcome, passed, warned
from dlpk.conformance.registry import MODEL_CHECKS
from dlpk.conformance.synthetic import from_sample, write_synthetic

#: The cost raster is this many tile cores a side.
CORES = 4
#: Slower than the bare forward pass by this factor (and by SLACK seconds) is worth a warning.
FACTOR, SLACK = 10.0, 2.0
TIMEOUT = 1800


def _probe(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "dlpk.conformance.cost_probe", mode, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise NotApplicable(
            f"not run: the {mode} measurement failed ({lines[-1] if lines else ''})"
        )
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


@MODEL_CHECKS.register(
    "CF901", "cost.throughput", "throughput and peak memory against a bare forward pass"
)
def throughput(context: ModelContext) -> Outcome:
    only(context, PIXELS, DETECTOR)
    if context.base().error is not None:
        raise NotApplicable("not run: the task failed on the test raster (CF201)")
    if context.options.backend == "docker" and context.load_skipped:
        raise NotApplicable(f"not run: {context.load_skipped}")
    if context.runs_function and not context.options.trust_code:
        raise NotApplicable("not run: the raster function runs only in the container here")
    assert context.emd is not None and context.emd_path is not None and context.task
    grid = geometry(context)
    size = (CORES * grid.core_height, CORES * grid.core_width)
    path = context.folder / "cost.tif"
    raw = context.configuration is not None and not context.configuration.normalised
    if context.options.raster is not None:
        test = from_sample(path, context.options.raster, grid, size)
    else:
        test = write_synthetic(path, context.emd, grid, raw, size)
    megapixels = test.height * test.width / 1e6
    common = {
        "model": str(context.emd_path),
        "task": context.task,
        "raster": str(test.path),
        "device": context.options.device,
        "trust_code": context.options.trust_code,
    }
    suffix = ".tif" if context.task == PIXELS else ".geojson"
    output = context.folder / "cost-out" / f"cost{suffix}"
    task = _probe(
        "task", common | {"output": str(output), "arguments": dict(context.options.arguments)}
    )
    evidence: dict[str, Any] = {
        "raster": f"{test.height}x{test.width} px",
        "batch_size": context.batch_size,
        "task_seconds": round(task["seconds"], 3),
        "task_mpx_per_s": round(megapixels / max(task["seconds"], 1e-9), 3),
        "task_peak_rss_mb": round(task["peak_rss"] / 2**20, 1),
    }
    if context.runs_function:
        return passed(
            f"{evidence['task_mpx_per_s']} Mpx/s, peak {evidence['task_peak_rss_mb']} "
            "MB (a raster function: no bare forward pass to compare)",
            **evidence,
        )
    bare = _probe(
        "forward",
        common
        | {
            "tile_height": grid.tile_height,
            "tile_width": grid.tile_width,
            "padding": grid.padding,
            "batch": context.batch_size,
        },
    )
    overhead = task["seconds"] - bare["seconds"] - bare["load_seconds"]
    evidence |= {
        "forward_seconds": round(bare["seconds"], 3),
        "forward_mpx_per_s": round(megapixels / max(bare["seconds"], 1e-9), 3),
        "model_load_seconds": round(bare["load_seconds"], 3),
        "forward_peak_rss_mb": round(bare["peak_rss"] / 2**20, 1),
        "dlpk_overhead_seconds": round(overhead, 3),
        "dlpk_extra_memory_mb": round((task["peak_rss"] - bare["peak_rss"]) / 2**20, 1),
        "tiles": bare["tiles"],
    }
    summary = (
        f"{evidence['task_mpx_per_s']} Mpx/s and {evidence['task_peak_rss_mb']} MB peak at "
        f"batch size {context.batch_size}; the bare forward pass {evidence['forward_mpx_per_s']}"
        f" Mpx/s and {evidence['forward_peak_rss_mb']} MB"
    )
    if task["seconds"] > FACTOR * (bare["seconds"] + bare["load_seconds"]) + SLACK:
        return warned(
            summary + f": the task is over {FACTOR:g} times slower",
            "profile the job (--debug shows its log); check the tile size and "
            "padding against CF302",
            **evidence,
        )
    return passed(summary, **evidence)
