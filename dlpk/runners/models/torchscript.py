"""TorchScript models through torch.jit.load; never a full unpickle unless the user trusts it.

Without trust an archive whose code can reach an op with side effects (`aten::save`,
`aten::from_file`, an op of an unknown namespace; dlpk/spec/graph_ops.py) is refused: first
from its code, parsed as text, since torch.jit.load already runs a module's `__setstate__`;
then from the loaded module's graphs.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.models.base import import_framework, one_line, refuse_side_effects
from dlpk.spec.graph_ops.torchscript import torchscript_archive_ops, torchscript_module_ops


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


@dataclass
class TorchScriptAdapter:
    module: Any
    device: str
    torch: Any

    @classmethod
    def load(cls, path: Path, device: str, trust_code: bool = False) -> TorchScriptAdapter:
        torch = import_framework("torch", "TorchScript")
        cuda = bool(torch.cuda.is_available())
        if device == "gpu" and not cuda:
            raise ModelError("--device gpu: torch sees no CUDA device here")
        target = "cuda" if device in ("gpu", "auto") and cuda else "cpu"
        if _is_torchscript(path):
            if not trust_code:
                refuse_side_effects(path, torchscript_archive_ops(path, torch))
            module = cls._jit(torch, path, target)
            if not trust_code:
                refuse_side_effects(path, cls._graph_ops(torch, path, module))
        elif trust_code:
            module = cls._pickle(torch, path, target)
        else:
            raise ModelError(
                f"{path.name} is not a TorchScript archive",
                "export it with torch.jit.script or torch.jit.trace; a pickled module runs only "
                "with --trust-code",
            )
        module.eval()
        return cls(module, "gpu" if target == "cuda" else "cpu", torch)

    @staticmethod
    def _jit(torch: Any, path: Path, target: str) -> Any:
        try:
            return torch.jit.load(str(path), map_location=target)
        except Exception as exc:
            raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc

    @staticmethod
    def _graph_ops(torch: Any, path: Path, module: Any) -> list[str]:
        try:
            return torchscript_module_ops(module, torch)
        except Exception as exc:  # a graph torch's own API cannot walk is not run either
            raise ModelError(f"{path.name} could not be checked ({one_line(exc)})") from exc

    @staticmethod
    def _pickle(torch: Any, path: Path, target: str) -> Any:
        try:
            loaded = torch.load(str(path), map_location=target, weights_only=False)
        except Exception as exc:
            raise ModelError(f"{path.name} could not be loaded ({one_line(exc)})") from exc
        if not isinstance(loaded, torch.nn.Module):
            raise ModelError(
                f"{path.name} holds {type(loaded).__name__}, not a runnable module",
                "a state dict needs its architecture code: export the model with torch.jit.script",
            )
        return loaded

    def forward(self, batch: NDArray[np.float32]) -> list[NDArray[np.generic]]:
        torch = self.torch
        device = "cuda" if self.device == "gpu" else "cpu"
        try:
            with torch.inference_mode():
                result = self.module(torch.from_numpy(batch).to(device))
        except Exception as exc:
            raise ModelError(
                f"the model failed on a {batch.shape} batch ({one_line(exc)})"
            ) from exc
        outputs = list(result) if isinstance(result, tuple | list) else [result]
        return [np.asarray(output.detach().cpu().numpy()) for output in outputs]
