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
