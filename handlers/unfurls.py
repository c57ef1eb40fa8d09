"""A checkpoint link pasted in a channel → `chat.unfurl` with a compact card under it.

Slack sends `link_shared` only for the app's unfurl domains (manifest.yml); links there that
do not look like model files are left alone.  The unfurl is keyed by the exact URLs Slack
sent, as chat.unfurl requires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from slack_bolt import App
from slack_sdk import WebClient

from bot.render import blocks as render
from bot.slack_text import is_model_file_name, unescape
from handlers.backend import SlackBackend

# Links unfurled per message: a pasted list of 50 checkpoints should not queue 50 inspections.
MAX_UNFURLS_PER_MESSAGE = 5


def looks_like_checkpoint(url: str) -> bool:
    path = unquote(urlsplit(url).path)
    return is_model_file_name(path.rstrip("/")) or "/checkpoints/" in path.lower()


def register(app: App, backend: SlackBackend) -> None:
    @app.event("link_shared")
    def link_shared_unfurled(event: dict[str, Any], client: WebClient) -> None:
        urls = [link["url"] for link in event.get("links", []) if looks_like_checkpoint(unescape(link["url"]))]
        urls = urls[:MAX_UNFURLS_PER_MESSAGE]
        if not urls:
            return

        def unfurl_cards() -> None:
            unfurls = {url: {"blocks": render.unfurl_blocks(backend.inspect(unescape(url)))} for url in urls}
            if event.get("unfurl_id"):
                client.chat_unfurl(unfurl_id=event["unfurl_id"], source=event.get("source"), unfurls=unfurls)
            else:
                client.chat_unfurl(channel=event["channel"], ts=event["message_ts"], unfurls=unfurls)

        backend.submit(unfurl_cards, lambda: None)  # a missing unfurl needs no apology
