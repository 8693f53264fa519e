"""export-chips from a folder of images against the same pixels as one raster, same run.

A synthetic 3-band byte raster (tiled, deflate) of --size x --size is also cut into a --grid x
--grid folder of tiles (the same pixels, each tile a GeoTIFF of its own). The same Export_Tiles
chips (--tile px, no overlap, 1 worker) are then made, in rotating order, --rounds times each:
  - whole: from the single raster;
  - mosaic: from the folder, PROCESS_AS_MOSAICKED_IMAGE (one VRT over the tiles);
  - items: from the folder, PROCESS_ITEMS_SEPARATELY (each tile planned and chipped alone).
Ratios are chips per second against `whole`: what reading through the mosaic, or running item by
item, costs. Prints markdown and rewrites the "## Export chips from a folder" section of
benchmarks/RESULTS.md. Usage:

    python benchmarks/bench_export_folder.py [--size 6000] [--grid 3] [--tile 256] [--rounds 3]
        [--dir /dev/shm]
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
from dlpk.runners.tasks.export_chips import export_chips
from dlpk.spec.job import ExportChipsParameters, ProcessingMode

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


def export(source: Path, out: Path, tile: int, mode: ProcessingMode) -> tuple[float, int]:
    params = ExportChipsParameters(
        metadata_format="Export_Tiles",
        output_nofeature_tiles="ALL_TILES",
        tile_size_x=tile,
        stride_x=tile,
        workers=1,
        processing_mode=mode,
    )
    start = time.perf_counter()
    report = export_chips(source, None, out, params)
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds, report.counts["chips"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=6000)
    parser.add_argument("--grid", type=int, default=3)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, help="where rasters and chips go (e.g. /dev/shm: no disk noise)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    runs: dict[str, ProcessingMode] = {
        "whole": "PROCESS_AS_MOSAICKED_IMAGE",  # one raster: the mode does not apply
        "mosaic": "PROCESS_AS_MOSAICKED_IMAGE",
        "items": "PROCESS_ITEMS_SEPARATELY",
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    chips: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-", dir=options.dir) as tmp:
        root = Path(tmp)
        raster = root / "whole.tif"
        make_raster(raster, options.size)
        split(raster, root / "tiles", options.grid)
        sources = {"whole": raster, "mosaic": root / "tiles", "items": root / "tiles"}
        names = list(runs)
        for number in range(options.rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                out = root / f"out-{name}"
                seconds, count = export(sources[name], out, options.tile, runs[name])
                times[name].append(seconds)
                chips[name] = count
    median = {name: statistics.median(values) for name, values in times.items()}
    rows = [
        "| source | chips | median time (s) | chips/s | vs whole |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in runs:
        rate = chips[name] / median[name]
        ratio = (chips[name] / median[name]) / (chips["whole"] / median["whole"])
        rows.append(f"| {name} | {chips[name]} | {median[name]:.2f} | {rate:.0f} | {ratio:.2f}x |")
    body = [
        run_line(),
        "",
        f"{options.size} x {options.size} px 3-band uint8 deflate GeoTIFF, and the same pixels "
        f"as a {options.grid} x {options.grid} folder of GeoTIFF tiles; Export_Tiles, "
        f"{options.tile} px chips, stride {options.tile}, 1 worker; median of "
        f"{options.rounds} rounds in rotating order"
        + (f", files in {options.dir}." if options.dir else ".")
        + " Where the tile size does not divide an image, items make more chips: each "
        "image's last row and column of chips are shifted inside that image.",
        "",
        *rows,
    ]
    print("\n".join(body))
    write_section(SECTION, body, "# Benchmarks\n", options.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
