"""classify-pixels of a folder's images one by one (ArcGIS's PROCESS_ITEMS_SEPARATELY).

Each image is classified on its own grid and CRS into a GeoTIFF of the same name in the output
folder (ArcGIS's out_classified_folder); the model is loaded once for all of them. Names are
checked before any work: two images with one stem (a.tif, a.tiff) would write one file.
"""

from __future__ import annotations

import time
from pathlib import Path

from dlpk.errors import BadInputError
from dlpk.runners.io.sources import RasterSet, list_rasters, skipped_warning
from dlpk.runners.models.opened import open_model
from dlpk.runners.tasks.inference.classify_pixels import TASK, PixelClassifier
from dlpk.runners.tasks.inference.common import TaskRequest, check_device
from dlpk.runners.tasks.inference.engine import Progress
from dlpk.runners.tasks.report import TaskReport


def output_names(found: RasterSet) -> list[str]:
    """`<stem>.tif` per image; refused when two images would share one."""
    names = [f"{path.stem}.tif" for path in found.paths]
    seen: dict[str, Path] = {}
    for name, path in zip(names, found.paths, strict=True):
        if name in seen:
            raise BadInputError(
                f"images {seen[name].name} and {path.name} would both be classified to {name}",
                hint="rename one of them",
            )
        seen[name] = path
    return names


def classify_each(
    model: Path,
    raster: Path,
    folder: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    trust_code: bool = False,
) -> TaskReport:
    """Classify every image of `raster` (a folder, or one raster) into `folder`."""
    started = time.perf_counter()
    check_device(device)
    found = list_rasters(raster)
    names = output_names(found)
    folder.mkdir(parents=True, exist_ok=True)
    summaries: list[TaskReport] = []
    with open_model(model, TASK) as opened:
        classifier = (
            None if opened.runs_function else PixelClassifier(opened, arguments, device, trust_code)
        )
        progress("images", 0, len(names))
        for number, (path, name) in enumerate(zip(found.paths, names, strict=True)):
            request = TaskRequest(
                path, folder / name, arguments, device, progress, False, trust_code
            )
            if classifier is None:
                from dlpk.runners.tasks.inference.function_tasks import classify_with_function

                summaries.append(classify_with_function(opened, request))
            else:
                summaries.append(classifier.classify(request))
            progress("images", number + 1, len(names))
    counts: dict[str, int] = {"tiles": 0, "pixels": 0}
    counts |= {"rasters": len(names), "files_not_rasters": len(found.skipped)}
    for summary in summaries:
        for key, value in summary.counts.items():
            counts[key] = counts.get(key, 0) + value
    warnings = [w for s in summaries for w in s.warnings]
    return TaskReport(
        counts=counts,
        timings={"task": round(time.perf_counter() - started, 3)},
        parameters=summaries[0].parameters,
        warnings=[*dict.fromkeys(warnings), *skipped_warning(raster, found)],
    )
