"""What the Slack handlers call: ckptbot's service with this process's settings, cache and pool.

Listeners run on Bolt's listener executor and must return at once (acks wait for them);
every inspection goes to `submit()`, a bounded pool, so 50 questions at once queue here
instead of starving acknowledgements (slack-bolt.md §1.2).  When the queue is full the
person is told the bot is busy instead of being left waiting.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.report import Report

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Inspections run in forked parser children (bot.isolation) capped at CKPTBOT_PARSER_MEMORY_BYTES
# each; 4 at once keeps a 2-core, 4 GB container responsive while a queue absorbs bursts.
INSPECT_WORKERS = 4
# Questions waiting for a worker before the bot answers "busy": a burst of 50 questions (the
# acceptance figure) fits four times over; beyond that people wait minutes, so say so instead.
MAX_QUEUED_JOBS = 200
# Slack retries an event for ~5 minutes; an hour covers every retry with room to spare.
EVENT_DEDUPE_TTL_S = 3600


class SlackBackend:
    """ckptbot's service for Slack listeners: inspect, diff, check, uploads; dedupe; the pool."""

    def __init__(self, settings: "Settings", service: ModuleType | Any, cache: Any,
                 workers: int = INSPECT_WORKERS, max_queued: int = MAX_QUEUED_JOBS,
                 parser_workers: int | None = None) -> None:
        self.settings = settings
        self.service = service
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ckpt-inspect")
        self._max_queued = max_queued
        self._pending = 0
        self._lock = threading.Lock()
        # Pre-started parser workers (bot.isolation.ParserPool): a threaded server must not fork per
        # request.  None → the service forks one child per inspection (tests, tiny deployments).
        self._parser_workers = parser_workers
        self._parsers: Any = None
        self._parsers_pid = 0

    @property
    def parsers(self) -> Any:
        """The parser pool of *this* process: gunicorn forks its worker after the app is built, and a
        pool's pipes must belong to the process that uses them, so it is made on first use here."""
        if not self._parser_workers:
            return None
        with self._lock:
            if self._parsers is None or self._parsers_pid != os.getpid():
                from bot.isolation import ParserPool

                self._parsers = ParserPool(self._parser_workers, self.settings)
                self._parsers_pid = os.getpid()
            return self._parsers

    # --- the work -------------------------------------------------------------------------
    def inspect(self, reference: str, progress: Progress | None = None) -> "Report":
        return self.service.inspect(reference, self.settings, cache=self.cache, pool=self.parsers,
                                    progress=progress)

    def inspect_upload(self, file_info: dict[str, Any], progress: Progress | None = None) -> "Report":
        return self.service.inspect_slack_file(file_info, self.settings, cache=self.cache, pool=self.parsers,
                                               progress=progress)

    def report_link(self, reference: str) -> str | None:
        """`<CKPTBOT_PUBLIC_URL>/r/<token>` for this reference's full report page (None when unset)."""
        from bot import report_links

        return report_links.issue(self.settings, reference)

    def diff(self, a: str, b: str) -> Any:
        return self.service.diff(a, b, self.settings, cache=self.cache, pool=self.parsers)

    def check(self, weights: str, model: str) -> Any:
        return self.service.check(weights, model, self.settings, cache=self.cache, pool=self.parsers)

    # --- delivery -------------------------------------------------------------------------
    def first_delivery(self, key: str, ttl_s: int = EVENT_DEDUPE_TTL_S) -> bool:
        """True the first time `key` is seen (across processes when REDIS_URL is set)."""
        return bool(self.cache.remember_once(key, ttl_s))

    def submit(self, job: Callable[[], object], on_failure: Callable[[], object]) -> bool:
        """Run `job` on the inspection pool; False (and nothing queued) when the queue is full.

        A job that raises is logged with its traceback and `on_failure` tells the person,
        so no question is left unanswered and the pool thread lives on.
        """
        with self._lock:
            if self._pending >= self._max_queued:
                return False
            self._pending += 1

        def guarded() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001 - the person must hear back; the log keeps the traceback
                log.exception("a Slack job failed")
                try:
                    on_failure()
                except Exception:  # noqa: BLE001 - Slack itself is failing; nothing more to tell anyone
                    log.exception("telling the person about a failed job failed too")
            finally:
                with self._lock:
                    self._pending -= 1

        self._pool.submit(guarded)
        return True

    @property
    def queued(self) -> int:
        return self._pending

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._parsers is not None and self._parsers_pid == os.getpid():
            self._parsers.close()
