"""Where an answer goes: a placeholder in a thread, edited as work proceeds, then replaced.

Mentions and uploads post ":hourglass: model.h5: waiting for a free worker…" in the message's
thread at once, edit it with `chat.update` as the work reports progress (and every HEARTBEAT_S
with the elapsed time when it does not), at most every PROGRESS_MIN_INTERVAL_S (chat.update's
rate limit), and finally replace it with the card.
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
# While work runs with no news, the placeholder still moves ("… 10 s") so nobody thinks the bot
# died; every 5 s is well inside chat.update's limit.
HEARTBEAT_S = 5.0
# No heartbeat beyond this: the inspection's own wall-clock limit (60 s by default) ends it first.
MAX_HEARTBEAT_S = 600.0


class ThreadAnswer:
    """One answer in one thread: `start()` posts the placeholder, `progress()` edits it, `finish()` replaces it.

    Edits are serialized and stop at `finish()`, so a late progress edit can never overwrite the answer.
    """

    def __init__(self, client: WebClient, channel: str, thread_ts: str | None, name: str) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.name = name
        self.ts: str | None = None
        self._step = "waiting for a free worker…"
        self._started = self._last_edit = time.monotonic()
        self._lock = threading.Lock()
        self._done = threading.Event()

    def start(self, step: str = "waiting for a free worker…") -> "ThreadAnswer":
        self._step = step
        resp = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts,
                                            text=render.progress_text(self.name, step))
        self.ts = resp.get("ts")
        self.channel = resp.get("channel") or self.channel
        self._started = self._last_edit = time.monotonic()
        threading.Thread(target=self._heartbeat, name="ckpt-heartbeat", daemon=True).start()
        return self

    def progress(self, step: str) -> None:
        """New news from the work: shown now, unless the last edit was under PROGRESS_MIN_INTERVAL_S ago."""
        self._step = step
        if time.monotonic() - self._last_edit >= PROGRESS_MIN_INTERVAL_S:
            self._edit_progress()

    def _heartbeat(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            if time.monotonic() - self._started > MAX_HEARTBEAT_S:
                return
            if time.monotonic() - self._last_edit >= PROGRESS_MIN_INTERVAL_S:
                self._edit_progress()

    def _edit_progress(self) -> None:
        elapsed = int(time.monotonic() - self._started)
        text = render.progress_text(self.name, f"{self._step} ({elapsed} s)")
        with self._lock:
            if self._done.is_set() or self.ts is None:
                return
            self._last_edit = time.monotonic()
            try:
                self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
            except SlackApiError as exc:  # progress is a courtesy; the answer still comes
                log.warning("progress update failed: %s", exc.response.get("error"))

    def finish(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the placeholder with the answer (or post it, if there was no placeholder)."""
        with self._lock:
            self._done.set()
            if self.ts is not None:
                self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)
            else:
                self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text,
                                             blocks=blocks)


def failure_text(name: str) -> tuple[str, list[dict[str, Any]]]:
    """What a person sees when ckptbot itself broke on their question (the log has the traceback)."""
    return render.notice_blocks(f"Something went wrong in ckptbot while looking at {name}; this is a bug in "
                                "ckptbot, not your file. Try again in a minute, or run `ckptbot inspect` locally.")


def busy_text() -> tuple[str, list[dict[str, Any]]]:
    return render.notice_blocks("ckptbot is busy with many questions right now; ask again in a minute.")
