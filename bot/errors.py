"""Errors: ErrorCode (bot/error_codes.py, a closed list) carried by exceptions.

Inside the code, failures are exceptions:

* CkptbotError(code, message)      everything below carries an ErrorCode
  + AnalysisError                  the bytes are not what we can read (analysis/)
  + SourceError                    the bytes could not be had (sources/, defined there)

At the edge (`bot.service`, the CLI) they become `Report.error`, a value, never a traceback.
The human sentences live in `bot.messages`.
"""

from __future__ import annotations

from bot import messages
from bot.error_codes import ErrorCode

__all__ = ["ErrorCode", "CkptbotError", "AnalysisError"]


class CkptbotError(Exception):
    """An error that becomes `Report.error`; `message` is for people."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        self.code = ErrorCode(code)
        self.message = message or messages.error_message(self.code)
        super().__init__(self.message)


class AnalysisError(CkptbotError):
    """The bytes were read but are not a model we can describe."""
