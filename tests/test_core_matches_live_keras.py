"""Every figure the core reports for a fixture equals what live Keras said when it saved that fixture.

Fixtures and their live figures come from tests/fixtures/make_fixtures.py (real Keras 3 on TF
and JAX, tf-keras 2.21, Keras 2.13) and make_legacy_layouts.py (layout reproductions of Keras
0.x–2.2 that cannot be installed on Python 3.11).  test_fixtures_regenerate.py rebuilds them
with TensorFlow in CI and runs these same comparisons on the fresh files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.analysis import PathArtifact, read_report
from bot.analysis.keras.keras_classes import strip_registered_prefix
from tests.conftest import FIXTURES

FIXTURE_DIR = Path(os.environ.get("CKPTBOT_FIXTURE_DIR", FIXTURES))


def _artifacts() -> dict:
    path = FIXTURE_DIR / "expected.json"
    return json.loads(path.read_text())["artifacts"] if path.exists() else {}


ARTIFACTS = _artifacts()
# Fixtures whose model has frozen layers: a weights-only file cannot show which are frozen.
_FROZEN_MODELS = {"frozen", "nested", "lambda_nested"}


def _report(rel: str):
    return read_report(PathArtifact(str(FIXTURE_DIR / rel)))


@pytest.fixture(params=sorted(ARTIFACTS), ids=lambda p: p)
def case(request):
    rel = request.param
    return rel, ARTIFACTS[rel], _report(rel)


def test_the_format_is_recognised_from_content(case):
    rel, exp, report = case
    assert report.error is None, report.error
    assert report.format == exp["expect_format"]


def test_parameter_totals_equal_count_params(case):
    rel, exp, report = case
    assert report.params is not None
    assert report.params.total == exp["count_params"]


def test_trainable_split_equals_live_keras(case):
    rel, exp, report = case
    if not report.contents.architecture and exp.get("fixture_model") in _FROZEN_MODELS:
        # No config: frozen layers are invisible, and the report says so instead of guessing silently.
        assert any(w.code == "trainable-inferred" for w in report.warnings)
        return
    if report.params.trainable is None:
        assert not report.contents.architecture, "a file with an architecture must give the split"
        return
    assert (report.params.trainable, report.params.non_trainable) == (exp["trainable"], exp["non_trainable"])


def test_optimizer_state_and_steps_match(case):
    rel, exp, report = case
    assert report.contents.optimizer_state == exp["optimizer_in_file"]
    if exp["optimizer_in_file"]:
        live = exp["optimizer"]
        assert report.optimizer is not None
        assert report.optimizer.iterations == live["iterations"]
        if any(w.code == "optimizer-config-missing" for w in report.warnings):
            assert report.optimizer.class_name is None  # the file does not say; we do not guess
        elif report.contents.training_config and live.get("class_name"):
            # tf-keras .keras archives record a LossScaleOptimizer's inner optimizer only.
            names = {live["class_name"], live.get("inner_class_name")}
            assert report.optimizer.class_name.split("(")[0] in names
        # Never counted as parameters (Keras 3's summary does; count_params does not).
        assert report.params.total == exp["count_params"]


def test_layers_and_their_parameters_match_model_layers(case):
    rel, exp, report = case
    if not report.contents.architecture:
        got = sorted(l.params for l in report.layers if l.params)
        want = sorted(l["params"] for l in exp["layers"] if l["params"])
        assert got == want
        return
    got = [(l.name, l.params) for l in report.layers]
    want = [(l["name"], l["params"]) for l in exp["layers"]]
    assert got == want
    assert [l.class_name for l in report.layers] == [strip_registered_prefix(l["class_name"]) for l in exp["layers"]]


def test_model_class_name_version_and_findings(case):
    rel, exp, report = case
    if exp.get("keras_version") and report.format in ("keras-h5-model", "keras-h5-weights", "keras-v3-archive"):
        assert report.keras_version == exp["keras_version"]
    if report.contents.architecture:
        if exp["model_name"] is not None:  # Keras <= 2.1 Sequential configs carry no name
            assert report.model.name == exp["model_name"]
        assert report.model.class_name == strip_registered_prefix(exp["model_class"])
        codes = {w.code for w in report.warnings}
        assert ("lambda-layer" in codes) == bool(exp["has_lambda"])
        custom = " ".join(w.message for w in report.warnings if w.code == "custom-object")
        for cls in exp["custom_classes"]:
            assert strip_registered_prefix(cls) in custom
        assert ("mixed-precision" in codes) == bool(exp.get("mixed_precision") and
                                                     exp["mixed_precision"].startswith("mixed_"))


def test_the_report_is_stable_json(case):
    rel, exp, report = case
    d = json.loads(report.to_json())
    assert list(d)[:1] == ["schema_version"]
    assert d["format"] == exp["expect_format"]


def test_loss_and_metrics_are_the_compiled_ones(case):
    rel, exp, report = case
    if not report.contents.training_config:
        return
    assert report.training is not None
    assert report.training.loss == exp["loss"]
    assert report.training.metrics == exp["metrics"]
