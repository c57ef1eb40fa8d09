"""Reload advice as stories, without TensorFlow: which Keras, which snippet, which caveat, and why.

Every snippet and stated failure here is also executed against real Keras 3, tf-keras and
TensorFlow 2.13 by test_reload_advice_matrix.py; these stories pin the decisions themselves
and the contract (`reload.python` loads the path exactly as given and binds `model`).
"""

from __future__ import annotations

import ast

import pytest

from bot.analysis import PathArtifact, read_report
from bot.analysis.advice.advisor import add_reload
from bot.report import (
    Contents,
    Finding,
    LayerInfo,
    ModelInfo,
    Report,
    SourceInfo,
    TrainingInfo,
    WeightInfo,
)
from tests.conftest import FIXTURES


def _fixture(name: str) -> Report:
    return read_report(PathArtifact(str(FIXTURES / name)))


def _options(report: Report) -> dict[tuple[str, bool], object]:
    return {(o.loader, o.works): o for o in report.reload.options}


def test_keras_2_h5_with_a_string_loss_loads_in_keras_3_with_compile_false_and_says_what_is_lost():
    r = _fixture("tfk__seq__save.h5")
    k3 = _options(r)[("keras3", True)]
    assert "compile=False" in k3.load and not k3.restores_optimizer
    assert any("optimizer state" in c for c in k3.caveats)
    tfk = _options(r)[("tf_keras", True)]
    assert tfk.restores_optimizer and "compile=False" not in tfk.load


def test_keras_3_h5_compiles_unless_the_loss_is_a_short_alias():
    assert "compile=False" not in _fixture("k3__toy__save.h5").reload.python  # sparse_categorical_crossentropy
    assert "compile=False" in _fixture("k3__seq__save.h5").reload.python  # "mse"


def test_nested_keras_2_h5_goes_to_tf_keras_and_names_the_keras_3_error():
    r = _fixture("tfk__nested__save.h5")
    assert r.reload.options[0].loader == "tf_keras" and r.reload.python.startswith("import tf_keras")
    assert _options(r)[("keras3", False)].error == "Invalid Functional model configuration"


def test_savedmodels_get_tfsmlayer_for_inference_and_the_keras_3_load_model_error():
    r = _fixture("k3__toy__export")
    assert "keras.layers.TFSMLayer(" in r.reload.python and "call_endpoint='serving_default'" in r.reload.python
    assert _options(r)[("keras3", False)].error.startswith("File format not supported")


def test_lambda_layers_get_safe_mode_false_with_a_plain_warning():
    r = _fixture("k3__lambda__save.keras")
    assert "safe_mode=False" in r.reload.python
    assert any("runs the Python code" in c and "trust" in c for c in r.reload.options[0].caveats)


def test_custom_classes_are_imported_and_passed_by_name():
    r = _fixture("k3__custom_unregistered__save.keras")
    assert "custom_objects={'Shift': Shift}" in r.reload.python
    assert "import Shift" in r.reload.python


def test_keras_2_13_archives_get_a_rescue_and_the_tensorflow_that_wrote_them():
    r = _fixture("k213__toy__save.keras")
    assert not any(o.works for o in r.reload.options if o.loader in ("keras3", "tf_keras") and not o.build_first)
    rescue = next(o for o in r.reload.options if o.works)
    assert rescue.works and rescue.build_first and "_layer_checkpoint_dependencies" in rescue.load
    assert _options(r)[("tf2.13", True)].python.startswith("import tensorflow as tf")


def test_weights_files_ask_for_the_architecture_and_list_the_expected_layers():
    r = _fixture("tfk__toy__save_weights.h5")
    assert r.reload.options[0].build_first
    assert "model = build_model()" in r.reload.python
    assert "#   dense" in r.reload.python and "kernel (4, 3)" in r.reload.python


def test_a_keras_3_weights_file_with_optimizer_state_offers_resume_training():
    r = _fixture("k3__toy__save_weights.weights.h5")
    resume = next(o for o in r.reload.options if o.restores_optimizer)
    assert "model.optimizer.build(model.trainable_variables)" in resume.load
    assert resume.load.index("optimizer.build") < resume.load.index("load_weights")


@pytest.mark.parametrize("uri", ["s3://bucket/runs/7/model.keras", "https://example.org/m.h5",
                                 "it's a \"quoted\" name.keras"])
def test_the_snippet_loads_the_path_exactly_as_given_and_binds_model(uri):
    r = Report(source=SourceInfo(uri.rsplit("/", 1)[-1], uri), format="keras-v3-archive", keras_version="3.15.1",
               contents=Contents(architecture=True, weights=True), model=ModelInfo("Functional", "m"))
    add_reload(r)
    tree = ast.parse(r.reload.python)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert uri in strings
    assert any(isinstance(n, ast.Name) and n.id == "model" and isinstance(n.ctx, ast.Store) for n in ast.walk(tree))


def test_every_emitted_snippet_is_valid_python():
    for path in sorted(FIXTURES.rglob("*")):
        if path.name == "expected.json" or path.parent.name.endswith(("_unzipped", "_export", "_savedmodel")):
            continue
        r = read_report(PathArtifact(str(path)))
        for o in r.reload.options:
            ast.parse(o.python)
            ast.parse(o.load or "pass")


def test_a_keras_2_0_sequential_goes_to_tf_keras_because_keras_3_cannot_read_its_config():
    r = Report(source=SourceInfo("x", "x"), format="keras-h5-model", keras_version="2.0.5",
               contents=Contents(architecture=True, weights=True, training_config=True),
               model=ModelInfo("Sequential", "s"), training=TrainingInfo(loss="mse"),
               layers=[LayerInfo("lstm", "LSTM", 1, [WeightInfo("lstm/kernel:0", [1], "float32")])],
               warnings=[Finding("mixed-precision", "…")])
    add_reload(r)
    # Keras 3 fails on the bare-list Sequential config first; tf-keras reads it.
    assert r.reload.options[0].loader == "tf_keras"
    assert _options(r)[("keras3", False)].error == "pop expected at most 1 argument, got 2"
