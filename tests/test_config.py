"""Configuration: one Settings class, loaded only when a command needs it.

A CLI read of a local file consults only the parser limits, so the bot's own variables
(Slack tokens, REDIS_URL, CKPTBOT_LOCAL_ROOTS) in the operator's environment must not make
it import pydantic or redis; a limit variable must still be honoured and checked."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from bot.config import LOCAL_READ_VARIABLES, DefaultSettings, Settings
from tests.conftest import FIXTURES, ROOT

MODEL = str(FIXTURES / "tfk__toy__save.h5")
BOT_ENV = {"CKPTBOT_LOCAL_ROOTS": "/nonexistent-root", "REDIS_URL": "redis://127.0.0.1:9/0",
           "SLACK_BOT_TOKEN": "xoxb-not-used", "CKPTBOT_ALLOWED_HOSTS": "127.0.0.1"}
RUN = ("import io, contextlib, json, sys\nfrom bot.cli import main\nout = io.StringIO()\n"
       "with contextlib.redirect_stdout(out): code = main(sys.argv[1:])\n"
       "print(json.dumps({'code': code, 'out': out.getvalue(), 'modules': sorted(sys.modules)}))")


def _cli(*argv: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CKPTBOT_", "SLACK_", "REDIS_URL"))}
    done = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **env}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_defaults_without_pydantic_are_the_settings_defaults():
    defaults = DefaultSettings()
    built = Settings.model_construct()  # no environment: the declared defaults
    assert {f.name for f in dataclasses.fields(DefaultSettings)} == set(Settings.model_fields)
    for name in Settings.model_fields:
        assert getattr(defaults, name) == getattr(built, name), name


def test_the_bots_variables_cost_a_local_cli_inspection_nothing():
    run = _cli("inspect", MODEL, "--json", **BOT_ENV)
    assert run["code"] == 0
    report = json.loads(run["out"])
    assert report["error"] is None and report["params"]["total"] > 0  # the roots do not bind the CLI
    assert not [m for m in ("pydantic", "pydantic_settings", "redis") if m in run["modules"]]


@pytest.mark.parametrize("name", LOCAL_READ_VARIABLES)
def test_a_limit_variable_is_checked_even_for_a_local_read(name):
    run = _cli("inspect", MODEL, "--json", **{name: "0"})
    assert run["code"] == 4  # EXIT_CONFIG
    assert "pydantic_settings" in run["modules"]

