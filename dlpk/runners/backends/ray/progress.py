"""One progress report from many shares: each share's out/progress.jsonl is tailed, and every
stage is reported as the sum of the shares' counts (its total once every share has said its
own). A share started again after its worker was lost (one more line in its attempts file,
written once its old records are gone) is counted afresh."""

from __future__ import annotations

from pathlib import Path

from dlpk.runners.backends.ray.worker import attempts
from dlpk.runners.progress import Progress, relay_progress


class SharedProgress:
    """Tails the shares' progress files; `poll` passes the summed records on."""

    def __init__(self, jobdirs: list[Path], listener: Progress | None) -> None:
        self.jobdirs = jobdirs
        self.paths = [jobdir / "out" / "progress.jsonl" for jobdir in jobdirs]
        self.listener = listener
        self.offsets = [0] * len(jobdirs)
        self.starts = [0] * len(jobdirs)
        self.latest: list[dict[str, tuple[int, int | None]]] = [{} for _ in jobdirs]
        self.reported: dict[str, tuple[int, int | None]] = {}
        self.stages: dict[str, None] = {}  # in the order first heard

    def poll(self) -> None:
        if self.listener is None:
            return
        changed: set[str] = set()
        for number, path in enumerate(self.paths):
            self._restart_if_new(number, path)

            def note(stage: str, done: int, total: int | None, number: int = number) -> None:
                self.latest[number][stage] = (done, total)
                self.stages.setdefault(stage)
                changed.add(stage)

            self.offsets[number] = relay_progress(path, self.offsets[number], note)
        for stage in [stage for stage in self.stages if stage in changed]:
            self._report(stage)

    def _restart_if_new(self, number: int, path: Path) -> None:
        """A share started again writes a new progress file: read it from its start."""
        starts = len(attempts(self.jobdirs[number]))
        if starts != self.starts[number]:
            self.starts[number] = starts
            self.offsets[number] = 0
            self.latest[number] = {}

    def _report(self, stage: str) -> None:
        assert self.listener is not None
        seen = [latest[stage] for latest in self.latest if stage in latest]
        done = sum(each[0] for each in seen)
        totals = [each[1] for each in seen]
        total = None
        if len(seen) == len(self.latest) and all(t is not None for t in totals):
            total = sum(t for t in totals if t is not None)
        if self.reported.get(stage) != (done, total):
            self.reported[stage] = (done, total)
            self.listener(stage, done, total)
