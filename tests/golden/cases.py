"""The golden cases: what `ckptbot inspect` prints for a few files, made deterministic.

Used by tests/golden/regenerate.py (writes the files) and tests/test_golden_outputs.py (compares).
Runs the real CLI in a new process from the repository root, with relative paths, a fixed
terminal width and no colour, and without CKPTBOT_/SLACK_/REDIS_URL variables; then replaces
the repository's absolute path (should one appear) with `<repo>` and strips the padding rich
adds at line ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
WIDTH = "100"


@dataclass(frozen=True)
class Case:
    name: str  # file stem under tests/golden/
    path: str  # relative to the repository root
    why: str


CASES = [
    Case("keras3-full-model-with-optimizer", "tests/fixtures/keras/k3__toy__save.keras",
         "Keras 3 .keras archive from model.save() after fit(): optimizer state, reload advice"),
    Case("legacy-h5-full-model", "tests/fixtures/keras/tfk__legacy_adam__save.h5",
         "tf-keras legacy HDF5 model.save() with a legacy Adam"),
    Case("keras3-weights-only", "tests/fixtures/keras/k3__toy__save_weights.weights.h5",
         "Keras 3 .weights.h5: no architecture, inferred trainable split"),
    Case("tf-checkpoint", "tests/fixtures/keras/tfk__toy__save_weights_ckpt/m.index",
         "tf.keras save_weights() TF checkpoint (index + one data shard)"),
    Case("not-a-model-git-lfs-pointer", "tests/golden/inputs/model.h5",
         "a Git LFS pointer committed instead of the model: a clear error, exit code 2"),
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_URL", "CKPTBOT_"))}
    env.update({"COLUMNS": WIDTH, "LINES": "50", "NO_COLOR": "1", "TERM": "dumb"})
    env.pop("FORCE_COLOR", None)
    return env


def _normalise(text: str) -> str:
    text = text.replace(str(ROOT), "<repo>")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def run(case: Case, json_output: bool) -> tuple[int, str]:
    args = [sys.executable, "-m", "bot.cli", "inspect", case.path] + (["--json"] if json_output else [])
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120, check=False)
    return proc.returncode, _normalise(proc.stdout)


def terminal_text(case: Case) -> str:
    """The terminal golden file: the command, its exit code, then exactly what it printed."""
    code, out = run(case, json_output=False)
    return f"$ ckptbot inspect {case.path}\n# exit code {code}\n{out}"


def json_text(case: Case) -> str:
    code, out = run(case, json_output=True)
    return out


def files(case: Case) -> dict[Path, str]:
    return {GOLDEN / f"{case.name}.txt": terminal_text(case), GOLDEN / f"{case.name}.json": json_text(case)}
