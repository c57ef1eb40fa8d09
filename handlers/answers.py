"""Where an answer goes: a placeholder in a thread, edited as work proceeds, then replaced.

Mentions and uploads post ":hourglass: Reading model.h5…" in the message's thread at once,
edit it with `chat.update` as the download moves on (at most every PROGRESS_MIN_INTERVAL_S,
chat.update's rate limit), and finally replace it with the card.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render import blocks as render

log = logging.getLogger(__name__)

# chat.update is rate limited per message (slack-bolt.md §5.3): one edit per 2 s at most.
PROGRESS_MIN_INTERVAL_S = 2.0


class ThreadAnswer:
    """One answer in one thread: `start()` posts the placeholder, `progress()` edits it, `finish()` replaces it."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None, name: str) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.name = name
        self.ts: str | None = None
        self._last_edit = 0.0
        self._lock = threading.Lock()

    def start(self, step: str = "reading the file…") -> "ThreadAnswer":
        text = render.progress_text(self.name, step)
        resp = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text)
        self.ts = resp.get("ts")
        self.channel = resp.get("channel") or self.channel
        self._last_edit = time.monotonic()
        return self

    def progress(self, step: str) -> None:
        """Edit the placeholder, unless it was edited less than PROGRESS_MIN_INTERVAL_S ago."""
        with self._lock:
            now = time.monotonic()
            if self.ts is None or now - self._last_edit < PROGRESS_MIN_INTERVAL_S:
                return
            self._last_edit = now
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=render.progress_text(self.name, step))
        except SlackApiError as exc:  # progress is a courtesy; the answer still comes
            log.warning("progress update failed: %s", exc.response.get("error"))

    def finish(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the placeholder with the answer (or post it, if there was no placeholder)."""
        if self.ts is not None:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)
        else:
            self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks)

    def post(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """A further message in the same thread (the layer table)."""
        self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks)


def failure_text(name: str) -> tuple[str, list[dict[str, Any]]]:
    """What a person sees when ckptbot itself broke on their question (the log has the traceback)."""
    return render.notice_blocks(f"Something went wrong in ckptbot while looking at {name}; this is a bug in "
                                "ckptbot, not your file. Try again in a minute, or run `ckptbot inspect` locally.")


def busy_text() -> tuple[str, list[dict[str, Any]]]:
    return render.notice_blocks("ckptbot is busy with many questions right now; ask again in a minute.")
