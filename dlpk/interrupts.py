"""Stopping a run on SIGTERM and SIGHUP as on Ctrl-C.

A scheduler, `timeout` or a closed terminal stops a process with SIGTERM or SIGHUP, whose
default action ends it on the spot: scratch folders, staging folders and a runner subprocess or
container would be left behind. Inside `stop_on_signals` they raise `Terminated`, a
KeyboardInterrupt, so every cleanup that runs for Ctrl-C (finally blocks, context managers, a
checkpoint kept for --resume) runs for them too. Importable from anywhere: it imports nothing
of ours.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

#: Signals that stop a run as Ctrl-C does (SIGHUP exists on POSIX only).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: How long a stopped runner (a local process, a container) has to clean up before SIGKILL.
STOP_GRACE_SECONDS = 10.0


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: the run stops and cleans up as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_exit_code(stop: KeyboardInterrupt) -> int:
    """The shell's status for a process ended by the signal: 128 + its number (130 Ctrl-C,
    143 SIGTERM, 129 SIGHUP)."""
    return 128 + (stop.signum if isinstance(stop, Terminated) else signal.SIGINT)


def stop_reason(stop: KeyboardInterrupt) -> str:
    """What stopped the run, for its last line: "interrupted" (Ctrl-C), "stopped by SIGTERM"."""
    if isinstance(stop, Terminated):
        return f"stopped by {signal.Signals(stop.signum).name}"
    return "interrupted"


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """For the block, SIGTERM and SIGHUP raise Terminated (and SIGINT KeyboardInterrupt, as
    always) in the main thread, once: a signal that arrives while the first one's cleanup runs
    is ignored, so that cleanup is not cut short. A signal the process was started ignoring
    (`nohup` ignores SIGHUP) stays ignored. Outside the main thread nothing changes (Python
    runs signal handlers only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if stopping:
            return
        stopping.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    previous: dict[signal.Signals, Any] = {}
    for signum in (signal.SIGINT, *STOP_SIGNALS):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, stop)
    try:
        yield
    except KeyboardInterrupt as exc:
        # Native code between the handler and here may raise a plain KeyboardInterrupt in
        # place of ours (Ray's ray.wait does): the signal that came still names the stop.
        if stopping and stopping[0] != signal.SIGINT and not isinstance(exc, Terminated):
            terminated = Terminated(stopping[0])
            for note in getattr(exc, "__notes__", []):
                terminated.add_note(note)
            raise terminated from exc
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def handlers_kept() -> Iterator[None]:
    """Put back this process's Python handlers of SIGINT, SIGTERM and SIGHUP after the block.

    A native library may install C-level handlers of its own without Python noticing: Ray's
    core worker, started by `ray.init`, exits with status 1 and a stack dump on SIGTERM, so a
    stopped driver would leave its workers running and its scratch behind."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in saved.items():
                if handler is not None:
                    signal.signal(signum, handler)


def worker_signals() -> None:
    """In a worker process of a pool: Ctrl-C reaches the whole process group, but only the
    parent should stop (it then terminates the pool), and a worker ends at once on the SIGTERM
    the pool's terminate() sends, without a traceback; handlers inherited through fork are
    undone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
