"""Hostile model graphs: a graph is code, and file, process or network ops in it are refused.

Every model here is built in tmp_path and packed as a .dlpk with an .emd. Each hostile one reads
a secret file or writes a file of its choosing when it runs; without --trust-code (in this
process, the default backend) `dlpk.lint(deep=True)` reports DL808 naming the ops, and
`dlpk.classify_pixels` raises ModelError (exit 4) naming them before the model is loaded, so
nothing is read, written or output. With trust_code it runs, which shows the model really does
what it is refused for.

TorchScript does reach files from scripted code: `torch.save` compiles to `aten::save` (a
pickle written to any path) and `torch.from_file` to `aten::from_file` (any file mapped into a
tensor). `torch.jit.load` also runs a module's `__setstate__`, so an archive's code is checked
as text before it is loaded, by lint and by the runner alike.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

import dlpk
from dlpk.errors import ModelError
from dlpk.spec.graph_ops import onnx as onnx_graph_ops
from dlpk.spec.graph_ops import tensorflow as tf_ops
from dlpk.spec.graph_ops import torchscript as ts_ops
from tests.inference_models import conv_stack, emd, package, save_onnx, seeded_rgb, write_raster
from tests.tensorflow_models import deeplab_frozen_graph, object_detection_saved_model

SECRET = "s3cr3t-passwd-line-0123456789"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret" / "passwd"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """Where a hostile graph writes; never inside the folders a run writes to."""
    path = tmp_path / "elsewhere" / "pwned.txt"
    path.parent.mkdir()
    return path


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))


def deeplab_emd(model_file: str) -> dict[str, Any]:
    document = emd(model_file, "TensorFlow", "PixelClassifier")
    document["ModelConfiguration"] = "DeepLab"
    return document


def side_effect_errors(model: Path) -> list[str]:
    report = dlpk.lint(model, deep=True)
    return [d.message for d in report.errors if d.code == "DL808"]


def assert_linted(model: Path, *ops: str) -> None:
    [message] = side_effect_errors(model)
    assert all(op in message for op in ops), message
    assert "--trust-code" in message and "\n" not in message


def assert_refused(model: Path, raster: Path, output: Path, *ops: str) -> None:
    with pytest.raises(ModelError) as caught:
        dlpk.classify_pixels(model, raster, output)
    message = str(caught.value)
    assert caught.value.exit_code == 4 and "\n" not in message
    assert all(op in message for op in ops), message
    assert "--backend docker" in message and "--trust-code" in message
    assert not output.exists()
    assert not list(output.parent.glob(f"*{output.stem}*"))


def outputs_hold(folder: Path, text: str) -> bool:
    return any(text.encode() in path.read_bytes() for path in folder.rglob("*") if path.is_file())


# -- TensorFlow -------------------------------------------------------------------------------


def _graph_reading(tf: Any, secret: Path) -> Any:
    """DeepLab's tensors; every pixel is Value min(len(secret), 5): the output needs the file."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name="ImageTensor")
        length = tf.strings.length(tf.io.read_file(str(secret)))
        band = tf.cast(image[..., 0], tf.int32)
        tf.identity(tf.zeros_like(band) + tf.minimum(length, 5), name="SemanticPredictions")
    return graph.as_graph_def()


def _graph_writing(tf: Any, target: Path) -> Any:
    """DeepLab's tensors, all background, once WriteFile has written `target`."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name="ImageTensor")
        written = tf.io.write_file(str(target), "pwned")
        with tf.control_dependencies([written]):
            band = tf.cast(image[..., 0], tf.int32)
            tf.identity(band * 0, name="SemanticPredictions")
    return graph.as_graph_def()


def test_frozen_graph_reading_a_file(tmp_path: Path, secret: Path, raster: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "model.pb").write_bytes(_graph_reading(tf, secret).SerializeToString())
    model = package(folder, deeplab_emd("model.pb"))
    shutil.rmtree(folder)  # only the package is run

    assert_linted(model, "ReadFile")
    output = tmp_path / "out" / "classes.tif"
    output.parent.mkdir()
    assert_refused(model, raster, output, "ReadFile")
    assert not outputs_hold(tmp_path / "out", SECRET)

    dlpk.classify_pixels(model, raster, output, trust_code=True)
    with rasterio.open(output) as result:
        assert np.all(result.read(1) == 5)  # Value 5: the graph read the secret's length


def test_frozen_graph_writing_a_file(tmp_path: Path, target: Path, raster: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    folder = tmp_path / "writer"
    folder.mkdir()
    (folder / "model.pb").write_bytes(_graph_writing(tf, target).SerializeToString())
    model = package(folder, deeplab_emd("model.pb"))

    assert_linted(model, "WriteFile")
    assert not target.exists()  # lint never runs a graph
    assert_refused(model, raster, tmp_path / "out.tif", "WriteFile")
    assert not target.exists()

    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert target.read_text() == "pwned"


def _hostile_saved_model(tf: Any, folder: Path, secret: Path, target: Path) -> None:
    """A DeepLab SavedModel whose tf.function copies the secret into `target`."""

    class Copier(tf.Module):
        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="ImageTensor")]
        )
        def predict(self, image: Any) -> dict[str, Any]:
            tf.io.write_file(str(target), tf.io.read_file(str(secret)))
            return {"SemanticPredictions": tf.cast(image[..., 0], tf.int32) * 0}

    module = Copier()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.predict})


def test_saved_model_copying_a_file(
    tmp_path: Path, secret: Path, target: Path, raster: Path
) -> None:
    tf = pytest.importorskip("tensorflow")
    folder = tmp_path / "copier"
    _hostile_saved_model(tf, folder / "saved_model", secret, target)
    model = package(folder, deeplab_emd("saved_model/saved_model.pb"))

    assert_linted(model, "ReadFile", "WriteFile")
    assert_refused(model, raster, tmp_path / "out.tif", "ReadFile", "WriteFile")
    assert not target.exists()

    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert target.read_text() == SECRET


def test_benign_tensorflow_models_pass(tmp_path: Path) -> None:
    """The graphs the supported configurations export hold no refused op: a frozen DeepLab
    graph, an Object Detection API SavedModel, a Keras export and a TF1 SavedModel (both with
    variables, so with a saver that writes and restores checkpoints)."""
    tf = pytest.importorskip("tensorflow")
    from tests.tensorflow_models import keras_segmenter

    folder = tmp_path / "deeplab"
    folder.mkdir()
    deeplab_frozen_graph(folder / "model.pb")
    assert side_effect_errors(package(folder, deeplab_emd("model.pb"))) == []
    folder = tmp_path / "odapi"
    object_detection_saved_model(folder / "saved_model")
    document = emd("saved_model/saved_model.pb", "TensorFlow", "ObjectDetector")
    document["ModelConfiguration"] = "ObjectDetectionAPI"
    assert side_effect_errors(package(folder, document)) == []
    keras_segmenter().export(str(tmp_path / "keras"), verbose=False)
    keras = tf_ops.read_saved_model(tmp_path / "keras")
    assert {"SaveV2", "RestoreV2"} <= _library_ops(keras)  # its saver, allowed there only
    assert tf_ops.saved_model_ops(keras) == []
    v1 = _tf1_saved_model(tf, tmp_path / "v1")
    assert tf_ops.saved_model_ops(v1) == []


def _library_ops(saved_model: Any) -> set[str]:
    return {
        node.op
        for meta in saved_model.meta_graphs
        for function in meta.graph_def.library.function
        for node in function.node_def
    }


def _tf1_saved_model(tf: Any, folder: Path) -> Any:
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name="ImageTensor")
        limit = tf.compat.v1.Variable(127, dtype=tf.int32, name="limit")
        out = tf.identity(tf.cast(tf.cast(image[..., 0], tf.int32) > limit, tf.int32), name="out")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(folder))
            signature = tf.compat.v1.saved_model.predict_signature_def(
                {"ImageTensor": image}, {"SemanticPredictions": out}
            )
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature}
            )
            builder.save()
    return tf_ops.read_saved_model(folder)


def test_checkpoint_ops_outside_the_saver_are_refused(tmp_path: Path) -> None:
    """SaveV2 writes a checkpoint to any prefix: allowed only where nothing served reaches it."""
    tf = pytest.importorskip("tensorflow")
    v1 = _tf1_saved_model(tf, tmp_path / "v1")
    meta = v1.meta_graphs[0]
    meta.signature_def["serving_default"].outputs["leak"].name = meta.saver_def.save_tensor_name
    assert "SaveV2" in tf_ops.saved_model_ops(v1)

    class Saver(tf.Module):
        def __init__(self) -> None:
            self.weights = tf.Variable([1.0])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def predict(self, x: Any) -> Any:
            tf.raw_ops.SaveV2(
                prefix=str(tmp_path / "ckpt"),
                tensor_names=["w"],
                shape_and_slices=[""],
                tensors=[self.weights],
            )
            return x

    module = Saver()
    tf.saved_model.save(module, str(tmp_path / "tf2"), signatures=module.predict)
    assert tf_ops.saved_model_ops(tf_ops.read_saved_model(tmp_path / "tf2")) == ["SaveV2"]


def test_tensorflow_allow_list() -> None:
    """Every allowed op is a registered op (no typos), and none does I/O or calls out
    (ShardedFilename only formats a checkpoint shard's name)."""
    pytest.importorskip("tensorflow")
    from tensorflow.python.framework import op_def_registry

    assert [op for op in sorted(tf_ops.TENSORFLOW_OPS) if not op_def_registry.get(op)] == []
    io = re.compile(
        r"(?<!Sharded)File|Save|Restore|Checkpoint|PyFunc|Reader|Writer|Print|Debug|Dataset|Iterator|"
        r"Summary|Rpc|Send$|Recv$|Collective|Nccl|Queue|Immutable|Abort|Remote|Infeed|"
        r"Outfeed|TPU|Xla|Load|^Copy"
    )
    assert [op for op in sorted(tf_ops.TENSORFLOW_OPS) if io.search(op)] == []
    for op in ("ReadFile", "WriteFile", "MatchingFiles", "PyFunc", "EagerPyFunc", "PrintV2"):
        assert op not in tf_ops.TENSORFLOW_OPS


# -- ONNX -------------------------------------------------------------------------------------


def _onnx_model(onnx: Any, custom: bool = False) -> Any:
    """A 1x1 convolution, 3 bands in, 2 classes out; `custom` adds a com.evil node."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "W")
    bias = numpy_helper.from_array(np.zeros(2, np.float32), "B")
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"])]
    nodes.append(
        helper.make_node("Leak", ["c"], ["y"], domain="com.evil")
        if custom
        else helper.make_node("Identity", ["c"], ["y"])
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [weight, bias],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.evil", 1)] * custom)
    return helper.make_model(graph, opset_imports=opsets)


def _onnx_package(onnx: Any, folder: Path, model: Any) -> Path:
    folder.mkdir(exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    return package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))


def test_onnx_custom_domain_op(tmp_path: Path, raster: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    model = _onnx_package(onnx, tmp_path / "custom", _onnx_model(onnx, custom=True))
    assert_linted(model, "com.evil::Leak")
    assert_refused(model, raster, tmp_path / "out.tif", "com.evil::Leak")


def test_onnx_external_data_naming_any_file(tmp_path: Path, secret: Path, raster: Path) -> None:
    """External data is bytes read from whatever file the model names: here the secret."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    proto = _onnx_model(onnx)
    bias = proto.graph.initializer[1]
    bias.ClearField("raw_data")
    bias.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", str(secret)), ("offset", "0"), ("length", "8")):
        bias.external_data.add(key=key, value=value)
    model = _onnx_package(onnx, tmp_path / "external", proto)
    assert_linted(model, "external data", str(secret))
    output = tmp_path / "out" / "classes.tif"
    output.parent.mkdir()
    assert_refused(model, raster, output, "external data")
    assert not outputs_hold(tmp_path / "out", SECRET)


def test_onnx_external_data_runs_with_trust(tmp_path: Path, raster: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "weights"
    folder.mkdir()
    onnx.save_model(
        _onnx_model(onnx),
        str(folder / "model.onnx"),
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    model = package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))
    assert_linted(model, "external data (weights.bin)")
    assert_refused(model, raster, tmp_path / "out.tif", "external data (weights.bin)")
    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert (tmp_path / "out.tif").exists()


def test_benign_onnx_and_torchscript_models_pass(tmp_path: Path, raster: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    from tests.inference_models import make_detector, save_onnx_detector, save_torchscript

    folder = tmp_path / "onnx"
    folder.mkdir()
    save_onnx(conv_stack(3, 2), folder / "model.onnx", 3)
    save_onnx_detector(make_detector(), folder / "detector.onnx", 32)
    assert onnx_graph_ops.onnx_ops(onnx.load(str(folder / "detector.onnx")), onnx) == []
    model = package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))
    assert side_effect_errors(model) == []
    dlpk.classify_pixels(model, raster, tmp_path / "onnx.tif")

    folder = tmp_path / "torchscript"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        save_torchscript(conv_stack(3, 2), folder / "model.pt")
        save_torchscript(make_detector(), folder / "detector.pt")
        traced = torch.jit.trace(conv_stack(3, 2), torch.zeros(1, 3, 8, 8))
    traced.save(str(folder / "traced.pt"))
    for name in ("detector.pt", "traced.pt"):
        assert ts_ops.torchscript_archive_ops(folder / name, torch) == []
        loaded = torch.jit.load(str(folder / name))
        assert ts_ops.torchscript_module_ops(loaded, torch) == []
    model = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    assert side_effect_errors(model) == []
    dlpk.classify_pixels(model, raster, tmp_path / "torchscript.tif")


# -- TorchScript ------------------------------------------------------------------------------


def _script(module: Any, path: Path) -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(str(path))
    return path


def _torchscript_package(folder: Path, module: Any) -> Path:
    folder.mkdir()
    _script(module, folder / "model.pt")
    return package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))


def test_torchscript_file_ops(tmp_path: Path, secret: Path, target: Path, raster: Path) -> None:
    torch = pytest.importorskip("torch")

    class Copier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.secret, self.target, self.size = str(secret), str(target), len(SECRET)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            leaked = torch.from_file(self.secret, False, self.size, dtype=torch.uint8)
            torch.save(leaked, self.target)
            return torch.zeros_like(x[:, :2])

    model = _torchscript_package(tmp_path / "copier", Copier())
    assert_linted(model, "aten::from_file", "aten::save")
    assert_refused(model, raster, tmp_path / "out.tif", "aten::from_file", "aten::save")
    assert not target.exists()

    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert SECRET.encode() in target.read_bytes()


def test_torchscript_setstate_runs_on_load(tmp_path: Path, target: Path, raster: Path) -> None:
    """torch.jit.load runs __setstate__: lint --deep and the runner refuse before loading."""
    torch = pytest.importorskip("torch")

    class OnLoad(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = torch.zeros(1)
            self.target = str(target)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(x[:, :2])

        @torch.jit.export
        def __getstate__(self) -> tuple[torch.Tensor, bool, str]:
            return (self.weights, self.training, self.target)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, bool, str]) -> None:
            self.weights, self.training, self.target = state
            torch.save(self.weights, self.target)

    model = _torchscript_package(tmp_path / "onload", OnLoad())
    assert not target.exists()  # scripting and saving do not run __setstate__
    assert_linted(model, "aten::save")
    assert not target.exists()
    assert_refused(model, raster, tmp_path / "out.tif", "aten::save")
    assert not target.exists()

    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert target.exists()


@pytest.fixture
def custom_op() -> Iterator[str]:
    """An op of an unknown namespace, registered in this process only (as a library loaded
    with torch.ops.load_library would be)."""
    torch = pytest.importorskip("torch")
    library = torch.library.Library("dlpk_hostile", "DEF")
    library.define("leak(Tensor x) -> Tensor")
    library.impl("leak", lambda x: x * 0, "CompositeExplicitAutograd")
    yield "dlpk_hostile::leak"
    del library


def test_torchscript_unknown_namespace(tmp_path: Path, raster: Path, custom_op: str) -> None:
    torch = pytest.importorskip("torch")

    class Custom(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.dlpk_hostile.leak(x[:, :2])

    model = _torchscript_package(tmp_path / "custom", Custom())
    assert_linted(model, custom_op)
    assert_refused(model, raster, tmp_path / "out.tif", custom_op)
    dlpk.classify_pixels(model, raster, tmp_path / "out.tif", trust_code=True)
    assert (tmp_path / "out.tif").exists()


def test_torchscript_code_that_hides_a_name(tmp_path: Path) -> None:
    """A hand-edited archive: getattr with a computed name, or code that does not parse, is
    refused before anything is loaded."""
    torch = pytest.importorskip("torch")
    import zipfile

    archive = _script(conv_stack(3, 2), tmp_path / "plain.pt")
    assert ts_ops.torchscript_archive_ops(archive, torch) == []
    for name, edit in (
        ("computed.pt", "  def helper(self, x: str) -> bool:\n    return hasattr(x, x)\n"),
        ("garbled.pt", "  def (((\n"),
    ):
        edited = tmp_path / name
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(edited, "w") as out:
            for info in source.infolist():
                data = source.read(info)
                if info.filename.endswith(".py") and b"class Sequential" in data:
                    data += edit.encode()
                out.writestr(info, data)
        assert ts_ops.torchscript_archive_ops(edited, torch) != []
