"""`ckptbot queue stats`: depth per queue, workers alive, oldest waiting job, failed jobs."""

from __future__ import annotations

import time
from typing import Any

from bot.queue.connection import PREFIX, QUEUES, serializer


def queue_stats(redis: Any) -> dict[str, Any]:
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    out: dict[str, Any] = {"queues": {}, "workers_alive": 0}
    now = time.time()
    for name in QUEUES:
        queue = Queue(name, connection=redis, serializer=serializer())
        oldest = None
        first = queue.get_jobs(0, 0)
        if first and first[0].args:
            oldest = round(now - float(first[0].args[0].get("queued_at", now)), 1)
        out["queues"][name] = {
            "waiting": queue.count,
            "running": StartedJobRegistry(name, connection=redis, serializer=serializer()).count,
            "failed": FailedJobRegistry(name, connection=redis, serializer=serializer()).count,
            "oldest_waiting_s": oldest,
        }
    out["workers_alive"] = sum(1 for _ in redis.scan_iter(f"{PREFIX}alive:*", count=200))
    return out


def render_queue_stats(stats: dict[str, Any]) -> str:
    lines = [f"workers alive: {stats['workers_alive']}"]
    for name, q in stats["queues"].items():
        oldest = "-" if q["oldest_waiting_s"] is None else f"{q['oldest_waiting_s']} s"
        lines.append(f"{name}: {q['waiting']} waiting (oldest {oldest}), {q['running']} running, "
                     f"{q['failed']} failed")
    return "\n".join(lines)
