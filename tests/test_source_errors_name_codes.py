"""Every SourceError names its code: a default would be a guess, and a wrong guess ("unknown",
"this is not a model") is cached as the file's fault (bot/cache/policy.py)."""

from __future__ import annotations

import ast

import pytest

from bot.errors import ErrorCode
from bot.sources import base
from tests.conftest import ROOT


def test_a_bare_source_error_raise_names_an_error_code():
    offenders = []
    for p in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "SourceError":
                first = node.args[0] if node.args else None
                named = isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) \
                    and first.value.id == "ErrorCode"
                if not named:
                    offenders.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_source_error_without_a_code_is_refused():
    with pytest.raises(ValueError):
        base.SourceError("The server said no.")  # type: ignore[arg-type]


@pytest.mark.parametrize("got, asked, cls, code", [
    (90, 100, base.ShortRead, ErrorCode.TRUNCATED), (110, 100, base.Unreachable, ErrorCode.UNREACHABLE)])
def test_a_body_of_the_wrong_length_is_a_cut_transfer_or_nonsense(got, asked, cls, code):
    err = base.short_or_long(got, asked, "The server")
    assert type(err) is cls and err.code is code
