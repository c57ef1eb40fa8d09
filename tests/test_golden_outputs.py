"""What users see, byte for byte: a few terminal and JSON reports reviewed once and committed.

A change in what `ckptbot inspect` prints fails here; if it is intended, regenerate with
`python tests/golden/regenerate.py` and commit the diff of tests/golden/ with the change, so the
reviewer reads exactly what users will see (tests/golden/README.md).
"""

from __future__ import annotations

import json

import pytest

from tests.golden.cases import CASES, GOLDEN, Case, json_text, terminal_text

REGENERATE = "python tests/golden/regenerate.py"


def _golden(name: str) -> str:
    path = GOLDEN / name
    assert path.exists(), f"{path} missing: run `{REGENERATE}`, review and commit it"
    return path.read_text()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_terminal_report_is_the_reviewed_one(case: Case):
    assert terminal_text(case) == _golden(f"{case.name}.txt"), f"what users see changed: `{REGENERATE}`, review the diff"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_json_report_is_the_reviewed_one(case: Case):
    assert json_text(case) == _golden(f"{case.name}.json"), f"the JSON report changed: `{REGENERATE}`, review the diff"


def test_the_golden_files_are_exactly_the_cases():
    committed = {p.name for p in GOLDEN.iterdir() if p.suffix in (".txt", ".json")}
    assert committed == {f"{c.name}{ext}" for c in CASES for ext in (".txt", ".json")}


def test_the_golden_exit_codes_are_the_documented_ones():
    # README "The command line": 0 a model was inspected, 2 not a model.
    codes = {c.name: _golden(f"{c.name}.txt").splitlines()[1] for c in CASES}
    assert codes == {c.name: "# exit code 2" if c.name.startswith("not-a-model") else "# exit code 0" for c in CASES}
    for c in CASES:
        assert json.loads(_golden(f"{c.name}.json"))["source"]["uri"] == c.path
