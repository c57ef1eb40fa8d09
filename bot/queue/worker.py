"""`ckptbot worker [--queues a,b] [--burst] [--max-jobs N]`: an RQ worker answering queued questions.

RQ's SimpleWorker runs jobs in this process, so one parser pool (bot/isolation.py children, the
same limits as in-process mode) serves every job.  Signals are RQ's: the first SIGTERM (or
Ctrl+C) lets the current job finish and exits (warm shutdown); a second one aborts the job and
exits, leaving it in StartedJobRegistry for another worker (cold shutdown).

Abandoned jobs.  RQ notices a dead worker's job only when its heartbeat lapses (job monitoring
interval + 60 s, rq/worker/base.py get_heartbeat_ttl).  To do it in seconds, every worker keeps
`alive:<name>` with a ALIVE_TTL_S expiry fresh from a thread, and a reaper thread looks at every
started job each REAP_EVERY_S: one whose worker's key is gone is handed to RQ's own
StartedJobRegistry.cleanup (marked expired first), which retries it (Retry) or fails it
(failure callback → the person is told).  Pickup bound: ALIVE_TTL_S + REAP_EVERY_S = 7 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from bot.queue.connection import (
    ALIVE_BEAT_S,
    ALIVE_TTL_S,
    QUEUES,
    REAP_EVERY_S,
    key,
    serializer,
    worker_redis,
)

log = logging.getLogger(__name__)

WORKER_TTL_S = 30  # RQ's own worker registration; liveness for the reaper is alive:<name>
JOB_MONITORING_S = 5
RECONNECT_WAIT_S = 0.5


def reap_abandoned(redis: Any, queues: tuple[str, ...] = QUEUES) -> list[str]:
    """Requeue (or fail, when out of retries) started jobs whose worker is no longer alive."""
    from rq.job import Job, JobStatus
    from rq.registry import StartedJobRegistry
    from rq.timeouts import TimerDeathPenalty

    reaped: list[str] = []
    for name in queues:
        # The reaper runs on a thread: RQ's default SIGALRM death penalty for the failure callback
        # works only on the main thread, its timer-based one anywhere.
        registry = StartedJobRegistry(name, connection=redis, serializer=serializer(),
                                      death_penalty_class=TimerDeathPenalty)
        for entry in redis.zrange(registry.key, 0, -1):
            entry = entry.decode()
            job_id = registry.parse_job_id(entry)
            try:
                job = Job.fetch(job_id, connection=redis, serializer=serializer())
            except Exception:  # noqa: BLE001 - gone already; RQ's maintenance drops the entry
                continue
            if job.get_status(refresh=False) != JobStatus.STARTED:
                continue
            owner = job.worker_name
            if owner and redis.exists(key("alive", owner)):
                continue
            if not redis.set(key("reaping", job_id), 1, nx=True, ex=ALIVE_TTL_S):
                continue  # another worker's reaper has it
            redis.zadd(registry.key, {entry: 1}, xx=True)  # expired as far as RQ's cleanup is concerned
            registry.cleanup(timestamp=1)
            log.warning("job %s of dead worker %s handed back to RQ (retry or fail)", job_id, owner)
            reaped.append(job_id)
    return reaped


class Liveness:
    """The alive key and the reaper, each on a daemon thread with its own Redis connection."""

    def __init__(self, url: str, queues: tuple[str, ...]) -> None:
        self.redis = worker_redis(url)
        self.queues = queues
        self.name = ""
        self._stop = threading.Event()

    def start(self, name: str) -> None:
        self.name = name
        for target in (self._beat, self._reap):
            threading.Thread(target=target, daemon=True, name=f"ckpt-{target.__name__}").start()

    def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                self.redis.set(key("alive", self.name), 1, ex=ALIVE_TTL_S)
            except Exception:  # noqa: BLE001 - Redis down: nothing to keep alive in; retried next beat
                pass
            self._stop.wait(ALIVE_BEAT_S)

    def _reap(self) -> None:
        while not self._stop.wait(REAP_EVERY_S):
            try:
                reap_abandoned(self.redis, QUEUES)
            except Exception as exc:  # noqa: BLE001 - Redis down or restarting
                log.debug("reaper pass failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        try:  # gone at once: a job this worker abandoned (cold shutdown) is requeued on the next pass
            self.redis.delete(key("alive", self.name))
        except Exception:  # noqa: BLE001
            pass


def worker_main(args: argparse.Namespace, settings: Any) -> int:
    import redis as redis_lib
    from rq import SimpleWorker

    if not settings.redis_url:
        print("ckptbot: configuration error: REDIS_URL is not set; a worker takes its jobs from Redis.",
              file=sys.stderr)
        return 4
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import RedactTokens

    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    from bot.queue.jobs import context

    context().backend.parsers  # start the parser children now, not inside the first job
    conn = worker_redis(settings.redis_url)
    live = Liveness(settings.redis_url, queues)
    base = f"ckptbot-{socket.gethostname()}-{os.getpid()}"
    done = 0
    started = False
    try:
        while True:
            name = f"{base}-{uuid.uuid4().hex[:6]}"  # a fresh name after a reconnect: RQ refuses a live one
            if not started:
                live.start(name)
                started = True
            live.name = name
            worker = SimpleWorker(list(queues), connection=conn, name=name, serializer=serializer(),
                                  worker_ttl=WORKER_TTL_S, job_monitoring_interval=JOB_MONITORING_S)
            try:
                worker.work(burst=args.burst, max_jobs=None if args.max_jobs is None else args.max_jobs - done,
                            with_scheduler=False, logging_level="INFO")
                return 0
            except redis_lib.ConnectionError as exc:
                done += worker.successful_job_count + worker.failed_job_count
                log.warning("Redis went away (%s); reconnecting", exc)
                _wait_for_redis(conn)
    finally:
        live.stop()


def _wait_for_redis(conn: Any) -> None:
    while True:
        try:
            if conn.ping():
                return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(RECONNECT_WAIT_S)
