"""What a model graph may hold to run without --trust-code: side-effect-free operations only.

A model graph is code: TensorFlow has ops that read and write files (`ReadFile`, `WriteFile`,
`SaveV2`), call Python (`PyFunc`, `EagerPyFunc`) or talk to other machines; TorchScript has
`aten::save` and `aten::from_file`; an ONNX model can name custom-domain ops or external data
(bytes read from any file the model names). A graph is accepted only when every op it holds is
on the allow-list of its framework; anything else is refused outside a container unless the
user trusts the package. Nothing here runs a graph: TensorFlow and ONNX graphs are read as
protobuf messages, a TorchScript archive's code is parsed as text before `torch.jit.load`
(which runs a module's `__setstate__`), and a loaded module's graphs are only walked.

Both `dlpk lint --deep` (DL808) and the runner's adapters ask the functions here, so this
module imports nothing of dlpk and no framework at import time: the callers hand in parsed
protobuf messages, a loaded module, or a path, and the framework module when one is needed.

- TensorFlow: every node of the GraphDef and of every function in its library (SavedModel:
  every meta graph) must be in TENSORFLOW_OPS, the ops of inference graphs (math, nn, array,
  image, control flow, variables held in memory, random, in-memory strings and parsing). The
  checkpoint ops in CHECKPOINT_OPS are allowed only in a SavedModel's saver: the nodes its
  saver_def names, their inputs and the functions only they call, which nothing served,
  initialised or restored as an object depends on.
- ONNX: every node is a (domain, op_type) of the standard domains ("", "ai.onnx",
  "ai.onnx.ml") known to onnx's schema registry, or a call of a function the model defines
  whose own nodes pass; no tensor, anywhere in the model, keeps its data outside the file.
- TorchScript: only ops of TORCH_NAMESPACES and custom classes of TORCH_CLASS_NAMESPACES, and
  none of the ops that touch files or other machines (`aten::save`, `aten::from_file`,
  `prim::rpc_*`, and any op whose schema takes a file name or address).
"""

from __future__ import annotations

from collections.abc import Iterable

#: The fix named with every refusal.
TRUST_HINT = (
    "run it in a container (--backend docker) or pass --trust-code if you trust this package"
)


def describe(ops: Iterable[str], limit: int = 6) -> str:
    """`a, b, c and 4 more`: the offending ops for a one-line message, sorted."""
    names = sorted(set(ops))
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def refusal(name: str, ops: Iterable[str]) -> str:
    """The one line every refusal starts with."""
    return f"{name} holds operations with side effects ({describe(ops)}); it was not loaded"
