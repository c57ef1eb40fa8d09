"""What a `ckptbot worker` runs for each queued Slack question.

`answer_job(spec)` answers through the same code as in-process mode (handlers/questions.py →
bot/service.py → bot/isolation.py parser children) and posts through delivery.deliver_once, so a
job that runs twice (retried after a timeout, requeued from a killed worker, a replica's cache
answer first) answers once.  The single flight of bot/cache (SET NX PX in Redis) keeps one
inspection per artifact version across all workers.  `on_failure` answers a job that failed for
good with one sentence: what failed and what to do.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from bot.queue.connection import INTERACTIVE, key, serializer
from bot.queue.delivery import already_sent, deliver_once
from bot.queue.enqueue import ordinal
from bot.queue.replies import post_answer, post_unfurls, show_step, upload_placeholder

log = logging.getLogger(__name__)

PARSER_WORKERS = 2  # parser children per worker process: one inspection at a time, a spare for diffs
NUDGE_WAITING = 3  # placeholders further down the queue re-told their position when a job starts
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerContext:
    settings: Any
    backend: Any
    client: Any
    redis: Any


_context: WorkerContext | None = None


def context() -> WorkerContext:
    """This worker process's settings, backend (cache + parser pool), Slack client and Redis."""
    global _context
    if _context is None:
        from bot import service
        from bot.cache import make_cache
        from bot.config import load_settings
        from bot.queue.connection import worker_redis
        from bot.slack_client import slack_client
        from handlers.backend import SlackBackend

        settings = load_settings()
        assert settings.redis_url, "ckptbot worker checks REDIS_URL before it takes jobs"
        _context = WorkerContext(settings, SlackBackend(settings, service, make_cache(settings), workers=1,
                                                        parser_workers=PARSER_WORKERS),
                                 slack_client(settings), worker_redis(settings.redis_url))
    return _context


def answer_job(spec: dict[str, Any]) -> str:
    ctx = context()
    if already_sent(ctx.redis, spec["rid"]):
        _release(ctx, spec)
        return "already answered"
    kind = spec["kind"]
    if kind == "announce":
        from bot.queue.announce import announce_job

        return announce_job(ctx, spec)
    if kind == "upload":
        return _upload(ctx, spec)
    show_step(ctx.client, spec, "reading…")
    _nudge_waiting(ctx)
    if kind == "unfurl":
        from bot.render import blocks as render
        from bot.slack_text import unescape

        unfurls = {url: {"blocks": render.unfurl_blocks(ctx.backend.inspect(unescape(url)))} for url in spec["urls"]}
        deliver_once(ctx.redis, spec["rid"], lambda: post_unfurls(ctx.client, spec, unfurls), HOLDER)
    else:
        answer = _answer(ctx, spec)
        deliver_once(ctx.redis, spec["rid"],
                     lambda: post_answer(ctx.client, spec, answer.text, answer.blocks, answer.ok), HOLDER)
    _release(ctx, spec)
    return "answered"


def _answer(ctx: WorkerContext, spec: dict[str, Any]) -> Any:
    from bot.slack_text import parse_command, parse_mention
    from handlers.questions import SUBCOMMAND_WORDS, Question, answer_question

    parse = parse_command if spec["kind"] == "command" else parse_mention
    request = parse(spec["text"], SUBCOMMAND_WORDS)
    return answer_question(ctx.backend, Question(request, spec.get("user"), spec.get("channel")))


def _upload(ctx: WorkerContext, spec: dict[str, Any]) -> str:
    from bot.slack_text import is_model_file_name
    from handlers.questions import layers_button_value, report_answer

    info = ctx.client.files_info(file=spec["file_id"])["file"]
    name = info.get("name") or spec["file_id"]
    if not is_model_file_name(name) or info.get("user") == spec.get("bot_user_id"):
        _release(ctx, spec)
        return "not a model file"
    if not spec.get("thread_ts"):
        from handlers.files import _share_ts

        spec = {**spec, "thread_ts": _share_ts(info, spec["channel"])}
    spec = upload_placeholder(ctx.client, ctx.redis, spec, name)
    report = ctx.backend.inspect_upload(info)
    answer = report_answer(report, spec.get("user") or info.get("user"), layers_button_value(file_id=spec["file_id"]))
    deliver_once(ctx.redis, spec["rid"],
                 lambda: post_answer(ctx.client, spec, answer.text, answer.blocks, answer.ok), HOLDER)
    _release(ctx, spec)
    return "answered"


def _nudge_waiting(ctx: WorkerContext) -> None:
    """The next few placeholders in the interactive queue say their new place in line."""
    from rq import Queue

    try:
        queue = Queue(INTERACTIVE, connection=ctx.redis, serializer=serializer())
        for position, job in enumerate(queue.get_jobs(0, NUDGE_WAITING - 1), start=1):
            waiting = job.args[0] if job.args else {}
            if waiting.get("kind") == "mention":
                show_step(ctx.client, waiting, ordinal(position))
    except Exception as exc:  # noqa: BLE001 - a courtesy
        log.warning("could not update waiting placeholders: %s", exc)


def _release(ctx: WorkerContext, spec: dict[str, Any]) -> None:
    """This person has one question fewer waiting (their fair share, enqueue.py)."""
    from bot.queue.enqueue import job_id_for

    if spec.get("user"):
        try:
            ctx.redis.srem(key("user", spec["user"]), job_id_for(spec["rid"]))
        except Exception:  # noqa: BLE001 - the set expires by itself
            pass


def failure_sentence(spec: dict[str, Any]) -> str:
    what = spec.get("label") or "this question"
    return (f"I could not finish looking at {what}: the work failed on every try (a worker crashed or it ran past "
            "the time limit). Try again in a few minutes; if it fails again, run `ckptbot inspect` on it locally "
            "and tell the ckptbot maintainers.")


def on_failure(job: Any, connection: Any, exc_type: Any = None, exc_value: Any = None, tb: Any = None) -> None:
    """RQ's failure callback (also for abandoned jobs): answers once no retry is left."""
    if job.retries_left:
        return  # RQ runs it again
    spec = job.args[0]
    log.warning("job %s failed for good: %s", job.id, exc_type)
    from bot.render import blocks as render

    ctx = context()
    text, blocks = render.notice_blocks(failure_sentence(spec))
    if spec["kind"] in ("unfurl", "announce"):
        return  # nobody asked: a missing unfurl card or announcement needs no apology
    if spec["kind"] == "upload" and not spec.get("placeholder_ts"):
        ts = ctx.redis.get(key("ph", spec["rid"]))
        spec = {**spec, "placeholder_ts": ts.decode() if ts else None}
    deliver_once(ctx.redis, spec["rid"], lambda: post_answer(ctx.client, spec, text, blocks, False), HOLDER)
    _release(ctx, spec)
