"""Where a queued question's answer goes: the same places the in-process bot posts to.

    /ckpt      → the command's response_url (in_channel for a report, ephemeral for a refusal)
    @mention   → chat.update of the placeholder the replica posted in the thread
    link       → chat.unfurl
    upload     → a placeholder the worker posts (once: its ts is kept in Redis), then chat.update
"""

from __future__ import annotations

import logging
from typing import Any

from bot.queue.connection import key

log = logging.getLogger(__name__)


def post_answer(client: Any, spec: dict[str, Any], text: str, blocks: list[dict[str, Any]], ok: bool) -> None:
    kind = spec["kind"]
    if kind == "command":
        from slack_sdk.webhook import WebhookClient

        resp = WebhookClient(spec["response_url"]).send(
            text=text, blocks=blocks, response_type="in_channel" if ok else "ephemeral", replace_original=False)
        if resp.status_code >= 500:
            raise RuntimeError(f"response_url answered {resp.status_code}")
    elif kind in ("mention", "upload"):
        ts = spec.get("placeholder_ts")
        if ts:
            client.chat_update(channel=spec["channel"], ts=ts, text=text, blocks=blocks)
        else:
            client.chat_postMessage(channel=spec["channel"], thread_ts=spec.get("thread_ts"), text=text, blocks=blocks)
    elif kind == "unfurl":
        unfurls = {url: {"blocks": blocks} for url in spec["urls"]}
        post_unfurls(client, spec, unfurls)
    else:
        raise ValueError(f"unknown job kind {kind!r}")


def post_unfurls(client: Any, spec: dict[str, Any], unfurls: dict[str, Any]) -> None:
    if spec.get("unfurl_id"):
        client.chat_unfurl(unfurl_id=spec["unfurl_id"], source=spec.get("source"), unfurls=unfurls)
    else:
        client.chat_unfurl(channel=spec["channel"], ts=spec["message_ts"], unfurls=unfurls)


def show_step(client: Any, spec: dict[str, Any], step: str) -> None:
    """Edit the placeholder ("reading…", "2nd in line"); a courtesy, so failures are only logged."""
    from bot.render import blocks as render

    try:
        if spec["kind"] == "command" and spec.get("response_url"):
            from slack_sdk.webhook import WebhookClient

            WebhookClient(spec["response_url"]).send(
                text=render.progress_text(f"`{render.escape(spec.get('label', ''))}`", step),
                response_type="ephemeral", replace_original=True)
        elif spec.get("placeholder_ts"):
            client.chat_update(channel=spec["channel"], ts=spec["placeholder_ts"],
                               text=render.progress_text(spec.get("label", ""), step))
    except Exception as exc:  # noqa: BLE001 - progress is a courtesy; the answer still comes
        log.warning("placeholder edit failed: %s", exc)


def upload_placeholder(client: Any, redis: Any, spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The upload's placeholder, posted once even if the job runs twice (the ts is kept in Redis)."""
    from bot.render import blocks as render

    name_key = key("ph", spec["rid"])
    ts = redis.get(name_key)
    if ts is None:
        resp = client.chat_postMessage(channel=spec["channel"], thread_ts=spec.get("thread_ts"),
                                       text=render.progress_text(name, "reading…"))
        ts = (resp.get("ts") or "").encode()
        if not redis.set(name_key, ts, nx=True, ex=24 * 3600):
            ts = redis.get(name_key) or ts
    return {**spec, "placeholder_ts": ts.decode(), "label": name}
