"""`ckptbot check` end to end: exit codes, the JSON contract, and clear errors for bad input.

The verdicts themselves are compared with real `load_weights` in test_check_matches_live_keras.py;
these stories need no TensorFlow.
"""

from __future__ import annotations

import json

from bot import service
from tests.conftest import FIXTURES, run_cli

EXIT_OK, EXIT_CHECK_FAILS = 0, 3


def test_weights_into_their_own_architecture_load_and_exit_zero():
    proc = run_cli("check", str(FIXTURES / "k3__toy__save_weights.weights.h5"), "--against",
                   str(FIXTURES / "k3__toy__save.keras"), "--json")
    assert proc.returncode == EXIT_OK, proc.stderr
    d = json.loads(proc.stdout)
    assert list(d) == ["schema_version", "weights", "against", "keras", "rule", "call", "verdict", "reason",
                       "keras_error", "layers", "notes", "error"]
    assert (d["verdict"], d["rule"], d["keras"]) == ("loads", "by-path", "Keras 3")
    assert [l["status"] for l in d["layers"]] == ["loads", "loads", "loads"]


def test_legacy_weights_into_a_nested_model_fail_with_keras_words_and_exit_three():
    proc = run_cli("check", str(FIXTURES / "tfk__toy__save_weights.h5"), "--against",
                   str(FIXTURES / "k3__nested__save.keras"), "--json")
    assert proc.returncode == EXIT_CHECK_FAILS
    d = json.loads(proc.stdout)
    assert d["verdict"] == "fails" and d["rule"] == "topological"
    assert d["keras_error"] == ("Layer count mismatch when loading weights from file. Model expected 2 layers, "
                                "found 3 saved layers.")


def test_keras_2_13_weights_fail_on_the_counter_gap_as_keras_3_does():
    result = service.check(str(FIXTURES / "k213__toy__save_weights.weights.h5"), str(FIXTURES / "k3__toy__save.keras"),
                           allow_any_local=True, isolate=False)
    assert result.verdict == "fails"
    assert "Layer 'head' expected 2 variables, but received 0 variables during loading." in result.keras_error


def test_against_a_weights_only_file_is_a_clear_error():
    result = service.check(str(FIXTURES / "k3__toy__save_weights.weights.h5"),
                           str(FIXTURES / "tfk__toy__save_weights.h5"), allow_any_local=True, isolate=False)
    assert result.verdict is None
    assert result.error.code == "no-architecture" and "needs a full model" in result.error.message


def test_a_missing_file_is_an_error_result_and_a_nonzero_exit_not_a_traceback():
    proc = run_cli("check", str(FIXTURES / "absent.weights.h5"), "--against", str(FIXTURES / "k3__toy__save.keras"))
    assert proc.returncode not in (EXIT_OK, EXIT_CHECK_FAILS)
    assert "Traceback" not in proc.stderr and "✗ check" in proc.stdout


def test_the_terminal_check_names_the_verdict_and_the_ignored_group():
    proc = run_cli("check", str(FIXTURES / "k3__toy__save.keras"), "--against", str(FIXTURES / "k3__nested__save.keras"))
    # .keras weights by path into the nested model: `layers/dense` is the nested model's head now,
    # whose (3, 2) kernel meets the file's (4, 3) dense kernel.
    assert proc.returncode == EXIT_CHECK_FAILS
    assert "fails" in proc.stdout and "Keras would say" in proc.stdout
