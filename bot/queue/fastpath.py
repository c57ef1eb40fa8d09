"""Cache hits answered by the replica itself, without a worker.

After the acknowledgement, a replica thread resolves the reference (a stat, or a HEAD for remote
links: no model bytes), looks its identity up in the shared report cache and, on a hit, posts the
answer through the same answer-once marker as the workers, then cancels the still-queued job.  A
worker that took the job first finds the answer sent and stops; on a miss the job answers.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def cached_report(reference: str, settings: Any) -> Any:
    """The cached Report for `reference`'s current identity, or None (miss, error, no Redis)."""
    from bot import sources
    from bot.cache import make_cache
    from bot.cache.policy import keys_for
    from bot.report import Report

    cache = make_cache(settings)
    if not hasattr(cache, "redis"):
        return None
    identity = sources.resolve(reference, settings).identity()
    keys = keys_for(identity, cache._analyzer)
    text = cache.redis.call(lambda r: r.get(keys.report))
    return Report.from_json(text) if text else None


def answer_from_cache(settings: Any, redis: Any, spec: dict[str, Any]) -> bool:
    from rq.job import Job

    from bot.queue.connection import key, serializer
    from bot.queue.delivery import deliver_once
    from bot.queue.replies import post_answer
    from bot.slack_client import slack_client
    from bot.slack_text import parse_command, parse_mention
    from handlers.questions import SUBCOMMAND_WORDS, layers_button_value, report_answer

    try:
        parse = parse_command if spec["kind"] == "command" else parse_mention
        reference = parse(spec["text"], SUBCOMMAND_WORDS).args[0]
        report = cached_report(reference, settings)
        if report is None:
            return False
        answer = report_answer(report, spec.get("user"), layers_button_value(reference=reference))
        client = slack_client(settings)
        posted = deliver_once(redis, spec["rid"],
                              lambda: post_answer(client, spec, answer.text, answer.blocks, answer.ok), "replica")
        job = Job.fetch(spec["job_id"], connection=redis, serializer=serializer())
        if job.get_status() == "queued":
            job.cancel()
        if spec.get("user"):
            redis.srem(key("user", spec["user"]), spec["job_id"])
        return posted
    except Exception as exc:  # noqa: BLE001 - the queued job answers instead
        log.info("no cache answer for %s: %s", spec.get("label"), exc)
        return False
