"""Rebuild the bundled sample packages: `python examples/build_examples.py` (needs `onnx`).

landcover/   a tiny real ONNX pixel classifier (3 bands in, background + 2 classes out) with a
             clean .emd; packed to landcover.dlpk by `dlpk pack`.
esri-doc-example.dlpk
             the .emd example from Esri's documentation, as users copy it: ModelType
             "ObjectionDetection" and a ModelFile the package does not hold.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dlpk.packaging.pack import FIXED_DATE, pack_folder

HERE = Path(__file__).parent


def landcover_model() -> onnx.ModelProto:
    """A 1x1 convolution: pixels -> 3 class scores; deterministic weights."""
    rng = np.random.default_rng(7)
    weight = rng.normal(size=(3, 3, 1, 1)).astype(np.float32)
    bias = np.zeros(3, dtype=np.float32)
    node = helper.make_node("Conv", ["image", "weight", "bias"], ["scores"])
    graph = helper.make_graph(
        [node],
        "landcover",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 256, 256])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3, 256, 256])],
        [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    onnx.save(landcover_model(), HERE / "landcover" / "landcover.onnx")
    pack_folder(HERE / "landcover", HERE / "landcover.dlpk", overwrite=True)
    emd = (HERE / "esri-doc-example" / "tree_detection.emd").read_bytes()
    info = zipfile.ZipInfo("tree_detection.emd", date_time=FIXED_DATE)
    with zipfile.ZipFile(HERE / "esri-doc-example.dlpk", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(info, emd)


if __name__ == "__main__":
    main()
