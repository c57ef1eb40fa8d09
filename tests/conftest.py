"""Shared fixtures.  Tests write only under tmp_path; servers bind 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "keras"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def expected() -> dict:
    path = FIXTURES / "expected.json"
    return json.loads(path.read_text())


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `ckptbot …` the way a user does: a new process, real argv, real exit code."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_URL", "CKPTBOT_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)
