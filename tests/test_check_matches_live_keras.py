"""`check` says what real `model.load_weights` does: same verdict, Keras' own words, silent skips included.

A Keras 3 subprocess saves variants of the reference model `toy` (inp → dense → bn → head):
one without the BatchNormalization (a v3 file's extra `batch_normalization` group is then
ignored without a word), one with a wider first Dense (shape mismatch), one with an extra
Dense at the end (a group the file does not have), one with every layer renamed (v3 loads by
path, legacy H5 by position); plus the nested and Sequential fixture models.  Then every weights fixture of `toy` (v3 from Keras 3 and
tf-keras, Keras 2.13's layout, legacy weights-only and full-model H5, a `.keras` used as
weights) is loaded into every variant with `load_weights`, in one Keras 3 process, and the
outcome is compared with `check_reports` on the two Reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis import PathArtifact, read_report
from bot.compare.compat import check_reports
from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.keras

RUNNER = ROOT / "tests" / "keras_snippet_runner.py"
RUNNER_TIMEOUT_S = 600
WEIGHTS = [
    "k3__toy__save_weights.weights.h5",
    "tfk__toy__save_weights.weights.h5",
    "k213__toy__save_weights.weights.h5",
    "tfk__toy__save_weights.h5",
    "k213__toy__save_weights.h5",
    "tfk__toy__save.h5",
    "k3__toy__save.h5",
    "k3__toy__save.keras",
]
VARIANTS_SCRIPT = r'''
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
L = keras.layers
out = sys.argv[1]

def toy(name, units=3, bn=True, extra=False, prefix=""):
    inp = keras.Input((4,), name=prefix + "inp")
    x = L.Dense(units, name=prefix + "dense")(inp)
    if bn:
        x = L.BatchNormalization(name=prefix + "bn")(x)
    x = L.Dense(2, activation="softmax", name=prefix + "head")(x)
    if extra:
        x = L.Dense(2, name="extra")(x)
    keras.Model(inp, x, name=name).save(os.path.join(out, name + ".keras"))

toy("same")
toy("no_bn", bn=False)
toy("wide", units=5)
toy("extra_layer", extra=True)
toy("renamed", prefix="r_")
'''
VARIANTS = ["same", "no_bn", "wide", "extra_layer", "renamed", "fixture:k3__nested__save.keras",
            "fixture:k3__seq__save.keras"]


def _against(tmp: Path, variant: str) -> Path:
    return FIXTURES / variant.split(":", 1)[1] if variant.startswith("fixture:") else tmp / f"{variant}.keras"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("check")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", VARIANTS_SCRIPT, str(tmp)], check=True, env=env, cwd=tmp,
                   capture_output=True, timeout=RUNNER_TIMEOUT_S)
    cases = [{"id": f"{w}|{v}", "load": f"model.load_weights({str(FIXTURES / w)!r})",
              "check": {"against": str(_against(tmp, v))}} for w in WEIGHTS for v in VARIANTS]
    proc = subprocess.run([sys.executable, str(RUNNER), "--stack", "k3"], input=json.dumps(cases), text=True,
                          capture_output=True, env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp,
                          timeout=RUNNER_TIMEOUT_S)
    assert "@@RESULTS@@" in proc.stdout, proc.stderr[-3000:]
    results = json.loads(proc.stdout.split("@@RESULTS@@", 1)[1])
    return tmp, {r["id"]: r for r in results}


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_check_verdict_equals_what_load_weights_does(weights, variant, live):
    tmp, results = live
    outcome = results[f"{weights}|{variant}"]
    result = check_reports(read_report(PathArtifact(str(FIXTURES / weights))),
                           read_report(PathArtifact(str(_against(tmp, variant)))))
    assert result.error is None, result.error
    if result.verdict == "fails":
        assert not outcome["ok"], f"check says it fails ({result.keras_error}), but Keras loaded it"
        # Keras' words: the message check quotes is in what Keras raised.
        key = _flat(result.keras_error).split(":", 1)[-1].strip() if "objects could not be loaded" in \
            result.keras_error else _flat(result.keras_error)
        assert key.split(" Expected:")[0] in outcome["error"], (result.keras_error, outcome["error"])
        if "objects could not be loaded" in result.keras_error:  # the same number of objects, too
            assert result.keras_error.split(" Example")[0] in outcome["error"], outcome["error"]
    else:
        assert outcome["ok"], f"check says {result.verdict}, but Keras raised {outcome['error']}"


def test_the_silent_extra_layers_case_is_called_out(live):
    tmp, results = live
    assert results["k3__toy__save_weights.weights.h5|no_bn"]["ok"]  # Keras: no error...
    assert not any("batch_normalization" in w for w in results["k3__toy__save_weights.weights.h5|no_bn"]["warnings"])
    result = check_reports(read_report(PathArtifact(str(FIXTURES / "k3__toy__save_weights.weights.h5"))),
                           read_report(PathArtifact(str(tmp / "no_bn.keras"))))
    assert result.verdict == "loads-with-skips"  # ...but check says what was dropped
    assert [l.saved_as for l in result.layers if l.status == "ignored"] == ["layers/batch_normalization"]


def test_legacy_weights_into_a_smaller_model_fail_with_the_layer_count_message(live):
    tmp, results = live
    result = check_reports(read_report(PathArtifact(str(FIXTURES / "tfk__toy__save_weights.h5"))),
                           read_report(PathArtifact(str(tmp / "no_bn.keras"))))
    assert result.verdict == "fails"
    assert result.keras_error == ("Layer count mismatch when loading weights from file. Model expected 2 layers, "
                                  "found 3 saved layers.")
    assert result.keras_error in results["tfk__toy__save_weights.h5|no_bn"]["error"]
