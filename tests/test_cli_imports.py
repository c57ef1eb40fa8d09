"""`ckptbot inspect` starts fast: importing the CLI pulls in none of the heavy libraries, and an
inspection of a local file never imports Slack, Redis, TensorFlow or the HTTP stack."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import FIXTURES, ROOT

HEAVY = ["h5py", "numpy", "rich", "redis", "slack_bolt", "slack_sdk", "boto3", "botocore", "s3fs", "fsspec",
         "tensorflow", "keras", "tf_keras", "pydantic", "aiohttp"]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_nothing_heavy():
    mods = _modules_after("import bot.cli")
    assert not [m for m in HEAVY if m in mods]


def test_a_local_inspection_never_touches_slack_redis_tensorflow_or_http():
    mods = _modules_after(
        "from bot.cli import main\nimport io, contextlib\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main(['inspect', {str(FIXTURES / 'tfk__toy__save.h5')!r}, '--json'])"
    )
    banned = ["redis", "slack_bolt", "slack_sdk", "tensorflow", "keras", "tf_keras", "boto3", "s3fs", "aiohttp"]
    assert not [m for m in banned if m in mods]
