"""`python -m dlpk.conformance.cost_probe MODE JSON`: one measurement in a fresh process, so its
peak memory is its own. MODE `task` runs the task as `dlpk` runs it; `forward` runs only the
model's forward pass over the same tiles (read beforehand), the cost of the model alone.
Prints one JSON object: seconds, peak_rss (bytes) and what was processed."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


def peak_rss() -> int:
    """This process's peak resident memory in bytes (ru_maxrss is KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def measure_task(spec: dict[str, Any]) -> dict[str, Any]:
    import dlpk.api as api

    task = {"classify-pixels": api.classify_pixels, "detect-objects": api.detect_objects}
    started = time.perf_counter()
    result = task[spec["task"]](
        Path(spec["model"]),
        Path(spec["raster"]),
        Path(spec["output"]),
        model_arguments=spec["arguments"],
        trust_code=spec["trust_code"],
        device=spec["device"],
    )
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss": peak_rss(), "tiles": result.counts.get("tiles", 0)}


def measure_forward(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from dlpk.runners.io.raster_source import open_source
    from dlpk.runners.io.windows import TileGrid, batched, plan_tiles
    from dlpk.runners.models.opened import open_model

    grid = TileGrid(spec["tile_height"], spec["tile_width"], spec["padding"])
    with open_model(Path(spec["model"]), spec["task"]) as opened:
        started = time.perf_counter()
        adapter = opened.load(spec["device"], spec["trust_code"])
        load = time.perf_counter() - started
        with open_source(Path(spec["raster"]), opened.emd, opened.configuration.normalised) as src:
            tiles = plan_tiles(src.height, src.width, grid)
            pixels = [src.read_tile(t.read)[0] for t in tiles]
    batches = [
        np.stack([pixels[t.index] for t in group]) for group in batched(tiles, spec["batch"])
    ]
    started = time.perf_counter()
    for batch in batches:
        adapter.forward(batch)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "load_seconds": load, "peak_rss": peak_rss(), "tiles": len(tiles)}


def main(argv: list[str]) -> int:
    mode, spec = argv[0], json.loads(argv[1])
    measured = measure_task(spec) if mode == "task" else measure_forward(spec)
    print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
