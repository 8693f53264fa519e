"""Export throughput next to this machine's limit: raw rasterio windowed read + write.

Both write uncompressed GeoTIFF chips of the same windows in the same run, so the ratio says how
much of the disk/codec limit the exporter reaches. Usage:

    python benchmarks/bench_export.py [--size 10000] [--tile 256] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from dlpk.runners.tasks.export_chips import export_chips
from dlpk.runners.tiling import plan_windows
from dlpk.spec.job import ExportChipsParameters


def make_raster(path: Path, size: int) -> None:
    """An orthophoto-like 3-band byte raster (smooth gradients plus noise), deflate, tiled."""
    rng = np.random.default_rng(0)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500_000, 5_000_000, 0.25, 0.25),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 1024):
            h = min(1024, size - row)
            base = (np.arange(size)[None, :] + np.arange(row, row + h)[:, None]) % 256
            noise = rng.integers(0, 32, (3, h, size), dtype=np.uint8)
            dst.write((base[None] + noise).astype(np.uint8), window=Window(0, row, size, h))


def raw_read_write(raster: Path, out: Path, tile: int) -> int:
    out.mkdir()
    with rasterio.open(raster) as src:
        profile = {
            "driver": "GTiff",
            "width": tile,
            "height": tile,
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs,
        }
        windows = plan_windows(src.width, src.height, tile, tile, tile, tile)
        for i, w in enumerate(windows):
            win = Window(w.col_off, w.row_off, w.width, w.height)
            data = src.read(window=win)
            with rasterio.open(
                out / f"{i:09d}.tif", "w", transform=src.window_transform(win), **profile
            ) as dst:
                dst.write(data)
    return len(windows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raster = tmp / "scene.tif"
        t = time.perf_counter()
        make_raster(raster, args.size)
        print(f"raster {args.size}x{args.size}x3 uint8 written in {time.perf_counter() - t:.1f} s")
        chip_mb = args.tile * args.tile * 3 / 1e6

        def report(name: str, chips: int, seconds: float, base: float | None) -> float:
            rate = chips / seconds
            ratio = f"{rate / base:.2f}" if base else "1.00"
            mbs = rate * chip_mb
            print(f"| {name} | {chips} | {seconds:.2f} | {rate:.0f} | {mbs:.1f} | {ratio} |")
            return rate

        print("| run | chips | s | chips/s | MB/s | ratio to raw |")
        print("|---|---|---|---|---|---|")
        t = time.perf_counter()
        n = raw_read_write(raster, tmp / "raw", args.tile)
        base = report("raw rasterio read+write, 1 process", n, time.perf_counter() - t, None)
        shutil.rmtree(tmp / "raw")
        for workers in args.workers:
            params = ExportChipsParameters(
                metadata_format="Export_Tiles",
                tile_size_x=args.tile,
                stride_x=args.tile,
                output_nofeature_tiles="ALL_TILES",
                workers=workers,
            )
            t = time.perf_counter()
            result = export_chips(raster, None, tmp / f"dlpk{workers}", params)
            seconds = time.perf_counter() - t
            report(f"dlpk export-chips, {workers} worker(s)", result.counts["chips"], seconds, base)
            shutil.rmtree(tmp / f"dlpk{workers}")


if __name__ == "__main__":
    main()
