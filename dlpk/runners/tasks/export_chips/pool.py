"""Chips made by worker processes (or in this one), task by task, in schedule order."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator

from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.schedule import group_items, strip_width, tasks
from dlpk.runners.tasks.export_chips.worker import (
    ChipConfig,
    GroupResult,
    Task,
    Writers,
    init_worker,
    run_task,
)


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
        ctx.set_forkserver_preload(["dlpk.runners.tasks.export_chips.worker"])
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
