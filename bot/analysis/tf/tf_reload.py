"""Reload advice for TF checkpoints and SavedModels, from what their files show.

Checkpoints restore by object position into the same objects; SavedModels revive as Keras
models only through `keras_metadata.pb` (tf_keras / TF <= 2.15), and run anywhere as graphs
(keras-formats.md §1 "Reload advice", §5.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.analysis.tf.tf_checkpoint import LAYER_EDGE
from bot.report import Reload, ReloadOption

if TYPE_CHECKING:
    from bot.analysis.tf.tf_checkpoint import BundleVariables
    from bot.analysis.tf.tf_savedmodel import GraphSummary


def checkpoint_reload(prefix: str, found: BundleVariables) -> Reload:
    """How to restore a checkpoint: tf_keras load_weights, tf.train.Checkpoint, or raw tensors."""
    root = [c for c in (found.graph.root_children() if found.graph else []) if c != "save_counter"]
    raw = (f"import tensorflow as tf\nreader = tf.train.load_checkpoint({prefix!r})\n"
           "print(reader.get_variable_to_shape_map())  # names → shapes; reader.get_tensor(name)")
    if found.name_based:
        return Reload(summary="A TF1 name-based checkpoint: restore it with a tf.compat.v1 Saver in "
                      "the graph that wrote it, or read tensors by name.", python=raw,
                      options=[ReloadOption(keras="TensorFlow", python=raw, works=True,
                                            purpose="read the raw tensors by name")])
    if root and not any(LAYER_EDGE.match(c) for c in root):
        kwargs = ", ".join(f"{c}=..." for c in root if c.isidentifier())
        python = (f"import tensorflow as tf\ncheckpoint = tf.train.Checkpoint({kwargs})  "
                  f"# the same objects, built the same way\ncheckpoint.restore({prefix!r})"
                  ".expect_partial()")
        summary = (f"A tf.train.Checkpoint with objects {', '.join(root)}: build the same objects and "
                   "restore it with tf.train.Checkpoint(...).restore(prefix).")
    else:
        python = ("import tf_keras  # or TensorFlow ≤ 2.15: from tensorflow import keras\n"
                  "model = build_model()  # the exact architecture that wrote the checkpoint\n"
                  f"model.load_weights({prefix!r}).expect_partial()")
        summary = ("Weights only, in TensorFlow checkpoint format: rebuild the same architecture in "
                   "tf_keras (or TensorFlow ≤ 2.15) and call load_weights with the prefix (no .index). "
                   "Keras 3 cannot read TF checkpoints.")
    return Reload(summary=summary, python=python, options=[
        ReloadOption(keras="tf_keras / TF ≤ 2.15", python=python, works=True,
                     purpose="restore into the same architecture (by object position, not by name)",
                     caveats=["A different architecture restores partially and only logs warnings; "
                              "call .assert_consumed() on the result to be sure."]),
        ReloadOption(keras="Keras 3", python=f"model.load_weights({prefix!r})", works=False,
                     error="Keras 3 loads only .weights.h5, .keras and legacy .h5 files; convert with "
                           "tf_keras (load, then save_weights('x.weights.h5')).",
                     purpose="not supported"),
        ReloadOption(keras="TensorFlow", python=raw, works=True, purpose="read raw tensors by name"),
    ])


def savedmodel_reload(name: str, has_keras_metadata: bool, graph: GraphSummary | None) -> Reload:
    """tf_keras revives a Keras SavedModel; TensorFlow and Keras 3 TFSMLayer run any SavedModel."""
    endpoint = "serving_default"
    if graph is not None and graph.signatures and endpoint not in graph.signatures:
        endpoint = next((n for n in graph.signatures if not n.startswith("__")), endpoint)
    tf_load = (f"import tensorflow as tf\nloaded = tf.saved_model.load({name!r})\n"
               f"infer = loaded.signatures[{endpoint!r}]")
    k3_layer = (f"import keras\nlayer = keras.layers.TFSMLayer({name!r}, call_endpoint={endpoint!r})"
                "  # inference only")
    options = [
        ReloadOption(keras="TensorFlow", python=tf_load, works=True, purpose="run the saved signatures"),
        ReloadOption(keras="Keras 3", python=k3_layer, works=True, purpose="inference inside a Keras 3 model",
                     caveats=["A SavedModel is not a Keras 3 model: no training, no layer access. "
                              "keras.models.load_model() rejects SavedModel folders."]),
    ]
    if has_keras_metadata:
        python = f"import tf_keras\nmodel = tf_keras.models.load_model({name!r})"
        options.insert(0, ReloadOption(keras="tf_keras / TF ≤ 2.15", python=python, works=True,
                                       purpose="the full Keras model, trainable"))
        summary = ("A tf.keras SavedModel with Keras metadata: tf_keras (or TensorFlow ≤ 2.15) "
                   "revives the Keras model; in Keras 3 use it for inference via TFSMLayer.")
        return Reload(summary=summary, python=python, options=options)
    summary = ("A SavedModel without Keras metadata: load it with tf.saved_model.load or wrap it in "
               "Keras 3 with TFSMLayer for inference; it cannot become a Keras model again.")
    return Reload(summary=summary, python=tf_load, options=options)
