"""Queue mode in the bot replica: every question is enqueued before Slack's acknowledgement leaves.

A Bolt global middleware, so the work is placed *before* the HTTP 200 (Bolt acknowledges events
before their listeners run; a replica killed after that 200 would lose the question).  It parses
nothing but the question's text: no downloads, no model bytes.  After the 200, a replica thread
answers cache hits itself (fastpath.py); the job, if a worker takes it first, finds the answer
sent and stops.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from bot.queue import enqueue as q
from bot.queue.connection import ack_redis

log = logging.getLogger(__name__)

FASTPATH_THREADS = 8
# Redis unreachable on the acknowledgement path: retried this long (well inside Slack's 3 s) before
# events get a 503 (Slack redelivers) and commands the sentence QUEUE_DOWN.
REDIS_BLIP_S = 1.5
QUEUE_DOWN = ("ckptbot's work queue is not reachable right now, so this question was not taken; "
              "ask again in a minute.")


def install(app: Any, settings: Any) -> Callable[[], bool]:
    """Adds the middleware to `app`; returns a health probe (True when Redis answers)."""
    from slack_bolt import BoltResponse

    from bot.queue.fastpath import answer_from_cache
    from bot.render import blocks as render
    from bot.slack_text import (
        HELP,
        is_model_file_name,
        parse_command,
        parse_mention,
        unescape,
    )
    from handlers.questions import (
        SUBCOMMAND_WORDS,
        help_message,
        label_of,
        usage_problem,
    )
    from handlers.unfurls import MAX_UNFURLS_PER_MESSAGE, looks_like_checkpoint

    redis = ack_redis(settings.redis_url)
    fast = ThreadPoolExecutor(max_workers=FASTPATH_THREADS, thread_name_prefix="ckpt-fastpath")

    def ephemeral(text: str, blocks: list | None = None) -> Any:
        body: dict[str, Any] = {"response_type": "ephemeral", "text": text}
        if blocks:
            body["blocks"] = blocks
        return BoltResponse(status=200, body=json.dumps(body), headers={"content-type": "application/json"})

    attempt = threading.local()  # this delivery's claim token, kept across its Redis retries
    posted: dict[str, dict[str, Any]] = {}  # placeholders posted whose job is not enqueued yet

    def place(spec: dict[str, Any], placeholder: Callable[[int], dict[str, Any]] | None = None) -> q.Placed:
        """Claim, (post the placeholder,) enqueue.  Raises AlreadyClaimed or Redis errors."""
        if not q.claim(redis, spec["rid"], getattr(attempt, "token", "")):
            return q.Placed(q.job_id_for(spec["rid"]), "", 0, duplicate=True)
        try:
            queue_name = q.queue_for(redis, spec.get("user"))
            position = q.position_if_enqueued(redis, queue_name)
            if placeholder is not None:
                # a retry after Redis failed mid-way reuses the placeholder already in the thread
                posted.setdefault(spec["rid"], placeholder(position))
                spec = {**spec, **posted[spec["rid"]]}
            jid = q.enqueue(redis, settings, spec, queue_name)
        except BaseException:
            q.unclaim(redis, spec["rid"])
            raise
        posted.pop(spec["rid"], None)
        return q.Placed(jid, queue_name, position, spec=spec)

    def command(body: dict[str, Any]) -> Any:
        text = body.get("text", "")
        request = parse_command(text, SUBCOMMAND_WORDS)
        if request.name == HELP:
            return ephemeral(*help_message())
        problem = usage_problem(request)
        if problem:
            return ephemeral(problem)
        label = label_of(request)
        rid = "cmd:" + (body.get("trigger_id") or f"{body.get('user_id')}:{body.get('response_url')}")
        spec = dict(rid=rid, kind="command", text=text, label=label, user=body.get("user_id"),
                    channel=body.get("channel_id"), response_url=body.get("response_url"))
        try:
            placed = place(spec)
        except q.AlreadyClaimed:
            return ephemeral(render.progress_text(f"`{render.escape(label)}`", "already on it…"))
        if placed.duplicate:
            return ephemeral(render.progress_text(f"`{render.escape(label)}`", "already on it…"))
        if request.name == "inspect":
            fast.submit(answer_from_cache, settings, redis, {**(placed.spec or {}), "job_id": placed.job_id})
        return ephemeral(render.progress_text(f"`{render.escape(label)}`", q.ordinal(placed.position)))

    def mention(body: dict[str, Any], event: dict[str, Any], client: Any) -> Any:
        channel, thread_ts = event["channel"], event.get("thread_ts") or event["ts"]
        text = event.get("text", "")
        request = parse_mention(text, SUBCOMMAND_WORDS)
        if request.name == HELP or usage_problem(request):
            message = help_message() if request.name == HELP else (usage_problem(request), None)
            if q.claim(redis, "ev:" + body["event_id"]):
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=message[0], blocks=message[1])
            return None
        label = label_of(request)
        spec = dict(rid="ev:" + body["event_id"], kind="mention", text=text, label=label, user=event.get("user"),
                    channel=channel, thread_ts=thread_ts)

        def placeholder(position: int) -> dict[str, Any]:
            resp = client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                           text=render.progress_text(label, q.ordinal(position)))
            return {"placeholder_ts": resp.get("ts"), "channel": resp.get("channel") or channel}

        placed = place(spec, placeholder)
        if not placed.duplicate and request.name == "inspect":
            fast.submit(answer_from_cache, settings, redis, {**(placed.spec or {}), "job_id": placed.job_id})
        return None

    def link_shared(body: dict[str, Any], event: dict[str, Any]) -> Any:
        urls = [link["url"] for link in event.get("links", []) if looks_like_checkpoint(unescape(link["url"]))]
        if urls:
            place(dict(rid="ev:" + body["event_id"], kind="unfurl", urls=urls[:MAX_UNFURLS_PER_MESSAGE],
                       label=urls[0], user=event.get("user"), channel=event.get("channel"),
                       message_ts=event.get("message_ts"), unfurl_id=event.get("unfurl_id"),
                       source=event.get("source")))
        return None

    def uploads(event: dict[str, Any], context: Any) -> Any:
        if event.get("type") == "file_shared":
            files = [{"id": event.get("file_id") or (event.get("file") or {}).get("id")}]
            channel, thread_ts, user = event.get("channel_id", ""), None, event.get("user_id")
        else:
            if event.get("bot_id"):
                return None
            files = [f for f in (event.get("files") or [])[:5] if not f.get("name") or is_model_file_name(f["name"])]
            channel, thread_ts, user = event.get("channel", ""), event.get("thread_ts") or event.get("ts"), event.get("user")
        for f in files:
            if f.get("id") and channel:
                # file_shared and message/file_share announce one upload: one request, keyed by file+channel
                place(dict(rid=f"file:{f['id']}:{channel}", kind="upload", file_id=f["id"], label=f.get("name") or f["id"],
                           user=user, channel=channel, thread_ts=thread_ts, bot_user_id=context.bot_user_id))
        return None

    def route(body: dict[str, Any], client: Any, context: Any) -> Any:
        if body.get("command"):
            return command(body)
        event = body.get("event") or {}
        kind = event.get("type")
        if body.get("type") != "event_callback" or not body.get("event_id"):
            return "next"
        if kind == "app_mention" and not event.get("bot_id"):
            return mention(body, event, client)
        if kind == "link_shared":
            return link_shared(body, event)
        if kind == "file_shared" or (kind == "message" and event.get("subtype") == "file_share"):
            return uploads(event, context)
        return "next"

    def route_riding_out_blips(body: dict[str, Any], client: Any, context: Any) -> Any:
        import redis as redis_lib

        deadline = time.monotonic() + REDIS_BLIP_S
        attempt.token = uuid.uuid4().hex
        while True:
            try:
                result = route(body, client, context)
                break
            except (redis_lib.ConnectionError, redis_lib.TimeoutError, redis_lib.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # a Redis restart (AOF reload) shorter than REDIS_BLIP_S goes unnoticed
        return result

    def queue_mode(body: dict[str, Any], client: Any, context: Any, next: Callable[[], Any]) -> Any:  # noqa: A002
        import redis as redis_lib

        try:
            result = route_riding_out_blips(body, client, context)
        except q.AlreadyClaimed:
            # Another delivery is mid-enqueue, or its replica died: Slack delivers again later.
            return BoltResponse(status=503, body="")
        except (redis_lib.RedisError, OSError) as exc:
            log.warning("queue unreachable while acknowledging: %s", exc)
            if body.get("command"):
                return ephemeral(QUEUE_DOWN)
            return BoltResponse(status=503, body="")  # Slack retries the event when Redis is back
        if result == "next":
            return next()
        return result if result is not None else BoltResponse(status=200, body="")

    app.use(queue_mode)

    def healthy() -> bool:
        try:
            return bool(redis.ping())
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    return healthy
