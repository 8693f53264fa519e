"""What a check returns: its status, a one-line summary, the evidence and the fix."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dlpk.spec.conformance import Status


@dataclass
class Outcome:
    status: Status
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str | None = None
    artifacts: list[str] = field(default_factory=list)


def plain(value: Any) -> Any:
    """Evidence as plain JSON values: numpy scalars and arrays become numbers and lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):  # not JSON numbers
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


class NotApplicable(Exception):
    """Raised by a check that cannot say anything here; its message is the reason."""


def passed(summary: str, **evidence: Any) -> Outcome:
    return Outcome("pass", summary, evidence)


def failed(summary: str, fix: str | None, **evidence: Any) -> Outcome:
    return Outcome("fail", summary, evidence, fix)


def warned(summary: str, fix: str | None, **evidence: Any) -> Outcome:
    return Outcome("warn", summary, evidence, fix)


def skipped(reason: str, **evidence: Any) -> Outcome:
    return Outcome("skip", reason, evidence)
