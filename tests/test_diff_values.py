"""`diff --values`: two checkpoints of the same run, compared number by number, as Keras sees them.

A Keras 3 subprocess trains the reference model `toy`, saves it (`.keras`, `.h5`,
`.weights.h5`), trains three more steps, saves again (also sharded), and records how far each
weight moved from `model.weights` itself.  `service.diff(..., values=True)` must report the
same maxima and means from the files, across formats.  A separate story checks that memory
stays bounded on weights far larger than one read block.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import h5py
import numpy as np
import pytest

from bot import service
from bot.analysis import PathArtifact, read_report
from bot.compare.values import VALUE_BLOCK_BYTES, compare_values
from tests.conftest import ROOT

RUN_SCRIPT = r'''
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, os.path.join(sys.argv[2], "tests", "fixtures"))
import keras, numpy as np
from fixture_models import MODELS, seed_for, BATCH_SIZE
out = sys.argv[1]
spec = MODELS["toy"]
keras.utils.set_random_seed(seed_for("toy"))
model = spec.build(keras)
model.compile(**spec.compile_args(keras))
x, y = spec.data(np.random.default_rng(1), 5)
model.fit(x[:2 * BATCH_SIZE], y[:2 * BATCH_SIZE], batch_size=BATCH_SIZE, verbose=0)
before = [np.array(w.numpy(), dtype=np.float64) for w in model.weights]
model.save(os.path.join(out, "a.keras")); model.save(os.path.join(out, "a.h5"))
model.save_weights(os.path.join(out, "a.weights.h5"))
model.fit(x[2 * BATCH_SIZE:], y[2 * BATCH_SIZE:], batch_size=BATCH_SIZE, verbose=0)
model.save(os.path.join(out, "b.keras")); model.save(os.path.join(out, "b.h5"))
model.save_weights(os.path.join(out, "b.weights.h5"))
os.makedirs(os.path.join(out, "sharded"))
model.save_weights(os.path.join(out, "sharded", "b.weights.json"), max_shard_size=120 / 1024**3)
moved = {}
for w, a in zip(model.weights, before):
    d = np.abs(np.array(w.numpy(), dtype=np.float64) - a)
    moved[w.path] = {"max": float(d.max()), "mean": float(d.mean()), "equal": bool((d == 0).all())}
json.dump(moved, open(os.path.join(out, "moved.json"), "w"))
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    subprocess.run([sys.executable, "-c", RUN_SCRIPT, str(out), str(ROOT)], check=True, cwd=out,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, timeout=600)
    return out, json.loads((out / "moved.json").read_text())


@pytest.mark.keras
@pytest.mark.parametrize("a,b", [("a.keras", "b.keras"), ("a.weights.h5", "b.weights.h5"), ("a.h5", "b.h5"),
                                 ("a.h5", "sharded/b.weights.json"), ("a.keras", "b.weights.h5")])
def test_values_moved_as_far_as_keras_says(run, a, b):
    out, moved = run
    result = service.diff(str(out / a), str(out / b), allow_any_local=True, isolate=False, values=True)
    assert result.error is None, result.error
    assert result.values_note is None
    got = {f"{v.layer}/{v.weight}": v for v in result.values}
    assert set(got) == set(moved)
    for path, live in moved.items():
        assert got[path].max_abs_diff == live["max"], path
        assert got[path].mean_abs_diff == pytest.approx(live["mean"], rel=1e-12, abs=0), path
        assert got[path].equal == live["equal"], path
    assert not all(v.equal for v in result.values)  # training moved something
    if result.a.steps_trained is not None and result.b.steps_trained is not None:
        assert result.steps_delta == 3


@pytest.mark.keras
def test_a_checkpoint_compared_with_itself_is_equal_everywhere(run):
    out, _ = run
    result = service.diff(str(out / "b.keras"), str(out / "b.h5"), allow_any_local=True, isolate=False, values=True)
    assert result.values and all(v.equal and v.max_abs_diff == 0.0 for v in result.values)


def _big_v3_file(path, seed: int, rows: int, cols: int) -> None:
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        ds = f.create_dataset("layers/dense/vars/0", shape=(rows, cols), dtype="float32")
        for start in range(0, rows, 256):  # written in pieces, so the test itself stays small too
            ds[start:start + 256] = rng.normal(size=(min(256, rows - start), cols)).astype("float32")
        f["layers/dense/vars/1"] = np.zeros(cols, dtype="float32")


def test_memory_stays_bounded_on_weights_much_larger_than_a_block(tmp_path):
    rows, cols = 4096, 4096  # 64 MiB per file, 16 blocks of VALUE_BLOCK_BYTES
    a, b = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    _big_v3_file(a, 1, rows, cols)
    _big_v3_file(b, 2, rows, cols)
    rep_a, rep_b = read_report(PathArtifact(str(a))), read_report(PathArtifact(str(b)))
    tracemalloc.start()
    try:
        values, note = compare_values(PathArtifact(str(a)), rep_a, PathArtifact(str(b)), rep_b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert note is None
    kernel = next(v for v in values if v.weight == "kernel" or v.elements == rows * cols)
    assert kernel.elements == rows * cols and not kernel.equal
    # Two independent N(0,1) draws: |a - b| has mean 2/sqrt(pi) ≈ 1.128.
    assert kernel.mean_abs_diff == pytest.approx(2 / np.sqrt(np.pi), rel=0.01)
    file_bytes = rows * cols * 4
    assert peak < 8 * VALUE_BLOCK_BYTES < file_bytes
