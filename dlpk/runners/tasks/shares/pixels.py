"""classify-pixels in shares: each share classifies whole batches of the tile plan into a part
raster over its cores; the assemble step copies every share's cores into the classified
raster's writer, which finishes the COG, colour map and attribute table as a whole run does."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window as RioWindow

from dlpk.errors import InvalidJobError
from dlpk.runners.io.area import Area, planned_tiles
from dlpk.runners.io.classified import BLOCK, ClassifiedRasterWriter, output_dtype
from dlpk.runners.io.outputs import RASTER_SUFFIXES, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.io.windows import Tile, Window, plan_tiles
from dlpk.runners.models.opened import OpenedModel, open_model
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.inference.arguments import PIXEL_ARGUMENTS, Arguments, parse_arguments
from dlpk.runners.tasks.inference.classes import BACKGROUND, class_rows, pixels_key
from dlpk.runners.tasks.inference.classify_pixels import TASK, PixelClassifier, classify_tiles
from dlpk.runners.tasks.inference.common import TaskRequest, check_device, crs_warnings
from dlpk.runners.tasks.inference.jobs import _area, _run
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.runners.tasks.shares import functions
from dlpk.runners.tasks.shares.parts import (
    UNITS,
    batch_range,
    finished_shares,
    merged_counts,
    new_warnings,
    part_folder,
)
from dlpk.spec.job import ClassifyPixelsJob, JobPart

RASTER = "classes.tif"  # a share's part raster, in its out/part/
#: Counts of a share that are not the whole job's sums: the assemble step has its own.
OWN_COUNTS = ("tiles", "pixels")


def plan(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    _check_mode(job)
    output = job.outputs.out_classified_raster
    return _run(_plan, job, jobdir, output, progress, **_area(job, jobdir))


def share(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    _check_mode(job)
    output = job.outputs.out_classified_raster
    assert job.parameters.part is not None
    extra = {**_area(job, jobdir), "part": job.parameters.part, "parts": part_folder(jobdir)}
    report = _run(_share, job, jobdir, output, progress, **extra)
    report.files = []  # part files are no output of the job
    return report


def assemble(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    _check_mode(job)
    output = job.outputs.out_classified_raster
    assert job.parameters.part is not None
    extra = {**_area(job, jobdir), "part": job.parameters.part, "home": jobdir}
    return _run(_assemble, job, jobdir, output, progress, **extra)


def _check_mode(job: ClassifyPixelsJob) -> None:
    if job.parameters.processing_mode == "PROCESS_ITEMS_SEPARATELY":
        raise InvalidJobError(
            "PROCESS_ITEMS_SEPARATELY does not run in shares: each image is its own raster",
            hint="run it with --backend local or docker",
        )


def _no_function(opened: OpenedModel) -> None:
    if opened.runs_function:
        raise InvalidJobError(
            "a package's raster function (InferenceFunction) runs in shares for classify-pixels "
            "only",
            hint="run it with --backend local or docker",
        )


def _tiles(
    source: RasterSource, args: Arguments, extent: list[float] | None, aoi: Path | None
) -> tuple[list[Tile], Area | None]:
    planned = plan_tiles(source.height, source.width, args.grid)
    return planned_tiles(source.dataset, planned, extent, aoi)


def _plan(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
) -> TaskReport:
    """Refuse what a run of the whole job would refuse before its first tile; count the
    batches (the work units) without loading the model's weights."""
    check_device(device)
    check_output(output, False, RASTER_SUFFIXES)
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            request = _request(raster, output, arguments, device, progress, trust_code, extent, aoi)
            return functions.plan(opened, request)
        args = parse_arguments(arguments, opened.emd, PIXEL_ARGUMENTS)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            tiles, _ = _tiles(source, args, extent, aoi)
    batches = -(-len(tiles) // args.batch_size)
    return TaskReport(counts={"tiles": len(tiles), UNITS: batches})


def _share(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    parts: Path,
) -> TaskReport:
    """Classify the share's batches into its part raster, as a whole run classifies them."""
    started = time.perf_counter()
    check_device(device)
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            request = _request(raster, output, arguments, device, progress, trust_code, extent, aoi)
            return functions.share(opened, request, part, parts)
        classifier = PixelClassifier(opened, arguments, device, trust_code)
        args = classifier.args
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            tiles, area = _tiles(source, args, extent, aoi)
            mine = tiles[_slice(batch_range(len(tiles), args.batch_size, part.count, part.index))]
            dtype, nodata = output_dtype([row.value for row in class_rows(opened.classes)])
            counts: dict[str, int] = {}
            if mine:
                with PartRaster(parts / RASTER, dtype, nodata, bounds(mine)) as writer:
                    counts = classify_tiles(
                        source,
                        mine,
                        classifier.forward,
                        classifier.mapping_for,
                        writer,
                        args.batch_size,
                        args.edge_fill,
                        progress,
                        area,
                    )
    mapping = classifier.mapping
    if mapping is not None and args.predict_background is None:
        note = mapping.note(len(opened.classes))
        notes += [note] if note is not None else []
    return inference_report(
        tiles=len(mine),
        pixels=sum(tile.core.height * tile.core.width for tile in mine),
        seconds=round(time.perf_counter() - started, 3),
        device=classifier.adapter.device,
        arguments=args.resolved(),
        counts=counts,
        warnings=notes,
    )


def _assemble(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    home: Path,
) -> TaskReport:
    """The classified raster from every share's part raster, and the whole job's report."""
    started = time.perf_counter()
    check_output(output, False, RASTER_SUFFIXES)
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            request = _request(raster, output, arguments, device, progress, trust_code, extent, aoi)
            return functions.assemble(opened, request, part, home)
        shares = finished_shares(home, part)
        args = parse_arguments(arguments, opened.emd, PIXEL_ARGUMENTS)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            tiles, _ = _tiles(source, args, extent, aoi)
            counts = merged_counts(shares, {"nodata_pixels": 0}, skip=OWN_COUNTS)
            progress("assemble", 0, len(shares))
            rows = class_rows(opened.classes)
            with ClassifiedRasterWriter(output, source.dataset, rows) as writer:
                for done, each in enumerate(shares, start=1):
                    ranged = batch_range(len(tiles), args.batch_size, part.count, each.index)
                    mine = tiles[_slice(ranged)]
                    if mine:
                        copy_cores(each.parts / RASTER, mine, writer)
                    progress("assemble", done, len(shares))
                if pixels_key(0) in counts:
                    writer.add_first_row(BACKGROUND)
            notes += new_warnings(shares, notes)
            pixels = source.height * source.width
    return inference_report(
        tiles=len(tiles),
        pixels=pixels,
        seconds=round(time.perf_counter() - started, 3),
        device=str(shares[0].result.parameters.get("device", device)),
        arguments=args.resolved(),
        counts=counts,
        warnings=notes,
    )


def _request(
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
) -> TaskRequest:
    """A step's request, as the package's raster function takes it (tasks/shares/functions)."""
    return TaskRequest(raster, output, arguments, device, progress, False, trust_code, extent, aoi)


def _slice(numbers: range) -> slice:
    return slice(numbers.start, numbers.stop)


def bounds(tiles: list[Tile]) -> Window:
    """The rectangle holding every tile's core."""
    top = min(tile.core.row for tile in tiles)
    left = min(tile.core.col for tile in tiles)
    bottom = max(tile.core.row + tile.core.height for tile in tiles)
    right = max(tile.core.col + tile.core.width for tile in tiles)
    return Window(top, left, bottom - top, right - left)


def strips(windows: list[Window]) -> list[Window]:
    """Windows side by side in one row band joined into one: a share's cores are copied a row
    of tiles at a time."""
    joined: list[Window] = []
    for window in windows:
        last = joined[-1] if joined else None
        if (
            last is not None
            and (last.row, last.height) == (window.row, window.height)
            and last.col + last.width == window.col
        ):
            joined[-1] = Window(last.row, last.col, last.height, last.width + window.width)
        else:
            joined.append(window)
    return joined


def copy_cores(path: Path, tiles: list[Tile], writer: ClassifiedRasterWriter) -> None:
    """Copy the tiles' cores from a share's part raster into the classified raster."""
    box = bounds(tiles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        part = rasterio.open(path)
    with part:
        if (part.height, part.width) != (box.height, box.width):
            raise InvalidJobError(
                f"part raster {path} is {part.width}x{part.height}, not the share's "
                f"{box.width}x{box.height}: it was made by another plan"
            )
        for strip in strips([tile.core for tile in tiles]):
            rio = RioWindow(strip.col - box.col, strip.row - box.row, strip.width, strip.height)
            writer.write(strip, part.read(1, window=rio))


class PartRaster:
    """A share's class Values: an uncompressed tiled GeoTIFF over the box of its cores, whose
    blocks are rewritten in place whatever the windows' alignment (as the classified raster's
    scratch file is)."""

    def __init__(self, path: Path, dtype: str, nodata: int, box: Window) -> None:
        self.box = box
        self.nodata = nodata
        profile = {
            "driver": "GTiff",
            "width": box.width,
            "height": box.height,
            "count": 1,
            "dtype": dtype,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            "BIGTIFF": "IF_SAFER",
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            self.dataset = rasterio.open(path, "w", **profile)

    def write(self, window: Window, values: NDArray[np.generic]) -> None:
        rio = RioWindow(
            window.col - self.box.col, window.row - self.box.row, window.width, window.height
        )
        self.dataset.write(values.astype(self.dataset.dtypes[0])[np.newaxis], window=rio)

    def sync(self) -> None:
        """Nothing to record: a share that stops is run again whole."""

    def __enter__(self) -> PartRaster:
        return self

    def __exit__(self, *_: object) -> None:
        self.dataset.close()
