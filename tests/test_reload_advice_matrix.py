"""Every reload snippet the advisor emits is run in real Keras 3 and real tf-keras, and does what it says.

For each fixture artifact (every format and writer in tests/fixtures/keras: Keras 3 on TF and
JAX, tf-keras 2.21, Keras 2.13, synthetic Keras 1.x–2.2 layouts) the Report's reload options
are executed verbatim, all of one Keras in one subprocess (tests/keras_snippet_runner.py):

* an option that `works` must load, and the loaded model's weights must be byte-for-byte the
  arrays stored in the file (read here with h5py, or by TensorFlow for TF bundles); if it
  claims to restore the optimizer, `model.optimizer.iterations` must equal the steps in the file;
* an option that says it fails must raise, with its `error` text in the message.
Weights formats need an architecture: the runner rebuilds the fixture model (as the user runs
their own code), then runs the snippet's load step.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import h5py
import pytest

from bot.analysis import PathArtifact, read_report
from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.keras

RUNNER = ROOT / "tests" / "keras_snippet_runner.py"
STACK_OF_LOADER = {"keras3": "k3", "tensorflow": "k3", "tf_keras": "tfk", "tf2.13": "k213"}
# TensorFlow 2.13 lives in its own venv (tests/fixtures/README.md); its cases run when it exists.
PYTHON_213 = os.environ.get("CKPTBOT_PYTHON213", "/tmp/venv213/bin/python")
PYTHONS = {"k3": sys.executable, "tfk": sys.executable, "k213": PYTHON_213}
# One subprocess per Keras runs all its cases; TF start-up dominates, the snippets are small.
RUNNER_TIMEOUT_S = 600
BUNDLE_FORMATS = ("tf-savedmodel", "tf-checkpoint")


def _artifacts() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text())["artifacts"]


def _fixture_model(rel: str, entry: dict) -> str | dict:
    """What the user would build: the fixture model, or for synthetic old-Keras files (whose
    shapes are their own) a stack of Dense layers with the kernels the entry lists."""
    name = entry.get("fixture_model") or Path(rel).name.split("__")[1]
    if entry.get("synthetic") and name == "seq":
        return {"dense_kernels": [w["shape"] for l in entry["layers"] for w in l["weights"] if len(w["shape"]) == 2]}
    return name


def _cases() -> list[dict]:
    cases = []
    for rel, entry in sorted(_artifacts().items()):
        path = str(FIXTURES / rel)
        report = read_report(PathArtifact(path))
        for i, opt in enumerate(report.reload.options):
            if opt.loader not in STACK_OF_LOADER:
                continue
            cases.append({
                "id": f"{rel}#{i}:{opt.loader}:{'works' if opt.works else 'fails'}",
                "rel": rel, "format": report.format, "stack": STACK_OF_LOADER[opt.loader],
                "load": opt.load or opt.python, "works": opt.works, "error": opt.error,
                "build": _fixture_model(rel, entry) if opt.build_first else None,
                "restores_optimizer": opt.restores_optimizer,
                "iterations": report.optimizer.iterations if report.optimizer else None,
            })
    return cases


CASES = _cases()


def _run(stack: str, cases: list[dict], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([PYTHONS[stack], str(RUNNER), "--stack", stack], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    proc.stdin.write(json.dumps(cases))
    proc.stdin.close()
    return proc


def _collect(proc: subprocess.Popen) -> list[dict]:
    out = proc.stdout.read()
    proc.wait(timeout=RUNNER_TIMEOUT_S)
    assert "@@RESULTS@@" in out, out[-2000:]
    return json.loads(out.split("@@RESULTS@@", 1)[1])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("arrays")
    by_stack: dict[str, list[dict]] = {"k3": [], "tfk": [], "k213": []}
    for n, c in enumerate(CASES):
        arrays = str(tmp / f"case{n}.npz") if c["works"] else None
        by_stack[c["stack"]].append({"id": c["id"], "load": c["load"], "build": c["build"], "arrays_out": arrays})
        c["arrays_out"] = arrays
    for rel in sorted({c["rel"] for c in CASES if c["format"] in BUNDLE_FORMATS}):
        prefix = _bundle_prefix(FIXTURES / rel)
        by_stack["k3"].append({"id": "saved:" + rel, "checkpoint": prefix, "load": "",
                               "arrays_out": str(tmp / f"saved_{len(by_stack['k3'])}.npz")})
    procs = {stack: _run(stack, cs, tmp) for stack, cs in by_stack.items()
             if cs and os.path.exists(PYTHONS[stack])}
    results = {}
    for stack, proc in procs.items():
        results.update({r["id"]: r for r in _collect(proc)})
    saved = {c["id"][len("saved:"):]: c["arrays_out"] for c in by_stack["k3"] if c.get("checkpoint")}
    return {"results": results, "saved_bundles": saved}


def _bundle_prefix(path: Path) -> str:
    if path.is_dir():
        return str(path / "variables" / "variables")
    return str(path)[: -len(".index")]


def _h5_arrays(f: h5py.File, v3: bool) -> list[tuple[tuple, bytes]]:
    out = []

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        if v3 and (name.startswith(("optimizer/", "metrics/")) or "vars/" not in name):
            return
        out.append((tuple(obj.shape), obj[()].tobytes()))

    f.visititems(visit)
    return out


def saved_arrays(path: Path, fmt: str) -> list[tuple[tuple, bytes]]:
    """The weight arrays stored in the file, read with h5py (never with Keras)."""
    if fmt in ("keras-h5-model", "keras-h5-weights"):
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f and "layer_names" not in f.attrs else f
            out = []
            group.visititems(lambda n, o: out.append((tuple(o.shape), o[()].tobytes()))
                             if isinstance(o, h5py.Dataset) else None)
            return out
    if fmt == "keras-v3-archive":
        if path.is_dir():
            with h5py.File(path / "model.weights.h5", "r") as f:
                return _h5_arrays(f, v3=True)
        with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
            return _h5_arrays(f, v3=True)
    if fmt == "keras-v3-sharded-weights":
        index = json.loads(path.read_text())
        shards = {s for v in index["weight_map"].values() for s in (v if isinstance(v, list) else [v])}
        out = []
        for shard in sorted(shards):
            with h5py.File(path.parent / shard, "r") as f:
                out += _h5_arrays(f, v3=True)
        return out
    with h5py.File(path, "r") as f:
        return _h5_arrays(f, v3=True)


def _npz_arrays(path: str) -> list[tuple[tuple, bytes]]:
    import numpy as np

    with np.load(path) as z:
        n = len(z.files) // 2
        return [(tuple(int(x) for x in z[f"s{i}"]), z[f"b{i}"].tobytes()) for i in range(n)]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_each_snippet_does_what_the_advice_says(case, outcomes):
    if case["stack"] == "k213" and not os.path.exists(PYTHON_213):
        # tests/run_all.sh (what CI runs) always installs it; a developer may run without it.
        if os.environ.get("CI"):
            pytest.fail(f"TensorFlow 2.13 interpreter {PYTHON_213} missing: tests/run_all.sh installs it")
        pytest.skip(f"TensorFlow 2.13 interpreter {PYTHON_213} not installed")
    result = outcomes["results"][case["id"]]
    if not case["works"]:
        assert not result["ok"], f"the advice says this fails, but it loaded: {case['load']}"
        assert case["error"] and case["error"] in result["error"], result["error"]
        return
    assert result["ok"], f"{result['error']}\n--- snippet ---\n{case['load']}"
    loaded = _npz_arrays(case["arrays_out"])
    if case["format"] in BUNDLE_FORMATS:
        stored = _npz_arrays(outcomes["saved_bundles"][case["rel"]])
        assert set(loaded) == set(stored)
    else:
        stored = saved_arrays(FIXTURES / case["rel"], case["format"])
        assert stored, "no arrays read from the file"
        assert Counter(loaded) == Counter(stored)
    if case["restores_optimizer"]:
        assert result["iterations"] == case["iterations"]


def test_every_keras_format_gets_a_working_snippet_or_says_why_not():
    for rel in _artifacts():
        report = read_report(PathArtifact(str(FIXTURES / rel)))
        if report.reload.python:
            assert any(o.works and o.python == report.reload.python for o in report.reload.options)
            assert "model" in report.reload.python
        else:
            assert report.reload.summary, rel
