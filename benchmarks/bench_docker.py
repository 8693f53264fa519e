"""Docker backend against the local backend: per-job overhead and throughput on a large job.

    .venv/bin/python benchmarks/bench_docker.py [--repeat 5] [--size 6000]

Both run the same `dlpk export-chips` command line (Export_Tiles, TIFF chips), once with
`--backend local` (a subprocess on the host) and once with `--backend docker` (the onnx runner
image, which must be current: `make images`). (a) A tiny job (one 256 px chip) measures the
fixed cost of a job; (b) a --size x --size raster measures throughput, where the ratio
docker / local should approach 1. Writes the "## Docker backend" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import run_line, write_section  # noqa: E402

SECTION = "## Docker backend"
HEADER = "# Benchmarks\n"


def make_raster(path: Path, size: int) -> None:
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32633", "transform": from_origin(500_000, 5_000_000, 0.5, 0.5),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }  # fmt: skip
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 1024):
            h = min(1024, size - row)
            dst.write(
                rng.integers(0, 255, (3, h, size), dtype=np.uint8), window=Window(0, row, size, h)
            )


def run_export(raster: Path, out: Path, backend: str, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "dlpk", "export-chips", "--raster", str(raster),
        "--format", "Export_Tiles", "--all-tiles", "--tile-size", "256", "--stride", "256",
        "--workers", str(workers), "-o", str(out), "--backend", backend,
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def median_time(raster: Path, out: Path, backend: str, workers: int, repeat: int) -> float:
    return statistics.median(run_export(raster, out, backend, workers) for _ in range(repeat))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=6000, help="large raster side, pixels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-") as scratch:
        folder = Path(scratch)
        small, large = folder / "small.tif", folder / "large.tif"
        make_raster(small, 256)
        make_raster(large, args.size)
        rows = []
        for label, raster, repeat in (("1 chip", small, args.repeat), ("large", large, 3)):
            local = median_time(raster, folder / "out", "local", args.workers, repeat)
            docker = median_time(raster, folder / "out", "docker", args.workers, repeat)
            chips = len(list((folder / "out" / "images").glob("*.tif")))
            rows.append((label, raster, chips, local, docker))
    size = f"{args.size}x{args.size}"
    body = [
        run_line(),
        "",
        "| job | chips | local (s) | docker (s) | docker - local (s) | local / docker throughput |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, _, chips, local, docker in rows:
        name = f"{label} ({size} px, 3 bands)" if label == "large" else "1 chip (256x256 px)"
        body.append(
            f"| {name} | {chips} | {local:.2f} | {docker:.2f} | {docker - local:+.2f} | "
            f"{local / docker:.2f} |"
        )
    overhead = rows[0][4] - rows[0][3]
    ratio = rows[1][3] / rows[1][4]
    body += [
        "",
        f"Per-job overhead of the Docker backend: **{overhead:+.2f} s** (median of {args.repeat},"
        f" whole command line). On the large job the Docker backend reaches **{ratio:.2f}** of"
        " the local backend's throughput (1.00 = equal).",
    ]
    print("\n".join(body))
    if not args.no_write:
        write_section(SECTION, body, HEADER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
