"""House rules that keep the code livable, checked like behaviour (STYLE.md)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from tests.conftest import ROOT

SOURCES = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").glob("*.py")])


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_modules_stay_small():
    big = {_rel(p): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert not big, f"split these modules (> 400 lines): {big}"


def test_only_config_reads_the_environment():
    offenders = [_rel(p) for p in SOURCES
                 if re.search(r"os\.environ|getenv\(", p.read_text()) and _rel(p) != "bot/config.py"]
    assert not offenders


def test_the_analysis_core_imports_no_tensorflow_slack_redis_or_network():
    banned = {"tensorflow", "keras", "tf_keras", "slack_bolt", "slack_sdk", "redis", "requests", "httpx",
              "urllib", "http", "socket", "boto3", "botocore", "s3fs", "fsspec", "pickle", "torch", "marshal"}
    for p in (ROOT / "bot" / "analysis").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in banned, f"{_rel(p)} imports {n}"


def test_broad_excepts_live_only_at_the_edges():
    allowed = {"bot/service.py", "bot/isolation.py", "bot/app.py", "bot/watch.py"}
    offenders = []
    for p in SOURCES:
        rel = _rel(p)
        if rel in allowed or rel.startswith(("handlers/", "bot/watch/", "bot/queue/")):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) and \
                    node.type.id in ("Exception", "BaseException"):
                # Clean up and re-raise is fine: nothing is swallowed.
                if node.body and isinstance(node.body[-1], ast.Raise) and node.body[-1].exc is None:
                    continue
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders


def test_no_vague_function_names():
    vague = re.compile(r"^(handle|process|run|do_.*)$")
    offenders = [f"{_rel(p)}:{node.lineno} {node.name}" for p in SOURCES
                 for node in ast.walk(ast.parse(p.read_text()))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and vague.match(node.name)]
    assert not offenders, offenders


def _code_without_strings(source: str) -> str:
    """The source with string literals and comments blanked: snippets we print for users may name
    torch.load or safe_mode=False; code that runs may not."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.STRING, tokenize.COMMENT) and not tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            out.append(tok.string)
    return " ".join(out)


def test_nothing_unpickles_or_loads_a_model_at_runtime():
    pattern = re.compile(r"pickle \. loads? \(|allow_pickle = True|torch \. load \(|safe_mode = False|"
                         r"load_model \(|marshal \. loads \(")
    offenders = [_rel(p) for p in SOURCES if pattern.search(_code_without_strings(p.read_text()))]
    assert not offenders, offenders
