"""A model file uploaded where the bot is → its card, in the upload's thread.

Slack sends `file_shared` (id only) and, with the `*:history` scopes, a `message` with
`subtype: file_share` for the same upload; both lead here and the pair is answered once
(keyed by file and channel).  `files.info` gives the name, size and url_private the service
downloads with the bot token (bot/sources/slack_files.py); non-model files are ignored.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack_text import is_model_file_name
from handlers.answers import ThreadAnswer, busy_text, failure_text
from handlers.backend import SlackBackend
from handlers.questions import layers_button_value, report_answer

# Files looked at per message: an album of uploads should not take over the queue.
MAX_FILES_PER_MESSAGE = 5


def _share_ts(info: dict[str, Any], channel: str) -> str | None:
    """The ts of the message that shared the file in `channel` (files.info `shares`), for threading."""
    for kind in ("public", "private"):
        shares = (info.get("shares") or {}).get(kind, {}).get(channel) or []
        if shares:
            return shares[0].get("ts")
    return None


def answer_upload(backend: SlackBackend, client: WebClient, context: BoltContext, file_id: str,
                  channel: str, thread_ts: str | None, user: str | None) -> None:
    if not channel or not backend.first_delivery(f"slack-file:{file_id}:{channel}"):
        return

    def inspect_upload() -> None:
        info = client.files_info(file=file_id)["file"]
        name = info.get("name") or file_id
        if not is_model_file_name(name) or info.get("user") == context.bot_user_id:
            return
        answer = ThreadAnswer(client, channel, thread_ts or _share_ts(info, channel), name).start("downloading…")
        try:
            report = backend.inspect_upload(info, progress=answer.progress)
        except Exception:
            answer.finish(*failure_text(name))
            raise
        result = report_answer(report, user or info.get("user"), layers_button_value(file_id=file_id))
        answer.finish(result.text, result.blocks)

    if not backend.submit(inspect_upload, lambda: None):
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=busy_text()[0])


def register(app: App, backend: SlackBackend) -> None:
    @app.event("file_shared")
    def file_shared_inspected(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        file_id = event.get("file_id") or (event.get("file") or {}).get("id")
        if file_id:
            answer_upload(backend, client, context, file_id, event.get("channel_id", ""), None, event.get("user_id"))

    @app.event({"type": "message", "subtype": "file_share"})
    def message_with_files_inspected(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("bot_id"):
            return
        for f in (event.get("files") or [])[:MAX_FILES_PER_MESSAGE]:
            if f.get("name") and not is_model_file_name(f["name"]):
                continue
            answer_upload(backend, client, context, f["id"], event.get("channel", ""),
                          event.get("thread_ts") or event.get("ts"), event.get("user"))

    @app.event("message")
    def other_messages_ignored() -> None:
        """Plain messages (message.* subscriptions exist for uploads only) need no answer."""
