"""A Keras 3 OrbaxCheckpoint run (two steps and a half-written third) is named, its steps listed, the
unfinished save flagged, its variables counted from `_METADATA` as live Keras counts them after
`load_model`, and the advised snippet loads it (Keras 3.15.1 on JAX, orbax-checkpoint 0.12).

Fixture: tests/fixtures/make_keras2026.py --part orbax.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.analysis import PathArtifact, read_report
from tests.test_keras2026_files import ARTIFACTS, FIXTURE_DIR

RUN = "orbax__toy_run"
EXP = ARTIFACTS[RUN]


def _report(rel: str = RUN):
    return read_report(PathArtifact(str(FIXTURE_DIR / rel)))


def test_the_run_is_an_orbax_checkpoint_with_the_live_parameter_counts():
    report = _report()
    assert report.error is None and report.format == EXP["expect_format"]
    assert (report.params.total, report.params.trainable, report.params.non_trainable) == (
        EXP["count_params"], EXP["trainable"], EXP["non_trainable"])
    assert {l.name: l.params for l in report.layers} == {l["name"]: l["params"] for l in EXP["layers"] if l["params"]}
    assert report.optimizer.variables == EXP["optimizer_variables"]


def test_steps_the_newest_complete_one_and_the_unfinished_save_are_named():
    report = _report()
    assert f"steps {', '.join(map(str, EXP['steps']))}, newest complete: step {EXP['latest_step']}" in \
        report.format_detail
    warning = next(w for w in report.warnings if w.code == "orbax-unfinished-save")
    assert all(u in warning.message for u in EXP["unfinished"])


def test_a_step_folder_given_directly_is_read_and_loaded_through_its_run():
    report = _report(f"{RUN}/1")
    assert report.format == "orbax-checkpoint" and report.params.total == EXP["count_params"]
    assert repr(str(FIXTURE_DIR / RUN)) in report.reload.python


def test_a_run_with_only_an_unfinished_save_says_so(tmp_path):
    import shutil

    shutil.copytree(FIXTURE_DIR / RUN / EXP["unfinished"][0], tmp_path / EXP["unfinished"][0])
    os.mkdir(tmp_path / "0")
    report = read_report(PathArtifact(str(tmp_path)))
    assert report.error is not None and report.error.code == "truncated"


@pytest.mark.keras
def test_the_advised_snippet_loads_the_newest_step_in_keras():
    python = _report().reload.python
    code = ("import os, sys, json\nos.environ['KERAS_BACKEND'] = 'jax'\nimport numpy as np\n"
            + python + "\nprint(json.dumps([int(model.count_params()), int(np.asarray(model.optimizer.iterations))]))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [EXP["count_params"], EXP["iterations"]]


_PLAIN_RUN = r'''
import sys
import numpy as np
import orbax.checkpoint as ocp
mgr = ocp.CheckpointManager(sys.argv[1])
for step in (10, 20):
    mgr.save(step, args=ocp.args.StandardSave({"params": {"w": np.zeros((3, 4), np.float32),
                                                          "b": np.zeros(4, np.float32)}}))
mgr.wait_until_finished()
'''


@pytest.mark.keras
def test_a_plain_orbax_run_is_named_and_its_arrays_restored_by_the_snippet(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    run = tmp_path / "run"
    made = subprocess.run([sys.executable, "-c", _PLAIN_RUN, str(run)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    report = read_report(PathArtifact(str(run)))
    assert report.format == "orbax-checkpoint" and "newest complete: step 20" in report.format_detail
    # NumPy arrays saved by plain Orbax record no shapes in _METADATA: no count rather than a wrong one.
    assert report.params is None and any(w.code == "orbax-shapes-not-recorded" for w in report.warnings)
    assert {w.name for l in report.layers for w in l.weights} == {"params/w", "params/b"}
    code = report.reload.python + "\nprint(sorted((k, v.shape) for k, v in model['params'].items()))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "[('b', (4,)), ('w', (3, 4))]"
