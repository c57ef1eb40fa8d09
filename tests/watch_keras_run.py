"""A tiny real training run for the watcher stories: Keras 3 saves a checkpoint after 3 steps and
another after 7 steps of the same run, and prints what the live model said at each save.

    python -m tests.watch_keras_run OUT_DIR   ->  prints one JSON line:
    {"checkpoints": [{"name": "ckpt-0003.keras", "iterations": 3, "params": 50}, ...]}

Run in a subprocess so the test process never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys

STEPS_AT_SAVES = (3, 7)


def main(out_dir: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np

    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x = np.random.rand(16, 4).astype("float32")
    y = np.random.rand(16, 2).astype("float32")
    done = 0
    out = []
    for steps in STEPS_AT_SAVES:
        for _ in range(steps - done):
            model.train_on_batch(x, y)
        done = steps
        name = f"ckpt-{steps:04d}.keras"
        model.save(os.path.join(out_dir, name))
        out.append({"name": name, "iterations": int(model.optimizer.iterations.numpy()),
                    "params": int(model.count_params())})
    print(json.dumps({"checkpoints": out}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
