"""Files current Keras writes — quantized, LoRA, compile(optimizer="adam") — are reported as live Keras sees them.

Fixtures and figures: tests/fixtures/make_keras2026.py (real Keras 3.15.1 and TF 2.13 tf.keras);
each entry's figures are those of the object Keras returned when loading the file the way the
entry's `reload` says.  The reload snippets ckptbot prints are run verbatim in real Keras here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis import PathArtifact, read_report
from tests.conftest import ROOT

FIXTURE_DIR = Path(os.environ.get("CKPTBOT_KERAS2026_DIR", ROOT / "tests" / "fixtures" / "keras2026"))
ARTIFACTS = json.loads((FIXTURE_DIR / "expected.json").read_text())["artifacts"]
KERAS_FILES = {k: v for k, v in ARTIFACTS.items() if v["kind"] in ("quantized", "lora", "compile")}


def _report(rel: str):
    return read_report(PathArtifact(str(FIXTURE_DIR / rel)))


@pytest.fixture(params=sorted(KERAS_FILES), ids=lambda p: p)
def case(request):
    return request.param, KERAS_FILES[request.param], _report(request.param)


def test_format_and_parameters_equal_what_live_keras_reports_after_loading(case):
    rel, exp, report = case
    assert report.error is None, report.error
    assert report.format == exp["expect_format"]
    assert (report.params.total, report.params.trainable, report.params.non_trainable) == (
        exp["count_params"], exp["trainable"], exp["non_trainable"])


@pytest.mark.parametrize("rel", sorted(k for k, v in KERAS_FILES.items() if "layers" in v))
def test_each_layer_counts_what_live_keras_counts(rel):
    exp, report = KERAS_FILES[rel], _report(rel)
    live = {l["name"]: l for l in exp["layers"]}
    mine = {l.name: l for l in report.layers}
    for name, layer in live.items():
        if layer["params"]:
            assert mine[name].params == layer["params"], name
            assert sorted(w.shape for w in mine[name].weights) == sorted(w["shape"] for w in layer["weights"]), name


def test_quantized_layers_name_their_mode_and_the_model_is_summarised():
    for rel, exp in KERAS_FILES.items():
        if exp["kind"] != "quantized":
            continue
        report = _report(rel)
        live_quantized = [l["name"] for l in exp["layers"]
                          if any(w["dtype"] == "int8" or "amax" in w["name"] for w in l["weights"])]
        assert report.quantization is not None, rel
        assert report.quantization.mode == exp["mode"], rel
        assert report.quantization.layers == len(live_quantized), rel
        got = {l.name for l in report.layers if l.quantization}
        assert got == set(live_quantized), rel
        assert any(w.code == "quantized" for w in report.warnings), rel


def test_int4_kernels_show_their_unpacked_shape_from_keras_3_14_on():
    report = _report("k3__dense3__int4.weights.h5")
    d1 = next(l for l in report.layers if l.name == "d1")
    kernel = next(w for w in d1.weights if w.name.endswith("/kernel"))
    assert kernel.shape == [32, 32]  # stored: Dense(64) on 32 inputs, two 4-bit values per byte
    assert "kernel (32, 64)" in report.reload.python  # the float layer the user builds


def test_lora_layers_report_their_rank_and_the_adapters_keras_recreates():
    for rel, exp in KERAS_FILES.items():
        if "lora_ranks" not in exp:
            continue
        report = _report(rel)
        assert {l.name: l.lora_rank for l in report.layers if l.lora_rank} == exp["lora_ranks"], rel
        assert any(w.code == "lora-merged" for w in report.warnings), rel
        live_names = {w["name"] for l in exp["layers"] for w in l["weights"]}
        adapters = {w.name for l in report.layers for w in l.weights if "/lora_" in w.name}
        assert adapters and adapters <= live_names, rel


def test_the_optimizer_class_is_named_whatever_shape_the_compile_config_has():
    for rel, exp in KERAS_FILES.items():
        if exp["kind"] != "compile":
            continue
        report = _report(rel)
        assert report.optimizer is not None and report.optimizer.class_name == exp["optimizer_class"], rel
        assert report.training.loss == exp["loss"], rel


def test_the_string_form_is_what_keras_2_13_wrote():
    import zipfile

    cfg = json.loads(zipfile.ZipFile(FIXTURE_DIR / "k213__compile_adam.keras").read("config.json"))
    assert cfg["compile_config"]["optimizer"] == "adam"


_RUNNER = r'''
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, sys.argv[1])
import keras, numpy as np
from fixture_keras2026 import BUILDERS, live_figures
out = {}
for case in json.load(sys.stdin):
    build_model = lambda: BUILDERS[case["model"]](keras)
    scope = {"build_model": build_model}
    exec(case["python"], scope)
    out[case["id"]] = live_figures(scope["model"])
print(json.dumps(out))
'''


@pytest.mark.keras
def test_reload_snippets_run_verbatim_and_give_the_live_counts():
    cases = []
    for rel, exp in KERAS_FILES.items():
        if exp["kind"] == "compile" and rel.startswith("k213"):
            continue  # tf.keras 2.13 archives: covered by the reload-advice matrix
        report = _report(rel)
        assert report.reload.python, rel
        cases.append({"id": rel, "python": report.reload.python, "model": exp.get("fixture_model", "dense3")})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "-c", _RUNNER, str(ROOT / "tests" / "fixtures")], input=json.dumps(cases),
                         capture_output=True, text=True, cwd=FIXTURE_DIR, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    for rel, live in got.items():
        exp = KERAS_FILES[rel]
        assert (live["count_params"], live["trainable"]) == (exp["count_params"], exp["trainable"]), rel


def test_weights_only_int4_files_get_the_block_size_they_were_quantized_with():
    for rel, exp in KERAS_FILES.items():
        if "block_size" in exp:
            python = _report(rel).reload.python
            assert f"Int4QuantizationConfig(block_size={exp['block_size']})" in python, rel


def test_a_gptq_file_keras_cannot_reload_says_why():
    exp = ARTIFACTS["k3__lm__gptq.keras"]
    report = _report("k3__lm__gptq.keras")
    assert report.quantization.mode == "gptq" and report.quantization.layers == 3
    assert exp["load_model_error"] and "expected 5 variables, but received 4" in exp["load_model_error"]
    warning = next(w for w in report.warnings if w.code == "gptq-missing-zero-point")
    assert "expected 5 variables, but received 4" in warning.message
    names = {w.name.rsplit("/", 1)[-1] for l in report.layers if l.quantization for w in l.weights}
    assert names == {"bias", "quantized_kernel", "kernel_scale", "g_idx"}
    assert report.reload.python == "" and not report.reload.options[0].works
    assert report.reload.options[0].error in exp["load_model_error"]
