"""Every figure the core reports for a fixture equals what live Keras said when it saved that fixture.

Fixtures and their live figures come from tests/fixtures/make_fixtures.py (real Keras 3 on TF
and JAX, tf-keras 2.21, Keras 2.13), which writes tests/fixtures/keras/expected.json while the
models are alive; test_fixtures_regenerate.py rebuilds them with TensorFlow in CI and runs
these same comparisons on the fresh files. A missing expected.json or fixture fails.

SYNTHETIC cases (ids `synthetic-layout:…`): tests/fixtures/make_legacy_layouts.py writes
layout reproductions of Keras 0.x, 1.2.2, 2.0.5 and 2.2.4 files with h5py, because those
Kerases cannot be installed on Python 3.11. Their figures are computed by that generator from
the shapes it writes, not by a live Keras; they test that ckptbot reads the old layouts.

Each check is parametrized only over the cases it applies to, decided from the live side (what
the fixture script saved: `call`, `expect_format`), never from what ckptbot reported — so a
file ckptbot misreads cannot drop out of the check that would catch it.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.analysis import PathArtifact, read_report
from bot.analysis.keras.keras_classes import strip_registered_prefix
from tests.conftest import FIXTURES

FIXTURE_DIR = Path(os.environ.get("CKPTBOT_FIXTURE_DIR", FIXTURES))
ARTIFACTS: dict = json.loads((FIXTURE_DIR / "expected.json").read_text())["artifacts"]
# Fixture models with frozen layers: a weights-only file cannot show which are frozen.
_FROZEN_MODELS = {"frozen", "nested", "lambda_nested"}
# Formats whose files record the Keras version that wrote them (keras-formats.md §2, §4).
_VERSIONED_FORMATS = {"keras-h5-model", "keras-h5-weights", "keras-v3-archive"}
_V3_WEIGHTS = {"keras-v3-weights", "keras-v3-sharded-weights"}


def _whole_model(exp: dict) -> bool:
    """`model.save()` writes the architecture; `save_weights()` and `export()` do not."""
    return exp["call"].startswith("model.save(")


def _optimizer_config_lost(exp: dict) -> bool:
    """The fixture script noted that Keras wrote optimizer variables without naming the optimizer."""
    return "lacks compile_config.optimizer" in " ".join(exp.get("notes") or [])


def _names_not_recorded(exp: dict) -> bool:
    """tf-keras/Keras 2.13 `.weights.h5` files name layers by class (`dense_1`), not by `layer.name`
    (tf_keras/src/saving/saving_lib.py, `_save_container_state`)."""
    return exp["expect_format"] == "keras-v3-weights" and exp["stack"] in ("tfk", "k213")


def _snake(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", strip_registered_prefix(class_name)).lower()


def _id(rel: str) -> str:
    return f"synthetic-layout:{rel.split('/', 1)[-1]}" if ARTIFACTS[rel].get("synthetic") else rel


def _cases(applies=lambda exp: True) -> list:
    return [pytest.param(rel, id=_id(rel)) for rel in sorted(ARTIFACTS) if applies(ARTIFACTS[rel])]


_REPORTS: dict = {}


def _read(rel: str):
    if rel not in _REPORTS:
        _REPORTS[rel] = read_report(PathArtifact(str(FIXTURE_DIR / rel)))
    return ARTIFACTS[rel], _REPORTS[rel]


def test_every_fixture_file_listed_in_expected_json_is_there():
    # The committed set has every stack; a fresh regeneration (test_fixtures_regenerate.py) leaves out the
    # TF 2.13 stack, and its coverage of the committed kinds is checked there.
    if FIXTURE_DIR == FIXTURES:
        assert len(ARTIFACTS) > 100
    else:
        assert len(ARTIFACTS) > 90
    missing = [rel for rel in ARTIFACTS if not (FIXTURE_DIR / rel).exists()]
    assert missing == []


@pytest.mark.parametrize("rel", _cases())
def test_the_format_is_recognised_from_content(rel):
    exp, report = _read(rel)
    assert report.error is None, report.error
    assert report.format == exp["expect_format"]
    d = json.loads(report.to_json())
    assert list(d)[:1] == ["schema_version"] and d["format"] == exp["expect_format"]


@pytest.mark.parametrize("rel", _cases())
def test_parameter_totals_equal_count_params(rel):
    exp, report = _read(rel)
    assert report.params is not None
    assert report.params.total == exp["count_params"]


@pytest.mark.parametrize("rel", _cases(lambda e: _whole_model(e) or e.get("fixture_model") not in _FROZEN_MODELS))
def test_trainable_split_equals_live_keras(rel):
    exp, report = _read(rel)
    assert (report.params.trainable, report.params.non_trainable) == (exp["trainable"], exp["non_trainable"])


@pytest.mark.parametrize("rel", _cases(lambda e: not _whole_model(e) and e["call"].startswith("model.save_weights(")))
def test_a_weights_only_file_says_its_trainable_split_is_inferred(rel):
    # No config: frozen layers are invisible, and the report says so instead of guessing silently.
    exp, report = _read(rel)
    assert any(w.code == "trainable-inferred" for w in report.warnings)


@pytest.mark.parametrize("rel", _cases(lambda e: e["optimizer_in_file"]))
def test_optimizer_steps_match_and_are_never_counted_as_parameters(rel):
    exp, report = _read(rel)
    assert report.contents.optimizer_state and report.optimizer is not None
    assert report.optimizer.iterations == exp["optimizer"]["iterations"]
    assert report.params.total == exp["count_params"]  # Keras 3's summary counts them; count_params does not


@pytest.mark.parametrize("rel", _cases(lambda e: not e["optimizer_in_file"]))
def test_no_optimizer_state_is_reported_where_keras_saved_none(rel):
    exp, report = _read(rel)
    assert not report.contents.optimizer_state


@pytest.mark.parametrize("rel", _cases(lambda e: e["optimizer_in_file"] and e["expect_format"] not in _V3_WEIGHTS
                                         and not _optimizer_config_lost(e)))
def test_the_optimizer_class_is_the_live_one(rel):
    exp, report = _read(rel)
    live = exp["optimizer"]
    # tf-keras .keras archives record a LossScaleOptimizer's inner optimizer only.
    assert report.optimizer.class_name.split("(")[0] in {live["class_name"], live.get("inner_class_name")}


@pytest.mark.parametrize("rel", _cases(lambda e: e["optimizer_in_file"] and e["expect_format"] in _V3_WEIGHTS))
def test_a_keras3_weights_file_does_not_name_its_optimizer_and_we_do_not_guess(rel):
    # keras/src/saving/saving_lib.py writes only the optimizer's variables into .weights.h5.
    exp, report = _read(rel)
    assert report.optimizer.class_name is None


@pytest.mark.parametrize("rel", _cases(_optimizer_config_lost))
def test_an_archive_without_its_optimizer_config_says_so_and_names_no_optimizer(rel):
    exp, report = _read(rel)
    assert report.optimizer.class_name is None
    assert any(w.code == "optimizer-config-missing" for w in report.warnings)


@pytest.mark.parametrize("rel", _cases(_whole_model))
def test_layers_in_order_with_their_parameters_and_classes_match_model_layers(rel):
    exp, report = _read(rel)
    assert [(l.name, l.params) for l in report.layers] == [(l["name"], l["params"]) for l in exp["layers"]]
    assert [l.class_name for l in report.layers] == [strip_registered_prefix(l["class_name"]) for l in exp["layers"]]


@pytest.mark.parametrize("rel", _cases(lambda e: not _whole_model(e) and not _names_not_recorded(e)))
def test_each_weighted_layer_of_a_weights_only_file_has_its_live_parameter_count(rel):
    exp, report = _read(rel)
    got = {l.name: l.params for l in report.layers if l.params}
    want = {l["name"]: l["params"] for l in exp["layers"] if l["params"]}
    assert got == want


@pytest.mark.parametrize("rel", _cases(_names_not_recorded))
def test_layers_of_a_tf_keras_weights_h5_have_their_live_class_and_parameter_count(rel):
    # The file says `dense_1`, not `head`: compare each layer's kind (its class, snake-cased) and count.
    exp, report = _read(rel)
    got = Counter((re.sub(r"_\d+$", "", l.name), l.params) for l in report.layers if l.params)
    want = Counter((_snake(l["class_name"]), l["params"]) for l in exp["layers"] if l["params"])
    assert got == want


@pytest.mark.parametrize("rel", _cases(lambda e: e["expect_format"] in _VERSIONED_FORMATS))
def test_the_keras_version_is_the_one_that_wrote_the_file(rel):
    exp, report = _read(rel)
    assert report.keras_version == exp["keras_version"]


@pytest.mark.parametrize("rel", _cases(_whole_model))
def test_model_class_name_and_findings(rel):
    exp, report = _read(rel)
    assert report.contents.architecture and report.model is not None
    if exp["model_name"] is not None:  # Keras <= 2.1 Sequential configs carry no name
        assert report.model.name == exp["model_name"]
    assert report.model.class_name == strip_registered_prefix(exp["model_class"])
    codes = {w.code for w in report.warnings}
    assert ("lambda-layer" in codes) == bool(exp["has_lambda"])
    custom = " ".join(w.message for w in report.warnings if w.code == "custom-object")
    assert all(strip_registered_prefix(cls) in custom for cls in exp["custom_classes"])
    assert ("mixed-precision" in codes) == bool(exp.get("mixed_precision") and exp["mixed_precision"].startswith("mixed_"))


@pytest.mark.parametrize("rel", _cases(lambda e: _whole_model(e) and e["loss"] is not None))
def test_loss_and_metrics_are_the_compiled_ones(rel):
    exp, report = _read(rel)
    assert report.contents.training_config and report.training is not None
    assert (report.training.loss, report.training.metrics) == (exp["loss"], exp["metrics"])


@pytest.mark.parametrize("rel", _cases(lambda e: not _whole_model(e) or e["loss"] is None))
def test_no_training_config_where_the_file_has_none(rel):
    exp, report = _read(rel)
    assert not report.contents.training_config and report.training is None
