"""Watcher announcements in queue mode: the replica's watcher and checkpoint webhook only notice a new
checkpoint version; a worker inspects it and posts, from the announce queue (behind every person's
question, connection.py).

`QueuedAnnouncer.announce` has the Announcer's signature (bot/watch/announcer.py), so the
subscription watcher and the webhook use it unchanged.  One job per (channel, version): the
request is claimed like a Slack request (enqueue.py), and the worker's Announcer still posts once
per (channel, version) through its own lease.  A version that does not parse is not retried in
queue mode; a file still being written gets a new version (size, mtime) when it grows.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.queue import enqueue as q
from bot.queue.connection import ANNOUNCE, ack_redis

log = logging.getLogger(__name__)


class QueuedAnnouncer:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.redis = ack_redis(settings.redis_url)

    def announce(self, *, channel: str, version: str, uri: str, name: str, run: str, report: Any = None) -> Any:
        import redis as redis_lib

        from bot.watch.announcer import Announced, Outcome

        spec = dict(rid=f"announce:{channel}:{version}", kind="announce", label=name, channel=channel,
                    version=version, uri=uri, name=name, run=run)
        try:
            if not q.claim(self.redis, spec["rid"]):
                return Announced(Outcome.ALREADY)
            try:
                q.enqueue(self.redis, self.settings, spec, ANNOUNCE)
            except BaseException:
                q.unclaim(self.redis, spec["rid"])
                raise
        except q.AlreadyClaimed:
            return Announced(Outcome.BUSY)
        except (redis_lib.RedisError, OSError) as exc:
            log.warning("announcement of %s not queued yet: %s", name, exc)
            return Announced(Outcome.DEFERRED)
        return Announced(Outcome.QUEUED)


def announce_job(ctx: Any, spec: dict[str, Any]) -> str:
    """The worker's side: the in-process Announcer, on this worker's parser pool."""
    from bot.watch import make_announcer
    from bot.watch.announcer import Outcome

    result = make_announcer(ctx.settings, pool=ctx.backend.parsers).announce(
        channel=spec["channel"], version=spec["version"], uri=spec["uri"], name=spec["name"], run=spec["run"])
    if result.outcome in (Outcome.DEFERRED, Outcome.BUSY):
        raise RuntimeError(f"announcement {result.outcome.value}; RQ retries it")
    return result.outcome.value
