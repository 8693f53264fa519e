"""Inference benchmark: classify-pixels throughput against the bare model forward, same run.

    .venv/bin/python benchmarks/bench_inference.py [--size 1536] [--tile 256] [--padding 32]
        [--batch 4] [--repeat 3] [--memory 1000,3000]

Builds, in a temporary folder, a seeded 3-band uint8 deflate GeoTIFF of --size x --size and a
TorchScript conv net (3 -> 32 -> 32 -> 3 channels, 3x3 kernels) packed as .dlpk. Then, best of
--repeat each:
  - bare: the model's forward pass alone over as many batches of the same tile size as the task
    runs (inputs prepared beforehand, nothing read or written);
  - task: `classify_pixels` end to end (lint, unpack, read, normalise, forward, map classes,
    write, COG copy).
Overhead = task / bare - 1, in Mpx/s of raster pixels. With --memory, the task also runs in a
fresh process per size and reports its peak resident memory (flat memory: it should barely grow
with the raster). Prints markdown and rewrites the "## Inference" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import best_of, write_section  # noqa: E402
from dlpk.packaging.pack import pack_folder  # noqa: E402
from dlpk.runners.io.windows import TileGrid, plan_tiles  # noqa: E402
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Inference"


def make_model(folder: Path, tile: int, padding: int) -> Path:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 3, 3, padding=1),
    ).eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.jit.script(net).save(str(folder / "model.pt"))
    emd = {
        "Framework": "TorchScript",
        "ModelConfiguration": "PixelClassifier",
        "ModelType": "ImageClassification",
        "ModelFile": "model.pt",
        "ImageHeight": tile,
        "ImageWidth": tile,
        "ModelPadding": padding,
        "ExtractBands": [0, 1, 2],
        "Classes": [
            {"Value": 1, "Name": "a", "Color": [255, 0, 0]},
            {"Value": 2, "Name": "b", "Color": [0, 255, 0]},
        ],
    }
    (folder / "model.emd").write_text(json.dumps(emd))
    package = folder.with_suffix(".dlpk")
    pack_folder(folder, package, overwrite=True)
    return package


def make_raster(path: Path, size: int) -> Path:
    """Smooth seeded imagery written in 512-row strips so memory stays small."""
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "tiled": True,
        "compress": "deflate",
        "crs": "EPSG:32633",
        "transform": rasterio.transform.from_origin(500000, 4000000, 1, 1),
    }
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **profile) as dataset:
        for row in range(0, size, 512):
            rows = min(512, size - row)
            block = rng.integers(0, 256, (3, rows, size), dtype=np.uint8)
            dataset.write(block, window=rasterio.windows.Window(0, row, size, rows))
    return path


def bare_forward(package_dir: Path, tiles: int, tile: int, batch: int) -> Callable[[], None]:
    import torch

    module = torch.jit.load(str(package_dir / "model.pt"))
    sizes = [min(batch, tiles - i) for i in range(0, tiles, batch)]
    inputs = [
        torch.from_numpy(np.random.default_rng(1).random((n, 3, tile, tile), np.float32))
        for n in sorted(set(sizes))
    ]
    by_size = {int(x.shape[0]): x for x in inputs}

    def run() -> None:
        with torch.inference_mode():
            for n in sizes:
                module(by_size[n]).numpy()

    return run


def peak_memory(package: Path, raster: Path, output: Path, args: dict[str, str]) -> float:
    """Peak RSS (MiB) of a fresh process running the task once."""
    code = (
        "import sys, resource, json; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from dlpk.runners.tasks.inference.classify_pixels import classify_pixels;"
        "classify_pixels(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]),"
        " json.loads(sys.argv[5]), 'cpu', lambda *a: None, overwrite=True);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    argv = [sys.executable, "-c", code, str(ROOT), str(package), str(raster), str(output)]
    done = subprocess.run([*argv, json.dumps(args)], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--padding", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", default="", help="comma list of raster sizes, e.g. 1000,3000")
    parser.add_argument("--results", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    args = {"batch_size": str(options.batch), "padding": str(options.padding)}
    grid = TileGrid(options.tile, options.tile, options.padding)
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-") as tmp:
        root = Path(tmp)
        package = make_model(root / "model", options.tile, options.padding)
        raster = make_raster(root / "in.tif", options.size)
        tiles = len(plan_tiles(options.size, options.size, grid))
        forward = bare_forward(root / "model", tiles, options.tile, options.batch)

        def task() -> Any:
            return classify_pixels(
                package, raster, root / "out.tif", args, "cpu", lambda *a: None, overwrite=True
            )

        # Interleaved so that load from other processes hits both alike: best of each, and the
        # median of each round's task / bare ratio (a pair runs back to back, under one load).
        # One unrecorded round first: the first forward pass pays for torch's thread pool and
        # allocator warm-up, which made the first paired ratio meaningless.
        best_of(1, forward), best_of(1, task)
        bare, full = float("inf"), float("inf")
        paired: list[float] = []
        for _ in range(options.repeat):
            one_bare, one_full = best_of(1, forward), best_of(1, task)
            bare, full = min(bare, one_bare), min(full, one_full)
            paired.append(one_full / one_bare - 1)
        mpx = options.size**2 / 1e6
        rows = [
            "| run | tiles | time (s) | Mpx/s | ms/tile |",
            "|---|---:|---:|---:|---:|",
            f"| bare forward | {tiles} | {bare:.2f} | {mpx / bare:.2f} | "
            f"{1000 * bare / tiles:.1f} |",
            f"| classify-pixels | {tiles} | {full:.2f} | {mpx / full:.2f} | "
            f"{1000 * full / tiles:.1f} |",
        ]
        memory_rows: list[str] = []
        peaks: list[float] = []
        for text in filter(None, options.memory.split(",")):
            size = int(text)
            big = make_raster(root / f"m{size}.tif", size)
            peaks.append(peak_memory(package, big, root / f"m{size}-out.tif", args))
            memory_rows.append(f"| {size} x {size} | {peaks[-1]:.0f} |")
            big.unlink()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["benchmarks/bench_inference.py", *(argv or sys.argv[1:])])
    body = [
        f"Run `.venv/bin/python {command}` on {when} (Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, CPU torch).",
        "",
        f"{options.size} x {options.size} px uint8 RGB, tile {options.tile}, padding "
        f"{options.padding}, batch {options.batch}; best of {options.repeat}. Overhead of the "
        f"task over the bare forward pass: **{100 * (full / bare - 1):.1f} %** (best of each); "
        f"**{100 * statistics.median(paired):.1f} %** (median of the rounds' paired ratios: "
        f"{', '.join(f'{100 * x:.1f}' for x in paired)} %). Target: at most 15 %.",
        "",
        *rows,
        "",
        "Rounds alternate bare and task after one unrecorded warm-up round; the spread of the",
        "paired ratios is this machine's run-to-run noise.",
    ]
    if memory_rows:
        body += ["", "| raster | peak RSS (MiB) |", "|---|---:|", *memory_rows]
        body += [
            "",
            f"Peak memory, largest / smallest raster: **{max(peaks) / min(peaks):.2f}**"
            " (target: within 10 %).",
        ]
    print("\n".join(body))
    write_section(SECTION, body, "# Benchmarks\n", options.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
