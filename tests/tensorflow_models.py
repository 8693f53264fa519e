"""Tiny TensorFlow and Keras models built at test time: Keras segmenter and chip classifier,
an Object Detection API style SavedModel and a DeepLab style frozen graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

BRIGHT = 200  # the detector finds pixels of this value in band 1


def keras_segmenter(seed: int = 0) -> Any:
    """Two 3x3 'same' convolutions (receptive radius 2), 3 bands in, 2 class channels out."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(2, 3, padding="same")(hidden)
    return keras.Model(inputs, outputs)


def keras_chip_classifier() -> Any:
    """Scores [m, -m] from the chip's mean m: bright chips are class 1, dark ones class 2."""
    import keras

    inputs = keras.Input(shape=(16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2)
    outputs = dense(pooled)
    dense.set_weights([np.array([[1.0, -1.0]] * 3, dtype=np.float32) / 3, np.zeros(2, "f4")])
    return keras.Model(inputs, outputs)


def keras_with_lambda() -> Any:
    import keras

    inputs = keras.Input(shape=(None, None, 3))
    outputs = keras.layers.Lambda(lambda x: x[..., :2] * 2.0)(inputs)
    return keras.Model(inputs, outputs)


def object_detection_saved_model(folder: Path) -> Path:
    """A SavedModel with the Object Detection API's tensors: one box per tile around the
    pixels of band 1 equal to BRIGHT (uint8, so it fails if the input was normalised)."""
    import tensorflow as tf

    class Detector(tf.Module):
        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="image_tensor")]
        )
        def detect(self, image_tensor: Any) -> dict[str, Any]:
            hit = tf.equal(image_tensor[..., 0], BRIGHT)
            rows, cols = tf.reduce_any(hit, axis=2), tf.reduce_any(hit, axis=1)
            height = tf.cast(tf.shape(rows)[1], tf.float32)
            width = tf.cast(tf.shape(cols)[1], tf.float32)

            def span(flags: Any, size: Any) -> tuple[Any, Any]:
                first = tf.cast(tf.argmax(tf.cast(flags, tf.int32), axis=1), tf.float32)
                backwards = tf.reverse(flags, axis=[1])
                last = size - tf.cast(tf.argmax(tf.cast(backwards, tf.int32), axis=1), tf.float32)
                return first / size, last / size

            ymin, ymax = span(rows, height)
            xmin, xmax = span(cols, width)
            found = tf.reduce_any(hit, axis=[1, 2])
            boxes = tf.stack([ymin, xmin, ymax, xmax], axis=1)[:, tf.newaxis, :]
            return {
                "detection_boxes": tf.concat([boxes, tf.zeros_like(boxes)], axis=1),
                "detection_scores": tf.stack(
                    [tf.where(found, 0.9, 0.0), tf.zeros_like(ymin)], axis=1
                ),
                "detection_classes": tf.ones_like(tf.stack([ymin, ymin], axis=1)),
                "num_detections": tf.cast(found, tf.float32),
            }

    module = Detector()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.detect})
    return folder / "saved_model.pb"


def deeplab_frozen_graph(path: Path, limits: tuple[int, ...] = (63, 127)) -> Path:
    """A frozen GraphDef with DeepLab's tensors: each pixel's prediction is how many of `limits`
    band 1 exceeds (the default: 2 where band 1 > 127, 1 where > 63, else 0); the limits are
    variables folded into constants by graph_util."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name="ImageTensor")
        bounds = tf.compat.v1.Variable(list(limits), dtype=tf.int32, name="limits")
        band = tf.cast(image[..., 0], tf.int32)[..., tf.newaxis]
        above = tf.reduce_sum(tf.cast(band > bounds, tf.int32), axis=-1)
        tf.identity(above, name="SemanticPredictions")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), ["SemanticPredictions"]
            )
    path.write_bytes(frozen.SerializeToString())
    return path


def deeplab_prediction(band: NDArray[np.uint8], limits: tuple[int, ...] = (63, 127)) -> Any:
    """What `deeplab_frozen_graph` predicts for band 1, in numpy."""
    return (band[..., np.newaxis].astype(np.int64) > np.asarray(limits)).sum(axis=-1)
