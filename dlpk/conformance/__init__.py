"""Conformance kits: does a model package really work, and does a runner keep the job contract?

`model_kit.run_model_checks` runs the CFnnn checks against a package (through the same tasks
`dlpk classify-pixels` and friends run); `runner.kit.run_runner_cases` runs the RCnnn cases
against a runner image or command. Both return a `dlpk.spec.conformance.ConformanceReport`,
rendered by `reporters` (text, json, junit, markdown). See docs/conformance.md.

`dlpk.conformance(...)` is also the public API function (dlpk/api.py). Importing this package
sets `dlpk.conformance` to the package itself, so the package is callable and calls that
function: `dlpk.conformance(PKG)` works whether or not the kits were imported before.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any


class _CallableKits(ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dlpk.api import conformance

        return conformance(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableKits
