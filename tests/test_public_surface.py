"""The public surface is a list, and every error code has its human sentence."""

from __future__ import annotations

import bot
from bot import messages
from bot.errors import ErrorCode
from tests.conftest import ROOT

PUBLIC = {"Contents", "ErrorCode", "Finding", "LayerInfo", "ModelInfo", "OptimizerInfo", "Params", "Reload",
          "ReloadOption", "Report", "ReportError", "Settings", "SizeBreakdown", "SourceInfo", "WeightInfo",
          "__version__", "check", "diff", "inspect"}


def test_bot_exports_exactly_its_declared_names_and_each_resolves():
    assert set(bot.__all__) == PUBLIC
    for name in bot.__all__:
        assert getattr(bot, name) is not None, name
    assert callable(bot.inspect) and callable(bot.diff) and callable(bot.check)


def test_every_error_code_has_a_sentence_saying_what_to_do_and_is_documented():
    readme = (ROOT / "README.md").read_text()
    for code in ErrorCode:
        text = messages.error_message(code)
        assert text.endswith((".", ")")) and len(text) > 30, code
        assert f"`{code.value}`" in readme, f"README does not document {code.value}"
