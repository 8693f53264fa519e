"""Chips made by worker processes (or in this one), task by task, in schedule order."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator

from dlpk.runners.chips.plan_item import PlanItem
from dlpk.runners.chips.schedule import group_items, strip_width, tasks
from dlpk.runners.chips.worker import ChipConfig, ChipWriter, GroupResult, init_worker, run_task


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
        ctx.set_forkserver_preload(["dlpk.runners.chips.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


def make_chips(config: ChipConfig, plan: list[PlanItem], workers: int) -> Iterator[GroupResult]:
    """Every group's result, in schedule order (not plan order: the caller sorts)."""
    if not plan:
        return
    info = config.raster
    first = plan[0].window
    width = strip_width(first.width, first.height, info.count, info.dtype)
    todo = tasks(group_items(plan, width), width, workers)
    if workers <= 1 or len(todo) <= 1:
        writer = ChipWriter(config)
        try:
            for task in todo:
                for group in task:
                    yield writer.run_group(group)
        finally:
            writer.close()
        return
    ctx = _context()
    with ctx.Pool(min(workers, len(todo)), initializer=init_worker, initargs=(config,)) as pool:
        for results in pool.imap(run_task, todo):
            yield from results
