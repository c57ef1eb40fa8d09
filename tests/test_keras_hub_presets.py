"""KerasHub presets (folder, its config.json, a zip), quantized and sharded ones, LoRA adapter files and
plain .keras files using KerasHub layers are reported as KerasHub itself loads them.

Fixtures: tests/fixtures/make_keras2026.py --part hub (real keras_hub 0.32 classes, tiny configs, no
downloads).  Each entry's figures are those of the object `from_preset` (or the advised recipe)
returned.  The reload snippets ckptbot prints are run verbatim in Keras 3 + KerasHub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.analysis import PathArtifact, read_report
from tests.conftest import ROOT
from tests.test_keras2026_files import ARTIFACTS, FIXTURE_DIR

HUB = {k: v for k, v in ARTIFACTS.items() if k.startswith("hub__")}
PRESETS = {k: v for k, v in HUB.items() if v["kind"] == "preset"}


def _report(rel: str):
    return read_report(PathArtifact(str(FIXTURE_DIR / rel)))


@pytest.fixture(params=sorted(HUB), ids=lambda p: p)
def case(request):
    return request.param, HUB[request.param], _report(request.param)


def test_format_and_parameters_equal_the_object_keras_hub_returns(case):
    rel, exp, report = case
    assert report.error is None, report.error
    assert report.format == exp["expect_format"]
    assert (report.params.total, report.params.trainable, report.params.non_trainable) == (
        exp["count_params"], exp["trainable"], exp["non_trainable"])


@pytest.mark.parametrize("rel", sorted(PRESETS))
def test_the_preset_names_backbone_task_tokenizer_and_versions(rel):
    exp, report = PRESETS[rel], _report(rel)
    assert report.preset.backbone == exp["backbone"]
    assert report.model.class_name == exp["reload_class"]
    if exp["tasks"]:
        assert report.preset.tasks == exp["tasks"]
    assert report.preset.keras_hub_version == "0.32.0"
    assert report.preset.metadata_parameter_count == exp["backbone_params"]
    if exp["tokenizer"]:
        assert (report.preset.tokenizer.class_name, report.preset.tokenizer.vocabulary_size) == (
            exp["tokenizer"], exp["vocabulary_size"])
    else:
        assert report.preset.tokenizer is None
    assert not any(w.code == "preset-parameter-count-mismatch" for w in report.warnings)


@pytest.mark.parametrize("rel", sorted(PRESETS))
def test_no_layer_of_a_preset_is_unknown(rel):
    report = _report(rel)
    assert report.layers and all(l.class_name != "unknown" for l in report.layers)


def test_a_quantized_preset_says_so_and_counts_what_keras_counts():
    exp, report = PRESETS["hub__gemma_int8"], _report("hub__gemma_int8")
    assert report.quantization.mode == "int8"
    assert any(w.code == "quantized-preset-from-preset" for w in report.warnings)
    assert exp["from_preset_error"] and "could not be loaded" in exp["from_preset_error"]
    failing = [o for o in report.reload.options if not o.works]
    assert failing and failing[0].error in exp["from_preset_error"]


def test_a_sharded_preset_is_read_across_its_shards():
    report = _report("hub__gemma_sharded")
    assert "sharded in 4 file(s)" in report.format_detail


def test_metadata_parameter_count_disagreeing_with_the_weights_is_a_warning(tmp_path):
    import shutil

    dst = tmp_path / "preset"
    shutil.copytree(FIXTURE_DIR / "hub__vit_classifier", dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta["parameter_count"] += 1000
    (dst / "metadata.json").write_text(json.dumps(meta))
    report = read_report(PathArtifact(str(dst)))
    assert any(w.code == "preset-parameter-count-mismatch" for w in report.warnings)


def test_missing_pieces_of_a_preset_are_named(tmp_path):
    import shutil

    dst = tmp_path / "preset"
    shutil.copytree(FIXTURE_DIR / "hub__gemma_sharded", dst)
    os.remove(dst / "model_00002.weights.h5")
    shutil.copytree(FIXTURE_DIR / "hub__bert_classifier", tmp_path / "bert")
    shutil.rmtree(tmp_path / "bert" / "assets")
    os.remove(tmp_path / "bert" / "model.weights.h5")
    sharded = read_report(PathArtifact(str(dst)))
    bert = read_report(PathArtifact(str(tmp_path / "bert")))
    assert any(w.code == "missing-shards" for w in sharded.warnings)
    codes = {w.code for w in bert.warnings}
    assert {"preset-missing-weights", "preset-missing-tokenizer-assets"} <= codes


@pytest.mark.parametrize("rel", sorted(k for k, v in HUB.items() if v["kind"] == "keras-with-hub-layers"))
def test_a_plain_keras_file_with_keras_hub_classes_imports_keras_hub(rel):
    report = _report(rel)
    assert "import keras_hub" in report.reload.python
    assert "my_project" not in report.reload.python
    assert not any(w.code == "custom-object" for w in report.warnings)
    assert report.model.class_name == HUB[rel]["model_class"]
    assert all(l.class_name != "unknown" for l in report.layers)
    # Live model.layers may also list a layer shared with the backbone (a CausalLM's tied token_embedding),
    # whose weights the file keeps once, under the backbone.
    live = {l["name"]: l["class_name"] for l in HUB[rel]["layers"] if l["params"]}
    mine = {l.name: l.class_name for l in report.layers if l.params}
    assert mine and all(live[name] == cls for name, cls in mine.items()), (mine, live)


_RUNNER = r'''
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, sys.argv[1])
import numpy as np
from fixture_keras2026 import live_figures
out = {}
for case in json.load(sys.stdin):
    scope = {}
    exec(case["python"], scope)
    out[case["id"]] = live_figures(scope["model"])
print(json.dumps(out))
'''


@pytest.mark.keras
def test_reload_snippets_run_verbatim_in_keras_hub_and_give_the_live_counts():
    cases = []
    for rel, exp in HUB.items():
        report = _report(rel)
        python = report.reload.python
        assert python, rel
        if "PRESET = " in python:  # the adapters alone do not name their preset: the user fills it in
            python = python.replace('"path/or/handle/of/the/base/preset"', repr(str(FIXTURE_DIR / exp["applied_to"])))
            exp = {**exp, **exp["with_preset"]}
        cases.append({"id": rel, "python": python, "expect": [exp["count_params"], exp["trainable"]]})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "-c", _RUNNER, str(ROOT / "tests" / "fixtures")], input=json.dumps(cases),
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(got) == {c["id"] for c in cases}
    for c in cases:
        assert [got[c["id"]]["count_params"], got[c["id"]]["trainable"]] == c["expect"], c["id"]


def test_a_quantized_task_preset_loads_through_its_task_class():
    exp, report = PRESETS["hub__gemma_causal_lm_int8"], _report("hub__gemma_causal_lm_int8")
    assert report.quantization.mode == "int8"
    assert "GemmaCausalLM.from_preset" in report.reload.python
    assert exp["backbone_from_preset_error"] and "could not be loaded" in exp["backbone_from_preset_error"]
    assert "task class's `from_preset`" in next(w.message for w in report.warnings
                                                 if w.code == "quantized-preset-from-preset")
