"""`ckptbot inspect` starts fast: importing the CLI and inspecting a local file import only the
modules listed here (an allow-list, as click's own test keeps one), and the inspection succeeds.

New imports show up as a failure naming the module: add it here only if `ckptbot inspect` of a
local file really needs it (Slack, Redis, TensorFlow, HTTP, pydantic never belong here).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import FIXTURES, ROOT

# Top-level modules the CLI may add to a bare interpreter's sys.modules (measured on Python 3.11).
IMPORT_CLI = {"bot", "argparse", "gettext", "json", "_json"}
# --json: ckptbot's own code and the stdlib parts the forked, rlimited parser child needs
# (bot/isolation.py). h5py and numpy are imported in the child only, never here.
INSPECT_JSON = IMPORT_CLI | {
    "_ast", "_heapq", "_locale", "_opcode", "_posixsubprocess", "_queue", "_string", "ast", "copy",
    "dataclasses", "dis", "faulthandler", "fcntl", "heapq", "inspect", "linecache", "locale", "logging",
    "opcode", "queue", "resource", "select", "selectors", "signal", "string", "subprocess", "textwrap",
    "token", "tokenize", "traceback"}
# The terminal report adds rich (and pygments, which rich imports), and what they import.
INSPECT_TERMINAL = INSPECT_JSON | {
    "rich", "pygments", "_compat_pickle", "_csv", "_datetime", "_decimal", "_pickle", "_socket", "array",
    "base64", "calendar", "colorsys", "csv", "datetime", "decimal", "email", "fractions", "numbers",
    "pickle", "quopri", "socket"}
FIXTURE = FIXTURES / "tfk__toy__save.h5"


def _run(code: str) -> dict:
    """Runs `code` in a fresh interpreter; returns the top-level modules it added, and what it printed."""
    script = ("import sys, io, json, contextlib\nbase = {m.split('.')[0] for m in sys.modules}\n"
              "out = io.StringIO()\nrc = None\nwith contextlib.redirect_stdout(out):\n"
              + "".join(f"    {line}\n" for line in code.splitlines()) +
              "added = sorted({m.split('.')[0] for m in sys.modules} - base)\n"
              "print(json.dumps({'rc': rc, 'out': out.getvalue(), 'added': added}))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _live_params() -> int:
    return json.loads((FIXTURES / "expected.json").read_text())["artifacts"][FIXTURE.name]["count_params"]


def test_importing_the_cli_adds_only_the_allowed_modules():
    got = _run("import bot.cli")
    assert set(got["added"]) - IMPORT_CLI == set()


def test_a_json_inspection_succeeds_and_imports_only_the_allowed_modules():
    got = _run(f"from bot.cli import main\nrc = main(['inspect', {str(FIXTURE)!r}, '--json'])")
    assert got["rc"] == 0
    report = json.loads(got["out"])
    assert report["error"] is None and report["format"] == "keras-h5-model"
    assert report["params"]["total"] == _live_params()
    assert set(got["added"]) - INSPECT_JSON == set()


def test_a_terminal_inspection_succeeds_and_imports_only_the_allowed_modules():
    got = _run(f"from bot.cli import main\nrc = main(['inspect', {str(FIXTURE)!r}])")
    assert got["rc"] == 0
    assert f"{_live_params():,} parameters" in got["out"] and "Full model (model.save)" in got["out"]
    assert set(got["added"]) - INSPECT_TERMINAL == set()
