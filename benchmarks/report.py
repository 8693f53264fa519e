"""Shared by the benchmark scripts: the command line as typed, and their sections of RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def command_line() -> str:
    """The command line as typed from the repository root (interpreter shown relative)."""

    def shown(path: Path, fallback: str) -> str:
        return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT) else fallback

    script = Path(sys.argv[0]).resolve()
    return shlex.join(
        [shown(Path(sys.executable), "python"), shown(script, str(script)), *sys.argv[1:]]
    )


def run_line() -> str:
    """`Run <command> on <date> (<machine>).`, the first line of every section."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    return f"Run `{command_line()}` on {when} ({machine})."


def write_section(section: str, body: list[str], header: str, results: Path = RESULTS) -> None:
    """Replace (or append) the `section` heading's part of RESULTS.md, keeping the others."""
    text = results.read_text(encoding="utf-8") if results.exists() else header
    start = text.find(f"\n{section}\n")
    if start == -1:
        before, after = text.rstrip("\n") + "\n", ""
    else:
        before = text[:start].rstrip("\n") + "\n"
        following = text.find("\n## ", start + len(section) + 2)
        after = text[following + 1 :] if following != -1 else ""
    block = "\n".join([section, "", *body]).rstrip("\n") + "\n"
    results.write_text(before + "\n" + block + ("\n" + after if after else ""), "utf-8")


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` timed calls, in seconds: the least disturbed by other work."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
