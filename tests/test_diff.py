"""`diff` stories: what changed between two files, told from their Reports.

Real fixtures for format and writer changes (the same `toy` saved by Keras 3 and tf-keras),
hand-written Reports for the shape-level cases (rename, reshape, dtype), and the CLI end to end.
"""

from __future__ import annotations

import json

from bot.analysis import PathArtifact, read_report
from bot.compare.diff import diff_reports
from bot.report import (
    LayerInfo,
    OptimizerInfo,
    Params,
    Report,
    ReportError,
    SourceInfo,
    WeightInfo,
)
from tests.conftest import FIXTURES, run_cli


def _fixture(name: str) -> Report:
    return read_report(PathArtifact(str(FIXTURES / name)))


def _report(layers: list[tuple[str, str, list[tuple[str, list[int], str]]]], steps: int | None = None) -> Report:
    infos = [LayerInfo(name, cls, sum(_size(s) for _, s, _ in ws), [WeightInfo(f"{name}/{w}", s, d) for w, s, d in ws])
             for name, cls, ws in layers]
    total = sum(l.params for l in infos)
    opt = OptimizerInfo("Adam", steps, 0.001, 0) if steps is not None else None
    return Report(source=SourceInfo("m.keras", "m.keras"), format="keras-v3-archive", keras_version="3.15.1",
                  layers=infos, params=Params(total), optimizer=opt)


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


TOY = [("dense", "Dense", [("kernel", [4, 3], "float32"), ("bias", [3], "float32")]),
       ("head", "Dense", [("kernel", [3, 2], "float32"), ("bias", [2], "float32")])]


def test_the_same_model_saved_by_keras_3_and_tf_keras_differs_only_in_format_and_writer():
    result = diff_reports(_fixture("k3__toy__save.keras"), _fixture("tfk__toy__save.h5"))
    assert result.error is None
    assert result.same_architecture is True
    assert result.layers == [] and result.weights == []
    assert result.params_delta == 0 and result.steps_delta == 0
    assert "Format: keras-v3-archive → keras-h5-model" in result.changes
    assert "Written by Keras 3.15.1 → 2.21.0" in result.changes


def test_a_nested_model_replaces_two_layers_with_one_submodel():
    result = diff_reports(_fixture("k3__toy__save.keras"), _fixture("k3__nested__save.keras"))
    assert {(c.change, c.name_a or c.name_b) for c in result.layers} == {
        ("removed", "dense"), ("removed", "bn"), ("added", "inner")}
    assert result.params_delta == (27 + 8) - 35
    assert result.steps_delta == 4 - 7
    assert result.same_architecture is False


def test_a_renamed_layer_with_the_same_shapes_is_a_rename_not_an_add_and_a_remove():
    b = [("dense", "Dense", TOY[0][2]), ("classifier", "Dense", TOY[1][2])]
    result = diff_reports(_report(TOY), _report(b))
    assert [(c.change, c.name_a, c.name_b) for c in result.layers] == [("renamed", "head", "classifier")]
    assert result.weights == []


def test_a_wider_layer_shows_each_reshaped_weight_and_the_parameter_delta():
    b = [("dense", "Dense", [("kernel", [4, 5], "float32"), ("bias", [5], "float32")]),
         ("head", "Dense", [("kernel", [5, 2], "float32"), ("bias", [2], "float32")])]
    result = diff_reports(_report(TOY, steps=10), _report(b, steps=25))
    assert [(w.layer, w.weight, w.change, w.shape_a, w.shape_b) for w in result.weights] == [
        ("dense", "kernel", "reshaped", [4, 3], [4, 5]), ("dense", "bias", "reshaped", [3], [5]),
        ("head", "kernel", "reshaped", [3, 2], [5, 2])]
    assert result.params_delta == (20 + 5 + 10 + 2) - (12 + 3 + 6 + 2)
    assert result.steps_delta == 15
    assert "Steps trained: 10 → 25 (+15)" in result.changes


def test_a_dtype_change_and_an_added_weight_are_reported_per_weight():
    b = [("dense", "Dense", [("kernel", [4, 3], "float16"), ("bias", [3], "float32")]),
         ("head", "Dense", [("kernel", [3, 2], "float32"), ("bias", [2], "float32"), ("scale", [2], "float32")])]
    result = diff_reports(_report(TOY), _report(b))
    assert [(w.layer, w.weight, w.change) for w in result.weights] == [
        ("dense", "kernel", "dtype-changed"), ("head", "scale", "added")]


def test_a_keras_2_weight_name_pairs_with_its_keras_3_name():
    # 'dense/kernel:0' (tf-keras .h5) and 'dense/kernel' (Keras 3) are the same weight.
    result = diff_reports(_fixture("tfk__toy__save_weights.h5"), _fixture("k3__toy__save_weights.weights.h5"))
    assert result.weights == []


def test_an_unreadable_side_makes_an_error_result_not_an_exception():
    bad = Report(source=SourceInfo("x.bin", "x.bin"), format="not-a-model", error=ReportError("unknown", "nope"))
    result = diff_reports(_report(TOY), bad)
    assert result.error is not None and result.error.message.startswith("B (x.bin)")
    assert result.to_dict()["error"]["code"] == "unknown"


def test_cli_diff_json_is_the_documented_contract():
    proc = run_cli("diff", str(FIXTURES / "k3__toy__save.keras"), str(FIXTURES / "k3__nested__save.keras"), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert list(d) == ["schema_version", "a", "b", "same_architecture", "changes", "layers", "weights",
                       "params_delta", "steps_delta", "values", "values_note", "error"]
    assert d["a"]["steps_trained"] == 7 and d["b"]["steps_trained"] == 4
    assert d["values"] is None


def test_cli_diff_of_a_missing_file_is_a_clear_error():
    proc = run_cli("diff", str(FIXTURES / "k3__toy__save.keras"), str(FIXTURES / "nope.keras"), "--json")
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"]["message"]
