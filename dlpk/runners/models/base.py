"""What every adapter offers, and the shared way to import an optional framework."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import DlpkError, FrameworkMissingError, ModelError
from dlpk.spec.configurations import FRAMEWORK_EXTRAS
from dlpk.spec.graph_ops import TRUST_HINT, refusal

DEVICES = ("cpu", "gpu", "auto")


class Adapter(Protocol):
    """A loaded model: float32 NCHW batch in, the model's outputs (as numpy) out, in order."""

    device: str

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]: ...


def import_framework(module: str, framework: str) -> ModuleType:
    """Import `module` or fail with the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = FRAMEWORK_EXTRAS.get(framework, framework.lower())
        raise FrameworkMissingError(
            f"{framework} models need {module}, which is not installed",
            f"pip install 'dlpk[{extra}]'",
        ) from exc


def one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception, for a one-line error message."""
    if isinstance(exc, DlpkError):
        return str(exc)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def refuse_side_effects(path: Path, ops: Sequence[str]) -> None:
    """Raise the one refusal for a graph holding ops that are not allowed without trust."""
    if ops:
        raise ModelError(refusal(path.name, ops), TRUST_HINT)
