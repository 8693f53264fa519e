"""The check registry: one stable id per check, never renumbered (as lint's rule codes).

Model checks are CFnnn by family (CF1 package, CF2 contract, CF3 tiling, CF4 repeatability,
CF5 nodata and edges, CF6 detectors, CF7 tile size, CF8 parity, CF9 cost); runner cases are
RCnnn (RC1 a valid job, RC2 invalid jobs, RC3 bad input, RC4 model errors, RC5 a killed job).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dlpk.errors import UsageError

if TYPE_CHECKING:
    from dlpk.conformance.context import ModelContext
    from dlpk.conformance.runner.context import RunnerContext

Context = TypeVar("Context")


@dataclass(frozen=True)
class Check(Generic[Context]):
    """A named check: `proves` is the one line `dlpk conformance --list` shows."""

    id: str
    name: str
    group: str
    proves: str
    run: Callable[[Context], Any]


class Registry(Generic[Context]):
    """Checks by id, in id order; `register` is the decorator the check modules use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._checks: dict[str, Check[Context]] = {}

    def register(
        self, check_id: str, name: str, proves: str
    ) -> Callable[[Callable[[Context], Any]], Callable[[Context], Any]]:
        def decorate(function: Callable[[Context], Any]) -> Callable[[Context], Any]:
            if check_id in self._checks:
                raise ValueError(f"check id {check_id} registered twice")
            group = name.split(".", 1)[0]
            self._checks[check_id] = Check(check_id, name, group, proves, function)
            return function

        return decorate

    def all(self) -> list[Check[Context]]:
        return [self._checks[key] for key in sorted(self._checks)]

    def chosen(
        self, select: Iterable[str] | None = None, ignore: Iterable[str] | None = None
    ) -> list[Check[Context]]:
        """The checks whose id or name starts with one of `select` (all when empty), less
        those matching `ignore`; an entry matching no check is a usage error."""
        picks, drops = list(select or []), list(ignore or [])
        for entry in (*picks, *drops):
            if not any(_matches(check, entry) for check in self._checks.values()):
                raise UsageError(
                    f"no {self.kind} check matches {entry!r}",
                    "see `dlpk conformance --list` for the ids and names",
                )
        return [
            check
            for check in self.all()
            if (not picks or any(_matches(check, p) for p in picks))
            and not any(_matches(check, d) for d in drops)
        ]


def _matches(check: Check[Any], entry: str) -> bool:
    return check.id.startswith(entry.upper()) or check.name.startswith(entry)


#: The model checks (dlpk/conformance/checks/) and the runner cases (dlpk/conformance/runner/).
MODEL_CHECKS: Registry[ModelContext] = Registry("model")
RUNNER_CASES: Registry[RunnerContext] = Registry("runner")
