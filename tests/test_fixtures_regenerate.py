"""The committed fixtures are not trusted blindly: CI rebuilds them with real TensorFlow/Keras
(Keras 3 on TF, tf-keras, and Keras 3 on JAX when jax is installed) and runs the very same
live-Keras comparisons on the fresh files."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def fresh_fixtures(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    # The synthetic old layouts come first: make_fixtures keeps their entries in expected.json.
    subprocess.run([sys.executable, "tests/fixtures/make_legacy_layouts.py", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    stacks = ["keras3", "tf_keras"] + (["jax"] if importlib.util.find_spec("jax") else [])
    for stack in stacks:
        res = subprocess.run([sys.executable, "tests/fixtures/make_fixtures.py", "--out", str(out), "--stack",
                              stack, "--no-reload"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_fresh_fixtures_cover_every_committed_kind(fresh_fixtures):
    fresh = json.loads((fresh_fixtures / "expected.json").read_text())["artifacts"]
    committed = json.loads((ROOT / "tests/fixtures/keras/expected.json").read_text())["artifacts"]
    regenerated_stacks = {v["stack"] for v in fresh.values()}
    want = {k for k, v in committed.items() if v["stack"] in regenerated_stacks}
    assert want <= set(fresh), sorted(want - set(fresh))[:10]


def test_the_core_matches_live_keras_on_freshly_made_fixtures(fresh_fixtures):
    env = {**os.environ, "CKPTBOT_FIXTURE_DIR": str(fresh_fixtures)}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_core_matches_live_keras.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-4000:]
    assert " passed" in res.stdout and " failed" not in res.stdout


@pytest.fixture(scope="module")
def fresh_keras2026(tmp_path_factory):
    """Quantized/LoRA/compile files (Keras 3.15), KerasHub presets and an Orbax run, made again from scratch."""
    out = tmp_path_factory.mktemp("keras2026")
    committed = ROOT / "tests/fixtures/keras2026"
    # k213 needs the TF 2.13 venv: its committed entries and files are carried over, as make_fixtures does.
    for path in committed.glob("k213__*"):
        (out / path.name).write_bytes(path.read_bytes())
    entries = json.loads((committed / "expected.json").read_text())["artifacts"]
    (out / "expected.json").write_text(json.dumps({"artifacts": {k: v for k, v in entries.items()
                                                                 if k.startswith("k213__")}}))
    res = subprocess.run([sys.executable, "tests/fixtures/make_keras2026.py", "--out", str(out), "--part", "all"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_fresh_keras2026_fixtures_cover_every_committed_kind(fresh_keras2026):
    fresh = json.loads((fresh_keras2026 / "expected.json").read_text())["artifacts"]
    committed = json.loads((ROOT / "tests/fixtures/keras2026/expected.json").read_text())["artifacts"]
    assert set(committed) <= set(fresh), sorted(set(committed) - set(fresh))


def test_the_core_matches_live_keras_and_keras_hub_on_fresh_2026_fixtures(fresh_keras2026):
    env = {**os.environ, "CKPTBOT_KERAS2026_DIR": str(fresh_keras2026)}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_keras2026_files.py", "tests/test_keras_hub_presets.py",
                          "tests/test_orbax_checkpoints.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stdout[-4000:]
    assert " passed" in res.stdout and " failed" not in res.stdout
