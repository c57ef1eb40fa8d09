"""A bug in ckptbot (the core raises) is said to be ckptbot's bug, with exit code EXIT_INTERNAL.

The real `ckptbot inspect` runs in-process (`bot.cli.main`), forks its rlimited parser child as
always (bot/isolation.py), and that child calls a reader that raises: the one stand-in here,
for a parser bug we do not have. Everything around it — isolation, service, renderers,
exit code — is the code users run.
"""

from __future__ import annotations

import json

import pytest

import bot.analysis
from bot.cli import EXIT_INTERNAL, main
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "tfk__toy__save.h5"


def _a_parser_bug(artifact):
    raise ZeroDivisionError("stand-in for a parser bug")


@pytest.fixture
def broken_reader(monkeypatch):
    # bot/isolation.py looks `read_report` up in bot.analysis in the forked child, at call time.
    monkeypatch.setattr(bot.analysis, "read_report", _a_parser_bug)


def test_a_parser_bug_exits_with_exit_internal_and_says_it_is_ckptbots_bug(broken_reader, capsys):
    assert main(["inspect", str(FIXTURE)]) == EXIT_INTERNAL == 1
    out = capsys.readouterr().out
    assert "ckptbot failed on this file (ZeroDivisionError); this is a bug." in out


def test_the_json_report_of_a_parser_bug_has_code_internal(broken_reader, capsys):
    assert main(["inspect", str(FIXTURE), "--json"]) == EXIT_INTERNAL
    report = json.loads(capsys.readouterr().out)
    assert report["error"] == {"code": "internal",
                               "message": "ckptbot failed on this file (ZeroDivisionError); this is a bug."}
    assert report["source"]["name"] == FIXTURE.name
