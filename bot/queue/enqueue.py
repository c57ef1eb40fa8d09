"""The replica's side of queue mode: claim a Slack request, place one job, say where it waits.

A request (`cmd:<trigger_id>`, `ev:<event_id>`, `file:<id>:<channel>`) is claimed with SET NX for
CLAIMING_TTL_S, the job is enqueued under an id derived from it, and the claim becomes `queued`
for QUEUED_TTL_S.  A second delivery (Slack's retry, the same event at another replica) finds:

    queued    → acknowledged and dropped: the job exists and will answer
    claiming  → another replica is enqueueing it right now, or died doing so: events get a 503 so
                Slack delivers again later (by then: queued, or the claim lapsed and we enqueue)

Fair share: a person with USER_SHARE questions already waiting goes to the bulk queue, which every
worker takes only when the interactive queue is empty (connection.py).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from bot.queue.connection import BULK, INTERACTIVE, USER_SHARE, key, serializer

CLAIMING_TTL_S = 15  # a replica's acknowledgement path takes < 3 s; a dead one's claim lapses soon
QUEUED_TTL_S = 3600  # Slack retries an event for ~5 minutes
USER_SET_TTL_S = 900  # a person's waiting-jobs set forgets a job whose answer never cleared it
RETRIES = 2  # a job killed or timed out runs again, twice; then the person hears it failed


class AlreadyClaimed(Exception):
    """Another delivery of this request is being enqueued (or its replica died doing so)."""


@dataclass(frozen=True)
class Placed:
    job_id: str
    queue: str
    position: int  # 1 = next to be taken
    duplicate: bool = False  # this delivery was a repeat; nothing was enqueued
    spec: dict[str, Any] | None = None  # the job's argument, placeholder included


def job_id_for(request_id: str) -> str:
    return "ckpt-" + hashlib.sha256(request_id.encode()).hexdigest()[:32]


def job_timeout_s(settings: Any) -> int:
    """Two inspections (diff, check) at the wall-clock limit each, plus downloads and posting."""
    return int(settings.max_wall_seconds * 2 + 60)


def claim(redis: Any, request_id: str, token: str = "") -> bool:
    """True: this delivery enqueues.  False: already queued.  Raises AlreadyClaimed: in progress.

    `token` names this delivery's attempt, so its own retry (Redis blinked mid-way) may go on."""
    name = key("req", request_id)
    mine = f"claiming:{token}".encode()
    if redis.set(name, mine, nx=True, ex=CLAIMING_TTL_S):
        return True
    held = redis.get(name)
    if held == b"queued":
        return False
    if token and held == mine:
        return True
    raise AlreadyClaimed(request_id)


def unclaim(redis: Any, request_id: str) -> None:
    try:
        redis.delete(key("req", request_id))
    except Exception:  # noqa: BLE001 - the claim lapses by itself
        pass


def queue_for(redis: Any, user: str | None) -> str:
    if user and redis.scard(key("user", user)) >= USER_SHARE:
        return BULK
    return INTERACTIVE


def position_if_enqueued(redis: Any, queue: str) -> int:
    ahead = redis.llen(f"rq:queue:{INTERACTIVE}")
    if queue == BULK:
        ahead += redis.llen(f"rq:queue:{BULK}")
    return int(ahead) + 1


def enqueue(redis: Any, settings: Any, spec: dict[str, Any], queue_name: str) -> str:
    """One RQ job for this request (its id derived from the request), then the claim says `queued`."""
    from rq import Callback, Queue, Retry

    request_id = spec["rid"]
    jid = job_id_for(request_id)
    spec = {**spec, "queued_at": time.time()}
    pipe = redis.pipeline()
    Queue(queue_name, connection=redis, serializer=serializer()).enqueue(
        "bot.queue.jobs.answer_job", spec, job_id=jid, retry=Retry(max=RETRIES), job_timeout=job_timeout_s(settings),
        result_ttl=600, failure_ttl=24 * 3600, on_failure=Callback("bot.queue.jobs.on_failure"),
        description=f"{spec['kind']} {spec.get('label', '')}"[:200])
    if spec.get("user"):
        pipe.sadd(key("user", spec["user"]), jid)
        pipe.expire(key("user", spec["user"]), USER_SET_TTL_S)
    pipe.set(key("req", request_id), b"queued", ex=QUEUED_TTL_S)
    pipe.execute()
    return jid


def ordinal(n: int) -> str:
    if n <= 1:
        return "next in line"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix} in line"
