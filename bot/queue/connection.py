"""Queue names, Redis keys and the Redis connections of queue mode.

Three RQ queues, taken in this order by every worker (RQ dequeues from the first non-empty one):

    ckptbot-interactive  /ckpt, @mentions, unfurls, uploads: people waiting
    ckptbot-bulk         a person's questions beyond their fair share (USER_SHARE waiting at once)
    ckptbot-announce     watcher announcements: nobody is waiting for them

Keys (all under `ckptbot:q:`): `req:<request>` (one enqueue per Slack request), `sent:<request>`
(one answer per Slack request), `alive:<worker>` (a worker's liveness, ALIVE_TTL_S), `user:<id>`
(a person's waiting jobs), `ph:<request>` (a placeholder a worker posted, reused by a retry).
"""

from __future__ import annotations

from typing import Any

INTERACTIVE = "ckptbot-interactive"
BULK = "ckptbot-bulk"
ANNOUNCE = "ckptbot-announce"
QUEUES = (INTERACTIVE, BULK, ANNOUNCE)

PREFIX = "ckptbot:q:"
# A worker refreshes its liveness key every ALIVE_BEAT_S; SIGKILLed, the key is gone after at most
# ALIVE_TTL_S, and the next reaper pass (every REAP_EVERY_S, in every worker) requeues its job.
# Bound on pickup of a killed worker's job: ALIVE_TTL_S + REAP_EVERY_S = 7 s (plus a dequeue).
ALIVE_BEAT_S = 1.0
ALIVE_TTL_S = 6
REAP_EVERY_S = 1.0
# A person may have this many questions waiting in the interactive queue; the rest wait in bulk,
# behind everyone else's, so one person's 50 pasted links cannot starve the channel.
USER_SHARE = 3
# Redis calls on the acknowledgement path: bounded so a hung Redis cannot outlast Slack's 3 s.
ACK_PATH_TIMEOUT_S = 0.5


def key(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def ack_redis(url: str) -> Any:
    """The replica's client: short timeouts, one quick retry (a replica must ack within 3 s)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_timeout=ACK_PATH_TIMEOUT_S, socket_connect_timeout=ACK_PATH_TIMEOUT_S,
                                retry=Retry(NoBackoff(), 1), health_check_interval=10)


def worker_redis(url: str) -> Any:
    """The worker's client: RQ blocks on dequeue, so no short socket timeout here."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)


def serializer() -> Any:
    from rq.serializers import JSONSerializer

    return JSONSerializer
