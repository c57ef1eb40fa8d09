"""Slack tokens are cut out of every log line (security.md §5.2)."""

from __future__ import annotations

import io
import logging

from bot.app import RedactTokens


def test_bot_app_and_config_tokens_are_redacted_but_the_rest_of_the_line_stays():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokens())
    logger = logging.getLogger("ckptbot.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("auth with %s then %s and xoxe.xoxp-1-abc for C111", "xoxb-123-456-abcDEF", "xapp-1-A1-xyz")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "abcDEF" not in line and "A1-xyz" not in line and "xoxp-1-abc" not in line
    assert line.startswith("auth with xoxb-… then xapp-… and ") and line.rstrip().endswith("for C111")
