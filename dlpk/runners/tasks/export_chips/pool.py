"""Chips made by worker processes (or in this one), task by task, in schedule order.

Each worker keeps one `Writers`, set up once by the pool's initializer with every raster's
ChipConfig, so a task carries only the raster's number and its groups.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator

from dlpk.interrupts import worker_signals
from dlpk.runners.tasks.export_chips.encode import GeoTiffEncoder
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.schedule import group_items, strip_width, tasks
from dlpk.runners.tasks.export_chips.worker import ChipConfig, ChipWriter, GroupResult

# A task: the number of the raster (its ChipConfig) and a run of its groups.
Task = tuple[int, list[list[PlanItem]]]


class Writers:
    """The writer of the raster a task is for: a folder's images are chipped one after the
    other, so one writer (one set of open datasets) is kept, and swapped when the image
    changes."""

    def __init__(self, configs: list[ChipConfig]) -> None:
        self.configs = configs
        self.current: tuple[int, ChipWriter] | None = None
        # images of one product make chips of one shape and CRS: their GeoTIFF templates serve
        # every image
        self.tiff = GeoTiffEncoder()

    def run(self, task: Task) -> list[GroupResult]:
        source, groups = task
        if self.current is None or self.current[0] != source:
            self.close()
            self.current = (source, ChipWriter(self.configs[source], self.tiff))
        writer = self.current[1]
        return [writer.run_group(group) for group in groups]

    def close(self) -> None:
        if self.current is not None:
            self.current[1].close()
            self.current = None


_WRITERS: Writers | None = None


def init_worker(configs: list[ChipConfig]) -> None:
    """Set up a worker: its writers, and its signals (Ctrl-C stops the parent, which
    terminates the pool; the worker then ends quietly instead of printing a traceback)."""
    global _WRITERS
    worker_signals()
    _WRITERS = Writers(configs)


def run_task(task: Task) -> list[GroupResult]:
    assert _WRITERS is not None, "init_worker was not called"
    return _WRITERS.run(task)


def _context() -> multiprocessing.context.BaseContext:
    """How to start workers. On Linux, from a process with no other thread, fork: workers start
    at once with everything imported (spawn re-imports rasterio, shapely and pyproj in each,
    about half a second of CPU apiece). Otherwise forkserver (the server imports the worker code
    once and forks ready workers; nothing of this process is inherited), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["dlpk.runners.tasks.export_chips.pool"])
        return ctx
    return multiprocessing.get_context("spawn")


def make_chips(
    jobs: list[tuple[ChipConfig, list[PlanItem]]], workers: int
) -> Iterator[GroupResult]:
    """Every group's result, in schedule order (not plan order: the caller sorts). `jobs` are
    the rasters of the export (one, or a folder's images) with their plans; one pool of
    workers serves them all, so a folder of many small images costs no pool start per image."""
    todo: list[Task] = []
    for source, (config, plan) in enumerate(jobs):
        if not plan:
            continue
        info = config.raster
        first = plan[0].window
        width = strip_width(first.width, first.height, info.count, info.dtype)
        todo += [(source, run) for run in tasks(group_items(plan, width), width, workers)]
    if not todo:
        return
    configs = [config for config, _ in jobs]
    if workers <= 1 or len(todo) <= 1:
        writers = Writers(configs)
        try:
            for task in todo:
                yield from writers.run(task)
        finally:
            writers.close()
        return
    ctx = _context()
    with ctx.Pool(min(workers, len(todo)), initializer=init_worker, initargs=(configs,)) as pool:
        for results in pool.imap(run_task, todo):
            yield from results
