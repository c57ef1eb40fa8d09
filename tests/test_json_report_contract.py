"""`ckptbot inspect --json` prints exactly one JSON object with the agreed keys, and the exit code says
whether it was a model.  Scripts and CI rely on this."""

from __future__ import annotations

import json

import pytest

from bot.report import FORMATS, Report
from tests.conftest import FIXTURES, run_cli

TOP_KEYS = {"schema_version", "source", "format", "contents", "keras_version", "backend", "model", "params",
            "layers", "optimizer", "size_breakdown", "warnings", "reload", "error"}


@pytest.mark.parametrize("name", ["tfk__toy__save.h5", "k3__toy__save.keras", "k3__toy__save_weights.weights.h5"])
def test_inspect_json_is_one_object_with_the_agreed_shape(name):
    res = run_cli("inspect", str(FIXTURES / name), "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)  # exactly one JSON document: json.loads rejects trailing data
    assert TOP_KEYS <= set(d)
    assert d["schema_version"] == 1
    assert d["format"] in FORMATS
    assert set(d["source"]) == {"name", "uri", "size_bytes"}
    assert d["source"]["uri"] == str(FIXTURES / name)
    assert set(d["contents"]) == {"architecture", "weights", "optimizer_state", "training_config"}
    assert {"total", "trainable", "non_trainable"} <= set(d["params"])
    for layer in d["layers"]:
        assert {"name", "class_name", "params", "weights"} <= set(layer)
        for w in layer["weights"]:
            assert set(w) == {"name", "shape", "dtype"}
    assert {"class_name", "iterations", "learning_rate", "state_bytes"} <= set(d["optimizer"])
    assert set(d["size_breakdown"]) == {"weights_bytes", "optimizer_bytes", "other_bytes"}
    assert {"summary", "python"} <= set(d["reload"])
    assert d["error"] is None
    assert str(FIXTURES / name) in d["reload"]["python"]  # the path exactly as given


def test_the_report_round_trips_through_json():
    res = run_cli("inspect", str(FIXTURES / "tfk__nested__save.h5"), "--json")
    d = json.loads(res.stdout)
    assert Report.from_json(res.stdout).to_dict() == d


def test_relative_paths_stay_relative_in_the_snippet():
    rel = "tests/fixtures/keras/tfk__toy__save.h5"
    res = run_cli("inspect", rel, "--json")
    assert res.returncode == 0
    assert repr(rel) in json.loads(res.stdout)["reload"]["python"]


def test_terminal_report_leads_with_the_verdict():
    res = run_cli("inspect", str(FIXTURES / "tfk__toy__save.h5"))
    assert res.returncode == 0
    first = res.stdout.strip().splitlines()[0]
    assert "Full model" in first and "Keras 2.21.0" in first and "Adam state after 7" in first


def test_usage_errors_have_their_own_exit_code():
    res = run_cli("inspect")
    assert res.returncode == 64
    assert "usage" in res.stderr.lower()
