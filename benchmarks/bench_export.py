"""export-chips throughput next to this machine's limit, and its peak memory as the raster grows.

(a) Throughput: a synthetic orthophoto-like 3-band byte raster (tiled, deflate) is cut into 256 px
Export_Tiles chips (uncompressed GeoTIFF) by dlpk with 1 and 2 workers and, in the same run and in
rotating order, by a plain loop of rasterio windowed read + GeoTIFF write of the same windows
("raw", one process): the disk/codec limit. Each is timed `--rounds` times; medians and ratios.
(b) Peak memory: the same export from rasters of two sizes, each in a fresh subprocess that reports
its own (and its workers') peak resident set size.

Prints markdown and writes it, with the command and date, into the "## Export chips" section of
benchmarks/RESULTS.md (replacing an older one). Usage:

    python benchmarks/bench_export.py [--size 10000] [--memory-sizes 5000 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import write_section
from dlpk.runners.io.tiles import plan_windows
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Export chips"
TILE = 256


def make_raster(path: Path, size: int) -> None:
    """Smooth gradients plus noise, 3 bands, 256 px blocks, deflate level 1 (quick to build)."""
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
        "zlevel": 1,
    }
    noise = rng.integers(0, 32, (3, 1024, size), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, 1024):
            h = min(1024, size - row)
            base = (np.arange(size)[None, :] // 8 + np.arange(row, row + h)[:, None] // 8) % 224
            dst.write(base[None].astype(np.uint8) + noise[:, :h], window=Window(0, row, size, h))


def raw_read_write(raster: Path, out: Path) -> int:
    """The limit: windowed reads and GeoTIFF writes of the same windows, nothing else."""
    out.mkdir()
    with rasterio.open(raster) as src:
        profile = {
            "driver": "GTiff",
            "width": TILE,
            "height": TILE,
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs,
        }
        windows = plan_windows(src.width, src.height, TILE, TILE, TILE, TILE)
        for i, w in enumerate(windows):
            win = Window(w.col, w.row, w.width, w.height)
            data = src.read(window=win)
            with rasterio.open(
                out / f"{i:09d}.tif", "w", transform=src.window_transform(win), **profile
            ) as dst:
                dst.write(data)
    return len(windows)


def dlpk_export(raster: Path, out: Path, workers: int) -> int:
    params = ExportChipsParameters(
        metadata_format="Export_Tiles",
        tile_size_x=TILE,
        stride_x=TILE,
        output_nofeature_tiles="ALL_TILES",
        workers=workers,
    )
    return export_chips(raster, None, out, params).counts["chips"]


RECYCLE_MIB = 640  # about twice what one throughput run writes


def recycle_memory(mib: int = RECYCLE_MIB) -> None:
    """Touch and free `mib` MiB just before a run, so that the page cache the run fills comes
    from memory the machine has just used. On a virtual machine that hands free memory back to
    its host (free page reporting), a page not touched for a while costs a host fault when it is
    next used, and how many such pages a run meets would otherwise depend on what ran before it:
    run times of the same export varied 3x. Every contender gets the same treatment."""
    block = np.ones(mib * 1024 * 1024, dtype=np.uint8)
    del block


def run_child(raster: Path, out: Path, what: str) -> dict[str, float]:
    """One timed run in a fresh interpreter (`what`: "raw" or a worker count), so runs share no
    caches or imports. This process watches the run's workers (peak RSS, CPU time) from outside,
    so the run itself has no extra thread (which would change how it starts its workers)."""
    recycle_memory()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(raster), str(out), what],
        stdout=subprocess.PIPE,
        text=True,
    )
    peaks: dict[int, int] = {}
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        for pid in _descendants(proc.pid):
            peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
        time.sleep(0.05)
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise RuntimeError(f"benchmark run {what} failed ({proc.returncode})")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["workers"] = max(peaks.values(), default=0) / 1024
    result["cpu"] += sum(cpu.values())
    cores = os.cpu_count() or 1
    result["others"] = max(0.0, result["machine"] - result["cpu"] / result["seconds"] / cores)
    return result


RAW = "raw rasterio read + write, 1 process"
ONE_CORE = "dlpk export-chips, 1 worker on 1 core"
ONE = "dlpk export-chips, 1 worker"
TWO = "dlpk export-chips, 2 workers"


def bench_throughput(raster: Path, tmp: Path, rounds: int) -> list[str]:
    """Each contender `rounds` times, in rotating order; one table and the targets. "1 worker on
    1 core" runs pinned to one CPU: a lone worker otherwise lends GDAL's decoding threads the
    idle second core, so it is not a one-core baseline for the two-worker speed-up."""
    runs = {RAW: "raw", ONE_CORE: "1c", ONE: "1", TWO: "2"}
    names = list(runs)
    got: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    # Every run writes a folder of its own, all deleted after the last run: deleting thousands
    # of files just before a run makes ext4 skip the recently freed inodes one by one while it
    # allocates the next run's files (a kernel profile showed this at about 15 % of the time),
    # a cost that belongs to no exporter.
    outputs = tmp / "outputs"
    outputs.mkdir()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            m = run_child(raster, outputs / f"{r}-{runs[name]}", runs[name])
            got[name].append(m)
            print(
                f"  round {r + 1}: {name}: {m['chips'] / m['seconds']:.0f} chips/s, "
                f"{m['cpu']:.2f} CPU s, machine {m['others']:.0%} busy with other work",
                flush=True,
            )
    shutil.rmtree(outputs)
    mb = TILE * TILE * 3 / 1e6
    rate = {n: [m["chips"] / m["seconds"] for m in got[n]] for n in names}

    def ratios(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(rate[a], rate[b], strict=True)]

    def cpu(name: str) -> float:
        return statistics.median(m["cpu"] for m in got[name])

    rows = [
        "| run | chips | chips/s (median) | MB/s | ratio to raw (median) | ratio, each round "
        "| CPU s (median) | chips per CPU s |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name in names:
        med = statistics.median(rate[name])
        chips = int(got[name][0]["chips"])
        each = ratios(name, RAW)
        rows.append(
            f"| {name} | {chips} | {med:.0f} | {med * mb:.1f} | "
            f"{statistics.median(each):.2f} | {', '.join(f'{x:.2f}' for x in each)} | "
            f"{cpu(name):.2f} | {chips / cpu(name):.0f} |"
        )
    one_core = statistics.median(ratios(ONE_CORE, RAW))
    speedup = statistics.median(ratios(TWO, ONE_CORE))
    vs_one = statistics.median(ratios(TWO, ONE))
    vs_raw = statistics.median(ratios(TWO, RAW))
    busy = statistics.median(m["others"] for n in names for m in got[n])

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    rows += [
        "",
        f"Two workers on two cores / one worker on one core: **{speedup:.2f}x** (median of "
        f"the rounds' ratios: {', '.join(f'{x:.2f}' for x in ratios(TWO, ONE_CORE))}); "
        f"/ one unpinned worker: {vs_one:.2f}x; / raw: {vs_raw:.2f}x. Two workers spent "
        f"{cpu(TWO) / cpu(ONE_CORE):.2f}x the CPU time of one on one core for the same chips. "
        "Other work (other processes, and the kernel's writeback of the files written, which "
        f"is charged to no process) kept the machine's CPUs {busy:.0%} busy during the runs "
        "(median).",
        "",
        f"Targets: one worker (on one core) at least 0.7 of raw: **{verdict(one_core >= 0.7)}** "
        f"({one_core:.2f}); two workers on two cores at least 1.7x one worker on one core: "
        f"**{verdict(speedup >= 1.7)}** ({speedup:.2f}x).",
    ]
    return rows


def _peak_kib(pid: int | str) -> int:
    """VmHWM: this process's own peak RSS (unlike ru_maxrss, not inherited across exec)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _cpu_seconds(pid: int | str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def child(raster: Path, out: Path, what: str) -> None:
    """The timed run: wall time, own CPU time and peak RSS, and how busy the whole machine was."""
    busy0, total0 = _machine_ticks()
    cpu0 = _cpu_seconds("self")
    t = time.perf_counter()
    if what.endswith("c"):  # pinned to one core
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        what = what[:-1]
    chips = raw_read_write(raster, out) if what == "raw" else dlpk_export(raster, out, int(what))
    seconds = time.perf_counter() - t
    cpu = _cpu_seconds("self") - cpu0
    busy1, total1 = _machine_ticks()
    report = {
        "chips": chips,
        "seconds": seconds,
        "cpu": cpu,
        "machine": (busy1 - busy0) / max(total1 - total0, 1),
        "self": _peak_kib("self") / 1024,
    }
    print(json.dumps(report))


def bench_memory(tmp: Path, sizes: list[int]) -> list[str]:
    rows = [
        "| raster | chips | workers | s | peak RSS, main (MiB) | peak RSS, a worker (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    peaks: dict[int, dict[int, dict[str, float]]] = {}
    for size in sizes:
        raster = tmp / f"mem{size}.tif"
        t = time.perf_counter()
        make_raster(raster, size)
        print(f"  raster {size}² built in {time.perf_counter() - t:.1f} s", flush=True)
        peaks[size] = {}
        for workers in (1, 2):
            out = tmp / "memout"
            m = run_child(raster, out, str(workers))
            shutil.rmtree(out)
            peaks[size][workers] = m
            worker = f"{m['workers']:.0f}" if workers > 1 else "–"
            rows.append(
                f"| {size}² | {m['chips']:.0f} | {workers} | {m['seconds']:.1f} | "
                f"{m['self']:.0f} | {worker} |"
            )
            print(f"  {size}², {workers} worker(s): {m}", flush=True)
        raster.unlink()
    small, big = sizes[0], sizes[-1]
    one = peaks[big][1]["self"] / peaks[small][1]["self"]
    two = peaks[big][2]["workers"] / peaks[small][2]["workers"]
    parent = peaks[big][2]["self"] / peaks[small][2]["self"]
    rows += [
        "",
        f"Peak memory, {big}² / {small}² ({(big / small) ** 2:.0f}x the pixels): "
        f"**{one:.2f}** with 1 worker; with 2 workers **{two:.2f}** per worker and "
        f"**{parent:.2f}** for the main process. Target: within 10 % "
        f"(**{'met' if max(one, two, parent) <= 1.1 else 'not met'}**).",
    ]
    return rows


def _command() -> str:
    return shlex.join(["python", "benchmarks/bench_export.py", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=10000, help="throughput raster side, px")
    parser.add_argument("--memory-sizes", type=int, nargs=2, default=[5000, 20000])
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each")
    parser.add_argument(
        "--memory-dir",
        type=Path,
        help="also time writing the chips to this in-memory folder (e.g. /dev/shm), to tell "
        "the file system's share of the cost from ours",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--child", nargs=3, metavar=("RASTER", "OUT", "WORKERS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return 0

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raster = tmp / "scene.tif"
        t = time.perf_counter()
        make_raster(raster, args.size)
        print(f"(a) raster {args.size}² built in {time.perf_counter() - t:.1f} s", flush=True)
        throughput = bench_throughput(raster, tmp, args.rounds)
        print("\n".join(throughput), flush=True)
        in_memory: list[str] = []
        if args.memory_dir is not None:
            with tempfile.TemporaryDirectory(dir=args.memory_dir) as mem_name:
                in_memory = bench_throughput(raster, Path(mem_name), args.rounds)
            print("\n".join(in_memory), flush=True)
        raster.unlink()
        print("(b) peak memory", flush=True)
        memory = bench_memory(tmp, args.memory_sizes)
        print("\n".join(memory), flush=True)

    body = [
        f"Run `{_command()}` on {when} ({machine}; the cores are shared with other work, so "
        "figures vary from run to run: compare figures of one run only).",
        "",
        f"### Throughput, {args.size}² 3-band byte raster, {TILE} px chips",
        "",
        "Source: tiled (256 px blocks) deflate GeoTIFF; output: Export_Tiles, uncompressed "
        "GeoTIFF chips plus world files, stride = tile. dlpk also hashes every file it writes "
        "(for result.json) and computes band statistics; raw does neither. Each run is a fresh "
        "process, timed from the call (imports excluded, worker start-up included); CPU s "
        "counts the main process and every worker. Each run writes a folder of its own (all "
        "deleted after the last run), and just before it the benchmark touches and frees "
        f"{RECYCLE_MIB} MiB, so that every run fills its page cache from recently used memory "
        "(on a virtual machine returning free memory to its host, untouched pages cost a host "
        "fault each; see `recycle_memory`).",
        "",
        *throughput,
        "",
        *(
            [
                f"Chips written to {args.memory_dir} (a memory file system) in the same run "
                "instead, to tell the disk file system's share of the cost from ours:",
                "",
                *in_memory,
                "",
            ]
            if in_memory
            else []
        ),
        "### Peak memory",
        "",
        "The same export (1 and 2 workers) in a fresh process per run; peak resident set size "
        "is each process's own VmHWM from /proc, polled while it runs (the workers' figure is "
        "the largest of them). Each worker's GDAL block cache is fixed at 32 MiB and fills at "
        "both sizes.",
        "",
        *memory,
    ]
    if not args.no_write:
        write_section(SECTION, body, "# Benchmarks\n", args.results)
        print(f"\nwrote the {SECTION!r} section of {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
