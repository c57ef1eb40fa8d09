"""Runs reload snippets in one real Keras, many per process, and prints what happened as JSON.

    python tests/keras_snippet_runner.py --stack k3|tfk|k213  < cases.json  > results.json

A case is `{"id", "load", "build": fixture model name, {"dense_kernels": [[in, out], …]} or null, "arrays_out": path or null,
"checkpoint": prefix or null}`.  The fixture model is rebuilt in this Keras (as a user runs
their own model code) when `build` is set; `Scale` and `Shift` are bound (as a user's import
would), `make_optimizer()` returns the optimizer it was trained with, then `load` is executed
verbatim.  The loaded object's weights are saved to
`arrays_out` (npz, raw bytes + shapes) for the test to compare with the file.  `checkpoint`
asks for the saved values of a TF bundle read by TensorFlow itself (the writer's stack).
Cases of a `loadweights` kind (`"check": {"weights", "against"}`) load a model file with
compile=False and call load_weights, for the `check` verdict tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

MESSAGE_CHARS = 600
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fixtures"))

from fixture_reload import LOGGER_NAMES, LogCollector  # noqa: E402 - stdlib-only module, on the path above


def _keras(stack: str):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if stack == "tfk":
        import tf_keras as K
    elif stack == "k213":
        import tensorflow as tf

        K = tf.keras
    else:
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import keras as K
    return K


def _weights_of(obj):
    import numpy as np

    ws = obj.weights if hasattr(obj, "weights") else obj.variables
    return [np.asarray(w.numpy() if hasattr(w, "numpy") else w) for w in ws]


def _save_arrays(path: str, arrays) -> None:
    import numpy as np

    out = {}
    for i, a in enumerate(arrays):
        out[f"b{i}"] = np.frombuffer(np.ascontiguousarray(a).tobytes(), dtype=np.uint8)
        out[f"s{i}"] = np.asarray(a.shape, dtype=np.int64)
    np.savez(path, **out)


def _checkpoint_arrays(prefix: str):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    skip = ("optimizer/", "save_counter", "keras_api/", "_CHECKPOINTABLE_OBJECT_GRAPH")
    names = [n for n in reader.get_variable_to_shape_map()
             if n.endswith("VARIABLE_VALUE") and not n.startswith(skip) and ".OPTIMIZER_SLOT" not in n]
    return [reader.get_tensor(n) for n in sorted(names)]


def run_case(K, case: dict) -> dict:
    from fixture_models import MODELS, custom_layers

    Scale, Shift = custom_layers(K)
    collect = LogCollector()
    loggers = [logging.getLogger(n) for n in LOGGER_NAMES]
    for lg in loggers:
        lg.addHandler(collect)
    out: dict = {"id": case["id"]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if case.get("checkpoint"):
                _save_arrays(case["arrays_out"], _checkpoint_arrays(case["checkpoint"]))
                out.update(ok=True, error=None)
                return out
            K.backend.clear_session()
            ns = {"Scale": Scale, "Shift": Shift, "__name__": "snippet"}
            if case.get("check"):
                model = K.models.load_model(case["check"]["against"], compile=False)
                ns["model"] = model
                exec(compile(case["load"], "<snippet>", "exec"), ns)
            else:
                build = case.get("build")
                if isinstance(build, dict):  # a synthetic old-Keras file: Dense layers of these kernel shapes
                    kernels = build["dense_kernels"]
                    ns["model"] = K.Sequential([K.Input((kernels[0][0],)),
                                                *[K.layers.Dense(k[1]) for k in kernels]])
                elif build:
                    spec = MODELS[build]
                    ns["model"] = spec.build(K)
                    ns["make_optimizer"] = lambda: (spec.compile_args(K) or {}).get("optimizer")
                exec(compile(case["load"], "<snippet>", "exec"), ns)
            model = ns["model"]
            out.update(ok=True, error=None)
            if case.get("arrays_out"):
                _save_arrays(case["arrays_out"], _weights_of(model))
            opt = getattr(model, "optimizer", None)
            it = getattr(opt, "iterations", None) if opt is not None else None
            out["iterations"] = int(it.numpy()) if hasattr(it, "numpy") else None
        except Exception as exc:  # each failure is a result, never fatal for the batch
            out.update(ok=False, error=" ".join(f"{type(exc).__name__}: {exc}".split())[:MESSAGE_CHARS * 4])
        finally:
            for lg in loggers:
                lg.removeHandler(collect)
            texts = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
            out["warnings"] = [" ".join(t.split())[:MESSAGE_CHARS] for t in [*texts, *collect.messages]][:8]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", required=True, choices=["k3", "tfk", "k213"])
    args = parser.parse_args()
    cases = json.load(sys.stdin)
    K = _keras(args.stack)
    if hasattr(K, "config") and hasattr(K.config, "disable_interactive_logging"):
        K.config.disable_interactive_logging()
    results = [run_case(K, c) for c in cases]
    sys.stdout.write("\n@@RESULTS@@" + json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
