"""Start-up and fixed cost of the `dlpk` command, and the whole-command cost of a large export.

    .venv/bin/python benchmarks/bench_startup.py [--rounds 7] [--size 10000] [--skip-export]

What a user waits for is the whole command, interpreter start-up and imports included; the other
benchmarks time the library call inside one process and so leave that out. Every figure here is
the wall time of a fresh subprocess, measured in the same run as its baseline:

(1) `dlpk lint one.emd` (the console script beside the interpreter) against `python -c pass`:
    the fixed cost of a command that only reads a small JSON file (target: at most 0.15 s above
    the baseline). One `python -X importtime` run of the same lint lists the heavy modules it
    imports (raster and vector I/O, rich's live display, any framework: lint needs none of them)
    and the dlpk module that pulled each in.
(2) A one-chip export (`export-chips --format Classified_Tiles`, a 64 px 3-band GeoTIFF and one
    GeoJSON polygon) against `python -c pass`: the fixed cost of an export job.
(3) `export-chips --format Export_Tiles --all-tiles` of a --size px square 3-band byte raster
    (deflate, tiled, the raster of bench_export.py) into 256 px chips with 1 and 2 workers,
    against a raw rasterio loop in its own interpreter (imports rasterio only) that reads every
    window of the same plan and writes each as an uncompressed GeoTIFF (bench_export.py's raw
    baseline, without importing dlpk, whose imports would otherwise pad the baseline).
    Targets: dlpk / raw chips/s at least 0.9 with one worker and 1.5 with two.

(1) and (2) run `--rounds` times and (3) `--rounds` times each, in rotating order; medians and
bests. Each export writes a folder of its own, all deleted after the last run (deleting
thousands of files just before a run slows the next one: see bench_export.py), and before each
run of (3) the benchmark touches and frees memory as bench_export.py does (`recycle_memory`).
Prints markdown and writes it, with the command and date, into the "## Start-up and
whole-command cost" section of benchmarks/RESULTS.md (replacing an older one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import RESULTS, run_line, write_section  # noqa: E402

SECTION = "## Start-up and whole-command cost"
HEADER = "# Benchmarks\n"
TILE = 256
LINT_TARGET_S = 0.15
TARGETS = {1: 0.9, 2: 1.5}  # dlpk / raw chips/s, by worker count

# Modules a lint of one .emd must not import, by name prefix.
HEAVY = (
    "rasterio",
    "pyogrio",
    "fiona",
    "shapely",
    "pyproj",
    "osgeo",
    "geopandas",
    "pandas",
    "numpy",
    "PIL",
    "torch",
    "tensorflow",
    "onnxruntime",
    "onnx",
    "rich.live",
    "rich.progress",
)

# The raw baseline of (3): bench_export.raw_read_write with plan_windows written out, so that
# the interpreter imports rasterio only. argv: raster, output folder, tile; prints the chip count.
RAW_LOOP = """
import sys
from pathlib import Path
import rasterio
from rasterio.windows import Window

raster, out, tile = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
out.mkdir()


def offsets(size):
    return sorted({min(k, size - tile) for k in range(0, max(size - tile, 0) + tile, tile)})


with rasterio.open(raster) as src:
    profile = {
        "driver": "GTiff", "width": tile, "height": tile, "count": src.count,
        "dtype": src.dtypes[0], "crs": src.crs,
    }
    i = 0
    for row in offsets(src.height):
        for col in offsets(src.width):
            win = Window(col, row, tile, tile)
            data = src.read(window=win)
            with rasterio.open(
                out / f"{i:09d}.tif", "w", transform=src.window_transform(win), **profile
            ) as dst:
                dst.write(data)
            i += 1
print(i)
"""


# -- running and timing a command ----------------------------------------------------------------


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> dict[str, float | str]:
    """Wall time of one command from spawn to exit; its CPU time (and that of its workers, once
    it has waited for them); and how busy the machine's CPUs were with other work meanwhile."""
    busy0, total0 = _machine_ticks()
    cpu0 = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu0
    busy1, total1 = _machine_ticks()
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    machine = (busy1 - busy0) / max(total1 - total0, 1)
    cores = os.cpu_count() or 1
    others = max(0.0, machine - cpu / seconds / cores)
    return {"seconds": seconds, "cpu": cpu, "others": others, "stdout": done.stdout}


def dlpk_command() -> list[str]:
    """The console script beside this interpreter, as a user runs it; else its equivalent."""
    script = Path(sys.executable).with_name("dlpk")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from dlpk.cli import main; raise SystemExit(main())"]


def _shown(command: list[str]) -> str:
    if len(command) == 1:
        return f"its console script (`{os.path.relpath(command[0], ROOT)}`)"
    return "`python -c 'from dlpk.cli import main; ...'` (no console script found)"


BASELINE = [sys.executable, "-c", "pass"]


def rotate(names: list[str], r: int) -> list[str]:
    return names[r % len(names) :] + names[: r % len(names)]


def run_rounds(
    commands: dict[str, Callable[[int], list[str]]],
    rounds: int,
    before: Callable[[], None] | None = None,
) -> dict[str, list[dict[str, float | str]]]:
    """Each command (built for the round) once a round, in rotating order."""
    names = list(commands)
    got: dict[str, list[dict[str, float | str]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in rotate(names, r):
            if before is not None:
                before()
            m = timed(commands[name](r))
            got[name].append(m)
            print(
                f"  round {r + 1}: {name}: {m['seconds']:.3f} s, {m['cpu']:.2f} CPU s, "
                f"machine {m['others']:.0%} busy with other work",
                flush=True,
            )
    return got


def seconds_of(runs: list[dict[str, float | str]]) -> list[float]:
    return [float(m["seconds"]) for m in runs]


def others_of(got: dict[str, list[dict[str, float | str]]]) -> float:
    return statistics.median(float(m["others"]) for runs in got.values() for m in runs)


# -- (1) lint and (2) one-chip export: fixed cost ------------------------------------------------


def write_emd(folder: Path) -> Path:
    """The bundled example model (ours): its .emd and its model file beside it."""
    example = ROOT / "examples" / "landcover"
    for path in example.iterdir():
        if path.suffix in (".emd", ".onnx"):
            shutil.copy(path, folder / path.name)
    return folder / "landcover.emd"


def write_one_chip_job(folder: Path) -> tuple[Path, Path]:
    """A 64 px 3-band GeoTIFF in EPSG:4326 and one GeoJSON polygon (class 1) over its centre."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    raster, labels = folder / "one.tif", folder / "one.geojson"
    west, north, pixel = 10.0, 50.0, 0.0001
    profile = {
        "driver": "GTiff", "width": 64, "height": 64, "count": 3, "dtype": "uint8",
        "crs": "EPSG:4326", "transform": from_origin(west, north, pixel, pixel),
    }  # fmt: skip
    data = np.random.default_rng(0).integers(0, 255, (3, 64, 64), dtype=np.uint8)
    with rasterio.open(raster, "w", **profile) as dst:
        dst.write(data)
    x0, x1 = west + 16 * pixel, west + 48 * pixel
    y0, y1 = north - 48 * pixel, north - 16 * pixel
    feature = {
        "type": "Feature",
        "properties": {"value": 1},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
    }
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return raster, labels


def lint_imports(emd: Path) -> tuple[list[str], list[str], float]:
    """One `python -X importtime` lint: the heavy modules it imports (each with the chain of
    dlpk modules that pulled it in), the slowest dlpk imports, and the total import time."""
    code = f"from dlpk.cli import main; main(['lint', {str(emd)!r}])"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    entries: list[tuple[int, int, str]] = []  # (cumulative us, depth, name), children first
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        entries.append((int(cumulative), depth, name.strip()))
    heavy = []
    for i, (cumulative, depth, name) in enumerate(entries):
        if not any(name == h or name.startswith(h + ".") for h in HEAVY):
            continue
        # Only the top of each heavy package: skip it if its importer is the same package.
        parents = []
        level = depth
        for _, d, parent in entries[i + 1 :]:
            if d < level:
                parents.append(parent)
                level = d
        if parents and parents[0].split(".")[0] == name.split(".")[0]:
            continue
        chain = " <- ".join([p for p in parents if p.startswith("dlpk")][:3])
        heavy.append(f"`{name}` ({cumulative / 1e3:.0f} ms, via {chain or 'no dlpk module'})")
    own = sorted((e for e in entries if e[2].startswith("dlpk")), reverse=True)
    slowest = [f"`{name}` {cumulative / 1e3:.0f} ms" for cumulative, _, name in own[:6]]
    total = sum(c for c, d, _ in entries if d == 0) / 1e3
    return heavy, slowest, total


def bench_fixed(tmp: Path, rounds: int) -> list[str]:
    emd = write_emd(tmp)
    raster, labels = write_one_chip_job(tmp)
    dlpk = dlpk_command()
    outputs = tmp / "one-chip"
    outputs.mkdir()
    lint, export = "`dlpk lint one.emd`", "`dlpk export-chips`, one 64 px Classified_Tiles chip"
    base = "`python -c pass`"

    def one_chip(out: Path) -> list[str]:
        return [
            *dlpk, "export-chips", "--raster", str(raster), "--labels", str(labels),
            "--format", "Classified_Tiles", "--tile-size", "64", "--stride", "64",
            "--workers", "1", "-o", str(out),
        ]  # fmt: skip

    commands: dict[str, Callable[[int], list[str]]] = {
        base: lambda r: BASELINE,
        lint: lambda r: [*dlpk, "lint", str(emd)],
        export: lambda r: one_chip(outputs / f"{r}"),
    }
    timed(commands[lint](0))  # warm-ups: page cache, .pyc files
    timed(commands[export](-1))
    got = run_rounds(commands, rounds)
    chips = len(list((outputs / "0" / "images").glob("*.tif")))
    shutil.rmtree(outputs)
    base_med = statistics.median(seconds_of(got[base]))
    base_best = min(seconds_of(got[base]))
    rows = [
        "| command | median (s) | best (s) | median - baseline (s) | best - baseline (s) "
        "| CPU s (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in commands:
        med, best = statistics.median(seconds_of(got[name])), min(seconds_of(got[name]))
        cpu = statistics.median(float(m["cpu"]) for m in got[name])
        extra = "" if name == base else f"{med - base_med:+.3f} | {best - base_best:+.3f}"
        rows.append(f"| {name} | {med:.3f} | {best:.3f} | {extra or '– | –'} | {cpu:.2f} |")
    lint_extra = statistics.median(seconds_of(got[lint])) - base_med
    lint_best = min(seconds_of(got[lint])) - base_best
    heavy, slowest, total = lint_imports(emd)
    verdict = "met" if lint_extra <= LINT_TARGET_S else "not met"
    rows += [
        "",
        f"Lint above the bare interpreter: **{lint_extra:+.3f} s** median ({lint_best:+.3f} s "
        f"best); target at most {LINT_TARGET_S:+.2f} s: **{verdict}**. The one-chip export "
        f"wrote {chips} chip(s). Median of {rounds} rounds in rotating order after one "
        "unrecorded lint; other work kept the machine's CPUs "
        f"{others_of(got):.0%} busy during the runs (median).",
        "",
        f"Imports of that lint (`python -X importtime`, {total:.0f} ms in all): heavy modules "
        f"({', '.join(HEAVY)}): "
        + ("**" + "; ".join(heavy) + "**" if heavy else "**none**")
        + f". Slowest dlpk imports (cumulative): {', '.join(slowest)}.",
    ]
    return rows


# -- (3) whole-command export against raw --------------------------------------------------------


def bench_export(tmp: Path, size: int, rounds: int) -> list[str]:
    from benchmarks.bench_export import make_raster, recycle_memory

    raster = tmp / "scene.tif"
    start = time.perf_counter()
    make_raster(raster, size)
    print(f"  raster {size}² built in {time.perf_counter() - start:.1f} s", flush=True)
    outputs = tmp / "outputs"
    outputs.mkdir()
    dlpk = dlpk_command()
    raw = "raw rasterio read + write, 1 process"
    one, two = "`dlpk export-chips`, 1 worker", "`dlpk export-chips`, 2 workers"

    def export(workers: int) -> Callable[[int], list[str]]:
        return lambda r: [
            *dlpk, "export-chips", "--raster", str(raster), "--format", "Export_Tiles",
            "--all-tiles", "--tile-size", str(TILE), "--stride", str(TILE),
            "--workers", str(workers), "-o", str(outputs / f"{r}-{workers}"),
        ]  # fmt: skip

    commands: dict[str, Callable[[int], list[str]]] = {
        raw: lambda r: [
            sys.executable,
            "-c",
            RAW_LOOP,
            str(raster),
            str(outputs / f"{r}-raw"),
            str(TILE),
        ],
        one: export(1),
        two: export(2),
    }
    got = run_rounds(commands, rounds, before=recycle_memory)
    chips = int(str(got[raw][0]["stdout"]).split()[-1])
    for workers in (1, 2):
        written = len(list((outputs / f"0-{workers}" / "images").glob("*.tif")))
        if written != chips:
            raise RuntimeError(f"dlpk wrote {written} chips with {workers} worker(s), raw {chips}")
    shutil.rmtree(outputs)
    raster.unlink()
    raw_s = seconds_of(got[raw])
    rows = [
        "| command | chips | median (s) | best (s) | chips/s (median) | dlpk / raw chips/s "
        "(median) | each round | CPU s (median) |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    ratio: dict[str, float] = {}
    for name in commands:
        times = seconds_of(got[name])
        each = [r / s for r, s in zip(raw_s, times, strict=True)]
        ratio[name] = statistics.median(each)
        cpu = statistics.median(float(m["cpu"]) for m in got[name])
        rows.append(
            f"| {name} | {chips} | {statistics.median(times):.2f} | {min(times):.2f} | "
            f"{chips / statistics.median(times):.0f} | {ratio[name]:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in each)} | {cpu:.2f} |"
        )

    def verdict(name: str, workers: int) -> str:
        ok = ratio[name] >= TARGETS[workers]
        return f"**{'met' if ok else 'not met'}** ({ratio[name]:.2f})"

    rows += [
        "",
        f"Targets, dlpk / raw chips/s over the whole command: at least {TARGETS[1]} with one "
        f"worker: {verdict(one, 1)}; at least {TARGETS[2]} with two: {verdict(two, 2)}. "
        f"Median of the {rounds} rounds' paired ratios, rotating order; other work kept the "
        f"machine's CPUs {others_of(got):.0%} busy during the runs (median).",
    ]
    return rows


# -- report --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--size", type=int, default=10000, help="(3): raster side, px")
    parser.add_argument("--skip-export", action="store_true", help="only (1) and (2)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dlpk-bench-startup-") as tmp_name:
        tmp = Path(tmp_name)
        print("(1, 2) lint and a one-chip export against `python -c pass`", flush=True)
        (tmp / "fixed").mkdir()
        fixed = bench_fixed(tmp / "fixed", args.rounds)
        print("\n".join(fixed), flush=True)
        whole: list[str] = []
        if not args.skip_export:
            print(f"\n(3) whole-command export of a {args.size}² raster against raw", flush=True)
            (tmp / "export").mkdir()
            whole = bench_export(tmp / "export", args.size, args.rounds)
            print("\n".join(whole), flush=True)

    body = [
        f"{run_line()[:-2]}; load average {load:.2f} at the start). Every time is the wall "
        "time of a fresh subprocess, from spawn to exit: interpreter start-up and imports "
        f"included. dlpk runs as {_shown(dlpk_command())}.",
        "",
        "### Fixed cost: lint and a one-chip export",
        "",
        *fixed,
    ]
    if whole:
        body += [
            "",
            f"### Whole command: {args.size}² 3-band byte raster into {TILE} px chips",
            "",
            "Source: tiled (256 px blocks) deflate GeoTIFF (bench_export.py's raster); dlpk "
            "writes Export_Tiles (uncompressed GeoTIFF chips, world files, metadata, hashes); "
            "raw is `python -c` with a loop of rasterio windowed read + uncompressed GeoTIFF "
            "write of the same windows, imports included.",
            "",
            *whole,
        ]
    if not args.no_write:
        write_section(SECTION, body, HEADER, args.results)
        print(f"\nwrote the {SECTION!r} section of {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
