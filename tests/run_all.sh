#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite (README: "Run the tests").
# Installs Debian's redis-server when missing, the package with its test extras (TensorFlow,
# tf-keras, Keras, moto, …), then runs mypy and pytest on both cores (tests/test_import_graph.py
# is the no-cycle check).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)       # the architecture graph (bot/render/graph_svg.py)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)             # the report page in a real browser (Playwright)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check --progress-bar off -e ".[test]"

# TensorFlow 2.13 (Keras 2.13) in its own venv: the reload advice is proven against it too.
VENV213=${CKPTBOT_VENV213:-/tmp/venv213}
if ! "$VENV213/bin/python" -c "import tensorflow" >/dev/null 2>&1; then
  echo "installing TensorFlow 2.13.1 into $VENV213"
  "$PY" -m venv "$VENV213"
  "$VENV213/bin/pip" install --quiet --disable-pip-version-check --progress-bar off "tensorflow-cpu==2.13.1"
fi
export CKPTBOT_PYTHON213="$VENV213/bin/python"

# Types first (pyproject.toml [tool.mypy]: bot/ and handlers/); a type error fails the run.
"$PY" -m mypy

# -n 2: both cores; --dist loadfile keeps each module's expensive session fixtures in one worker.
"$PY" -m pytest -n 2 --dist loadfile -p no:cacheprovider "$@" tests
