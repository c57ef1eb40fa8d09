"""Reload advice for TF checkpoints that Keras did not write, from what their object graph shows.

Checkpoints restore by object position into the same objects (keras-formats.md §1 "Reload
advice", §5.3).  The advisor (bot/analysis/advice) replaces this advice for a Keras
checkpoint and gives every SavedModel's: one advisor per format.
"""

from __future__ import annotations

from bot.analysis.tf.tf_bundle import LAYER_EDGE
from bot.report import Reload, ReloadOption


def checkpoint_reload(prefix: str, name_based: bool, root_children: list[str]) -> Reload:
    """How to restore a checkpoint: tf_keras load_weights, tf.train.Checkpoint, or raw tensors.

    `root_children` are the object graph's edges from its root (empty for a TF1 checkpoint)."""
    root = [c for c in root_children if c != "save_counter"]
    raw = (f"import tensorflow as tf\nreader = tf.train.load_checkpoint({prefix!r})\n"
           "print(reader.get_variable_to_shape_map())  # names → shapes; reader.get_tensor(name)")
    if name_based:
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

