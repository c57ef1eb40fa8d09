"""The in-process cache used when REDIS_URL is not set.

Single-process only: entries, single flight and `remember_once` records live in this
process's memory.  Two bot processes (gunicorn workers, replicas) each keep their own copy,
inspect the same file once each, and do not see each other's Slack event ids.  Set
REDIS_URL to share one cache between processes.
"""

from __future__ import annotations

import threading
from typing import Callable

from bot.cache import policy
from bot.cache.local import SingleFlight, TtlLru
from bot.report import Report
from bot.sources.base import Identity

# A report is 2-400 KB of JSON; 512 entries and 64 MB keep a bot's memory bounded while
# holding every checkpoint a team talks about in a day.
MEMORY_MAX_ENTRIES = 512
MEMORY_MAX_BYTES = 64 * 1024**2
# Slack event ids and "announced once" records: small strings; 10,000 covers an hour of
# retries for a busy workspace (retries stop after ~5 minutes).
ONCE_MAX_ENTRIES = 10_000
# Followers wait this long for the leader's inspection, then compute themselves.  The
# inspection is bounded by CKPTBOT_MAX_WALL_SECONDS (60 s) plus process start.
DEFAULT_WAIT_BOUND_SECONDS = 75.0

Compute = Callable[[], Report]
Revalidate = Callable[[Identity], bool]


class Counters:
    """Thread-safe named counters for `stats()`."""

    NAMES = ("hits", "revalidated", "misses", "computes", "joined", "uncached", "not_stored")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.NAMES, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = dict.fromkeys(self.NAMES, 0)


class MemoryCache:
    backend = "memory"

    def __init__(
        self,
        max_entries: int = MEMORY_MAX_ENTRIES,
        max_bytes: int = MEMORY_MAX_BYTES,
        wait_bound_s: float = DEFAULT_WAIT_BOUND_SECONDS,
        analyzer: str | None = None,
    ) -> None:
        self._reports = TtlLru(max_entries, max_bytes)
        self._once = TtlLru(ONCE_MAX_ENTRIES)
        self._flight: SingleFlight[tuple[Report, str]] = SingleFlight(wait_bound_s)
        self._analyzer = analyzer
        self.counters = Counters()

    def get_or_compute(
        self, identity: Identity, compute: Compute, *, revalidate: Revalidate | None = None
    ) -> Report:
        """The stored report for this identity, or compute() once (shared by concurrent callers)."""
        keys = policy.keys_for(identity, self._analyzer)
        result, leader = self._flight.call_once(
            keys.report, lambda: self._lookup_or_compute(identity, keys.report, compute, revalidate)
        )
        if result is None:  # the leader took longer than the wait bound
            self.counters.add("uncached")
            return compute()
        report, text = result
        if leader:
            return report
        self.counters.add("joined")
        return Report.from_json(text)  # the follower's own copy: Reports are mutable

    def _lookup_or_compute(
        self, identity: Identity, key: str, compute: Compute, revalidate: Revalidate | None
    ) -> tuple[Report, str]:
        text = self._reports.get(key)
        if text is not None:
            if revalidate is None or revalidate(identity):
                self.counters.add("hits")
                if revalidate is not None:
                    self.counters.add("revalidated")
                return Report.from_json(text), text
            self._reports.delete(key)
        self.counters.add("misses")
        report = compute()
        self.counters.add("computes")
        text = report.to_json(indent=None)
        ttl = policy.ttl_seconds(report)
        if ttl is not None and len(text) <= policy.MAX_VALUE_BYTES:
            self._reports.set(key, text, ttl)
        else:
            self.counters.add("not_stored")
        return report, text

    def remember_once(self, key: str, ttl_s: int) -> bool:
        """True the first time `key` is seen within ttl_s (in this process only)."""
        return self._once.add_if_absent(key, "1", ttl_s)

    def stats(self) -> dict:
        return {
            "backend": self.backend,
            "scope": "this process only",
            "entries": len(self._reports),
            "bytes": self._reports.bytes,
            "schema_version": policy.SCHEMA_VERSION,
            "analyzer_version": self._analyzer or policy.analyzer_version(),
            "process": self.counters.snapshot(),
        }

    def clear(self) -> int:
        """Forget every stored report; returns how many there were."""
        self.counters.reset()
        return self._reports.clear()
