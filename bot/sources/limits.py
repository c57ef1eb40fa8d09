"""Per-inspection budgets: bytes read, requests made, wall time.

One `ReadBudget` is shared by every byte source of one inspection (a checkpoint's `.index`
and its `.data-*` shards together), so a file cannot get around the limits by having parts.
Exceeding a limit raises `TooLarge` with code `limit` (bytes, requests) or `SourceTimeout`,
and the message names the limit and the value reached.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from bot.errors import ErrorCode
from bot.messages import human_bytes, human_int
from bot.sources.base import SourceTimeout, TooLarge

if TYPE_CHECKING:
    from bot.config import Settings

# One request may never wait longer than this for the next bytes, even when the wall budget
# is generous: a 1-byte/s drip must end (security.md F7).
SOCKET_TIMEOUT_SECONDS = 20.0


class ReadBudget:
    """Counts what one inspection costs and refuses to go past the configured limits."""

    def __init__(self, max_bytes: int, max_requests: int, max_seconds: float) -> None:
        self.max_bytes = max_bytes
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: "Settings") -> "ReadBudget":
        return cls(settings.max_read_bytes, settings.max_requests, settings.max_wall_seconds)

    def remaining_seconds(self) -> float:
        return self.max_seconds - (time.monotonic() - self.started)

    def socket_timeout(self) -> float:
        """How long the next socket operation may block."""
        self.check_time()
        return max(0.05, min(SOCKET_TIMEOUT_SECONDS, self.remaining_seconds()))

    def check_time(self) -> None:
        if self.remaining_seconds() <= 0:
            raise SourceTimeout(
                f"Reading the file took longer than the {self.max_seconds:g} s limit "
                "(CKPTBOT_MAX_WALL_SECONDS).")

    def charge_request(self) -> None:
        """Call before sending a request (thread-safe: head and tail go out together)."""
        self.check_time()
        with self._lock:
            if self.requests >= self.max_requests:
                raise TooLarge(
                    f"Reading the file needed more than {human_int(self.max_requests)} requests, the "
                    "limit (CKPTBOT_MAX_REQUESTS).", code=ErrorCode.LIMIT)
            self.requests += 1

    def check_bytes(self, more: int) -> None:
        """Call before asking for `more` bytes."""
        if self.bytes + more > self.max_bytes:
            raise TooLarge(
                f"Reading the file would take more than {human_bytes(self.max_bytes)}, the limit "
                f"(CKPTBOT_MAX_READ_BYTES); {human_bytes(self.bytes)} read so far.",
                code=ErrorCode.LIMIT)

    def charge_bytes(self, n: int) -> None:
        """Call as bytes arrive (streamed bodies are charged chunk by chunk)."""
        with self._lock:
            self.check_bytes(n)
            self.bytes += n
