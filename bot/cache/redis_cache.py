"""The shared cache: reports in Redis, one inspection per artifact across all processes.

get_or_compute(identity, compute):

1. In-process single flight: threads of this process asking for the same identity share
   one trip through the steps below.
2. GET the report key.  A hit is answered from Redis (revalidate(identity) first, when
   given).  The identity is fresh (a stat, a HEAD), so a hit reads zero body bytes.
3. Miss: `SET lock NX PX` with a random token.  The winner computes, stores the report
   (or, when it must not be cached, a short-lived hand-off copy for waiters), and releases
   the lock by compare-and-delete.  Losers poll the report, the hand-off and the lock; when
   the lock vanishes without a result (holder died: its lock expired), they try to take it.
4. Any Redis failure at any step: compute, uncached.  The lock is for efficiency, never for
   correctness (security.md §6.3): a lost lock costs one duplicate inspection.
"""

from __future__ import annotations

import logging
import secrets
import time

import redis

from bot.cache import policy
from bot.cache.breaker import RedisUnavailable
from bot.cache.failopen import FailOpenRedis
from bot.cache.local import SingleFlight, TtlLru
from bot.cache.memory import (
    DEFAULT_WAIT_BOUND_SECONDS,
    ONCE_MAX_ENTRIES,
    Compute,
    Counters,
    Revalidate,
)
from bot.report import Report
from bot.sources.base import Identity

log = logging.getLogger("ckptbot.cache")

# The lock outlives the longest inspection (CKPTBOT_MAX_WALL_SECONDS, 60 s) plus process
# start, so a healthy holder never loses it; a dead holder's lock frees itself after this.
DEFAULT_LOCK_TTL_SECONDS = 75.0
# An uncacheable result (a timeout, a too-large report) is handed to waiters through a key
# that lives just long enough for them to poll it once more.
HANDOFF_TTL_MS = 10_000
# Waiters poll fast at first (most inspections take 50-500 ms), then back off.
POLL_FIRST_SECONDS = 0.01
POLL_MAX_SECONDS = 0.2
SCAN_BATCH = 500

# Compare-and-delete: release the lock only if it is still ours (redis-py's Lock does the same).
RELEASE_LOCK_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class RedisCache:
    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        lock_ttl_s: float = DEFAULT_LOCK_TTL_SECONDS,
        wait_bound_s: float = DEFAULT_WAIT_BOUND_SECONDS,
        analyzer: str | None = None,
        redis_client: FailOpenRedis | None = None,
    ) -> None:
        self.redis = redis_client or FailOpenRedis(url)
        self.lock_ttl_ms = int(lock_ttl_s * 1000)
        self.wait_bound_s = wait_bound_s
        self._analyzer = analyzer
        self._flight: SingleFlight[tuple[Report, str]] = SingleFlight(wait_bound_s)
        self._once_fallback = TtlLru(ONCE_MAX_ENTRIES)
        self.counters = Counters()

    # -- the request path ----------------------------------------------------------------

    def get_or_compute(
        self, identity: Identity, compute: Compute, *, revalidate: Revalidate | None = None
    ) -> Report:
        """The report for this identity from Redis, or compute() once across all processes.

        Never raises for Redis trouble: while Redis is down or hung this is compute(),
        bounded by one socket timeout at most (0 ms once the breaker is open).
        Exceptions from compute() and revalidate() propagate.
        """
        keys = policy.keys_for(identity, self._analyzer)
        result, leader = self._flight.call_once(
            keys.report, lambda: self._lookup_or_compute(identity, keys, compute, revalidate)
        )
        if result is None:
            return self._compute_uncached(compute)
        report, text = result
        if leader:
            return report
        self.counters.add("joined")
        return Report.from_json(text)  # the follower's own copy: Reports are mutable

    def _lookup_or_compute(
        self, identity: Identity, keys: policy.Keys, compute: Compute,
        revalidate: Revalidate | None,
    ) -> tuple[Report, str]:
        try:
            text = self.redis.call(lambda r: _get_counting(r, keys.report))
        except RedisUnavailable:
            return self._pair(self._compute_uncached(compute))
        if text is not None:
            report = _parse(text)
            if report is not None and (revalidate is None or revalidate(identity)):
                self.counters.add("hits")
                if revalidate is not None:
                    self.counters.add("revalidated")
                return report, text.decode("utf-8")
            if not self._forget(keys.report):  # stale by the source's word, or unreadable
                return self._pair(self._compute_uncached(compute))
        self.counters.add("misses")
        return self._compute_single_flight(keys, compute)

    def _compute_single_flight(self, keys: policy.Keys, compute: Compute) -> tuple[Report, str]:
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_bound_s
        poll = POLL_FIRST_SECONDS
        first_try = True
        while True:
            try:
                acquired = self.redis.call(
                    lambda r: _acquire(r, keys.lock, token, self.lock_ttl_ms, first_try)
                )
            except RedisUnavailable:
                return self._pair(self._compute_uncached(compute))
            first_try = False
            if acquired:
                return self._compute_holding_lock(keys, token, compute)
            # Someone else is inspecting this artifact: wait for their answer.
            while True:
                if time.monotonic() >= deadline:
                    log.warning("waited %.0f s for another inspection; computing", self.wait_bound_s)
                    return self._pair(self._compute_uncached(compute))
                time.sleep(poll)
                poll = min(poll * 2, POLL_MAX_SECONDS)
                try:
                    stored, handoff, lock = self.redis.call(
                        lambda r: r.mget(keys.report, keys.handoff, keys.lock)
                    )
                except RedisUnavailable:
                    return self._pair(self._compute_uncached(compute))
                found = stored or handoff
                report = _parse(found) if found is not None else None
                if report is not None:
                    self.counters.add("joined")
                    # decode_responses is off: redis-py answers bytes (typed bytes | str).
                    return report, found.decode("utf-8")  # type: ignore[union-attr]
                if lock is None:
                    break  # the holder finished without a result, or died: try to take over

    def _compute_holding_lock(self, keys: policy.Keys, token: str, compute: Compute
                              ) -> tuple[Report, str]:
        try:
            report = compute()
        except BaseException:
            self._release(keys.lock, token)
            raise
        self.counters.add("computes")
        text = report.to_json(indent=None)
        ttl = policy.ttl_seconds(report)
        fits = len(text.encode("utf-8")) <= policy.MAX_VALUE_BYTES
        if ttl is None or not fits:
            self.counters.add("not_stored")

        def store(r: redis.Redis) -> None:
            pipe = r.pipeline(transaction=False)
            if ttl is not None and fits:
                pipe.set(keys.report, text, ex=ttl)
            elif fits:
                pipe.set(keys.handoff, text, px=HANDOFF_TTL_MS)
            pipe.eval(RELEASE_LOCK_LUA, 1, keys.lock, token)
            pipe.hincrby(policy.STATS_KEY, "computes", 1)
            pipe.execute()

        try:
            self.redis.call(store)
        except RedisUnavailable:
            pass  # answered anyway; the lock expires by itself
        return report, text

    def _compute_uncached(self, compute: Compute) -> Report:
        self.counters.add("uncached")
        return compute()

    def _release(self, lock_key: str, token: str) -> None:
        try:
            self.redis.call(lambda r: r.eval(RELEASE_LOCK_LUA, 1, lock_key, token))
        except RedisUnavailable:
            pass

    def _forget(self, key: str) -> bool:
        """Delete a stale entry; False when Redis failed (the caller then stops using it)."""
        try:
            self.redis.call(lambda r: r.delete(key))
        except RedisUnavailable:
            return False
        return True

    @staticmethod
    def _pair(report: Report) -> tuple[Report, str]:
        return report, report.to_json(indent=None)

    # -- Slack dedup -----------------------------------------------------------------------

    def remember_once(self, key: str, ttl_s: int) -> bool:
        """True the first time `key` is seen within ttl_s, across processes (SET NX EX).

        While Redis is unavailable this process's own records answer (security.md §6.1 R4):
        at most one duplicate per process during an outage.
        """
        first_here = self._once_fallback.add_if_absent(key, "1", ttl_s)
        try:
            return bool(self.redis.call(lambda r: r.set(policy.once_key(key), 1, nx=True, ex=ttl_s)))
        except RedisUnavailable:
            return first_here

    # -- operators ---------------------------------------------------------------------------

    def stats(self) -> dict:
        """Shared counters and entry counts from Redis, plus this process's own counters."""
        analyzer = self._analyzer or policy.analyzer_version()
        out: dict = {
            "backend": self.backend,
            "url": self.redis.display_url,
            "schema_version": policy.SCHEMA_VERSION,
            "analyzer_version": analyzer,
            "breaker": self.redis.breaker.state,
            "process": {**self.counters.snapshot(), "redis_errors": self.redis.errors,
                        "breaker_refused": self.redis.refused},
        }
        try:
            shared, info, current, total = self.redis.call(
                lambda r: (
                    r.hgetall(policy.STATS_KEY),
                    r.info("memory"),
                    _count(r, policy.report_pattern(all_versions=False, analyzer=analyzer)),
                    _count(r, policy.report_pattern(all_versions=True)),
                )
            )
        except RedisUnavailable as exc:
            out.update(reachable=False, error=str(exc))
            return out
        counts = {k.decode(): int(v) for k, v in shared.items()}  # type: ignore[union-attr]  # bytes keys
        lookups, misses = counts.get("lookups", 0), counts.get("misses", 0)
        out.update(
            reachable=True,
            entries=current,
            entries_all_versions=total,
            used_memory_bytes=int(info.get("used_memory", 0)),
            shared={**counts, "hits": lookups - misses},
        )
        return out

    def clear(self) -> int:
        """Delete every stored report (all schema and analyzer versions) and the shared
        counters; returns how many reports were deleted.  Locks and dedup records stay."""

        def delete_reports(r: redis.Redis) -> int:
            deleted = 0
            batch: list[bytes] = []
            for key in r.scan_iter(match=policy.report_pattern(all_versions=True), count=SCAN_BATCH):
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    deleted += r.unlink(*batch)
                    batch = []
            if batch:
                deleted += r.unlink(*batch)
            r.delete(policy.STATS_KEY)
            return deleted

        self.counters.reset()
        return self.redis.call(delete_reports)


def _get_counting(r: redis.Redis, key: str) -> bytes | None:
    pipe = r.pipeline(transaction=False)
    pipe.get(key)
    pipe.hincrby(policy.STATS_KEY, "lookups", 1)
    value, _ = pipe.execute()
    return value


def _acquire(r: redis.Redis, lock_key: str, token: str, ttl_ms: int, count_miss: bool) -> bool:
    pipe = r.pipeline(transaction=False)
    pipe.set(lock_key, token, nx=True, px=ttl_ms)
    if count_miss:
        pipe.hincrby(policy.STATS_KEY, "misses", 1)
    return bool(pipe.execute()[0])


def _count(r: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in r.scan_iter(match=pattern, count=SCAN_BATCH))


def _parse(text: bytes | str) -> Report | None:
    """The stored report, or None when the stored bytes are not one (treated as a miss)."""
    try:
        return Report.from_json(text)
    except (ValueError, KeyError, TypeError):
        return None
