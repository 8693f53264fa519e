"""export-chips from a folder of images against the same pixels as one raster, same run.

A synthetic 3-band byte raster (tiled, deflate) of --size x --size is also cut into folders of
g x g tiles for each g of --grids (the same pixels, each tile a GeoTIFF of its own). The same
Export_Tiles chips (--tile px, no overlap, --workers) are then made, in rotating order, --rounds
times each:
  - whole: from the single raster;
  - mosaic: from the folder, PROCESS_AS_MOSAICKED_IMAGE (one VRT over the tiles);
  - items: from the folder, PROCESS_ITEMS_SEPARATELY (each tile planned and chipped alone).
Ratios are chips per second against `whole`: what reading through the mosaic, or running item by
item, costs. Prints markdown and rewrites the "## Export chips from a folder" section of
benchmarks/RESULTS.md. Usage:

    python benchmarks/bench_export_folder.py [--size 6000] [--grids 3,12] [--tile 256]
        [--workers 1] [--rounds 3] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import rasterio
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_export import make_raster
from benchmarks.report import RESULTS, run_line, write_section
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.choices import ProcessingMode
from dlpk.spec.job import ExportChipsParameters

SECTION = "## Export chips from a folder"


def split(raster: Path, folder: Path, grid: int) -> None:
    """The raster cut into grid x grid GeoTIFF tiles with the same profile."""
    folder.mkdir()
    with rasterio.open(raster) as src:
        profile = src.profile
        edges = [round(i * src.width / grid) for i in range(grid + 1)]
        for row in range(grid):
            for col in range(grid):
                window = Window(
                    edges[col], edges[row], edges[col + 1] - edges[col], edges[row + 1] - edges[row]
                )
                tile = profile | {
                    "width": window.width,
                    "height": window.height,
                    "transform": window_transform(window, src.transform),
                }
                with rasterio.open(folder / f"tile_{row}_{col}.tif", "w", **tile) as dst:
                    dst.write(src.read(window=window))


def export(
    source: Path, out: Path, tile: int, mode: ProcessingMode, workers: int
) -> tuple[float, int]:
    params = ExportChipsParameters(
        metadata_format="Export_Tiles",
        output_nofeature_tiles="ALL_TILES",
        tile_size_x=tile,
        stride_x=tile,
        workers=workers,
        processing_mode=mode,
    )
    start = time.perf_counter()
    report = export_chips(source, None, out, params)
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds, report.counts["chips"]


def measure(
    root: Path, raster: Path, grid: int, options: argparse.Namespace
) -> dict[str, tuple[float, int]]:
    """Median seconds and chip count of whole / mosaic / items for one folder layout."""
    folder = root / f"tiles-{grid}"
    split(raster, folder, grid)
    runs: dict[str, tuple[Path, ProcessingMode]] = {
        "whole": (raster, "PROCESS_AS_MOSAICKED_IMAGE"),  # one raster: the mode does not apply
        "mosaic": (folder, "PROCESS_AS_MOSAICKED_IMAGE"),
        "items": (folder, "PROCESS_ITEMS_SEPARATELY"),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    chips: dict[str, int] = {}
    names = list(runs)
    for number in range(options.rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            source, mode = runs[name]
            seconds, chips[name] = export(source, root / "out", options.tile, mode, options.workers)
            times[name].append(seconds)
    shutil.rmtree(folder)
    return {name: (statistics.median(times[name]), chips[name]) for name in runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=6000)
    parser.add_argument("--grids", default="3,12", help="folder layouts: images per side")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, help="where rasters and chips go (e.g. /dev/shm: no disk noise)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    rows = [
        "| folder | source | chips | median time (s) | chips/s | vs whole | ms per image |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-", dir=options.dir) as tmp:
        root = Path(tmp)
        raster = root / "whole.tif"
        make_raster(raster, options.size)
        for grid in (int(text) for text in options.grids.split(",")):
            found = measure(root, raster, grid, options)
            whole_seconds, whole_chips = found["whole"]
            for name, (seconds, count) in found.items():
                rate = count / seconds
                # what a folder costs over the single raster, per image
                per_image = 1000 * (seconds - whole_seconds) / grid**2
                extra = "" if name == "whole" else f"{per_image:.1f}"
                rows.append(
                    f"| {grid} x {grid} images of {options.size // grid} px | {name} | {count} "
                    f"| {seconds:.2f} | {rate:.0f} | {rate / (whole_chips / whole_seconds):.2f}x "
                    f"| {extra} |"
                )
    body = [
        run_line(),
        "",
        f"{options.size} x {options.size} px 3-band uint8 deflate GeoTIFF, and the same pixels "
        "as folders of GeoTIFF tiles; Export_Tiles, "
        f"{options.tile} px chips, stride {options.tile}, {options.workers} worker(s); median of "
        f"{options.rounds} rounds in rotating order"
        + (f", files in {options.dir}." if options.dir else ".")
        + " Where the tile size does not divide an image, items make more chips: each "
        "image's last row and column of chips are shifted inside that image. `ms per image`: "
        "(time - whole's time) / images, the fixed cost of an image of a folder (it is opened, "
        "planned and read apart from its neighbours; a mosaic reads through a VRT that looks "
        "up its sources).",
        "",
        *rows,
    ]
    print("\n".join(body))
    write_section(SECTION, body, "# Benchmarks\n", options.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
