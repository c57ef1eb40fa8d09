"""The report cache: repeated questions answered at once, never stale, never a reason to fail.

    cache = make_cache(settings)          # RedisCache if REDIS_URL is set, else MemoryCache
    report = cache.get_or_compute(source.identity(), lambda: inspect_bytes(source))

Both caches offer the same methods:

* get_or_compute(identity, compute, *, revalidate=None) -> Report
      keyed by the artifact's identity (its validators included), report schema and
      analyzer version; concurrent callers for one identity share one compute()
* remember_once(key, ttl_s) -> bool      True the first time (Slack retries, announcements)
* stats() -> dict, clear() -> int        for `ckptbot cache stats` / `ckptbot cache clear`

`MemoryCache` is single-process only: each bot process keeps its own.  `RedisCache` fails
open: while Redis is down or hung, answers are computed uncached within one 250 ms socket
timeout (0 ms once the circuit breaker is open), and caching resumes by itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Union

from bot.cache.breaker import RedisUnavailable
from bot.cache.memory import MemoryCache
from bot.cache.policy import analyzer_version

if TYPE_CHECKING:
    from bot.cache.redis_cache import RedisCache
    from bot.config import Settings

__all__ = [
    "Cache", "MemoryCache", "RedisCache", "RedisUnavailable", "analyzer_version",
    "cache_clear", "cache_stats", "make_cache", "render_stats",
]

Cache = Union["RedisCache", MemoryCache]

# Time past the inspection wall-clock limit before a single-flight lock is presumed dead
# (its holder also has to start a parser child and write the result).
LOCK_MARGIN_SECONDS = 15.0

_instances: dict[tuple[str | None, float], Cache] = {}
_instances_lock = threading.Lock()


def make_cache(settings: "Settings") -> Cache:
    """This process's cache for these settings: the same object on every call, so the
    service may call it per request (one connection pool, one breaker, one LRU)."""
    bound = settings.max_wall_seconds + LOCK_MARGIN_SECONDS
    key = (settings.redis_url, bound)
    with _instances_lock:
        cache = _instances.get(key)
        if cache is None:
            cache = _new_cache(settings.redis_url, bound)
            _instances[key] = cache
        return cache


def _new_cache(redis_url: str | None, bound_s: float) -> Cache:
    if not redis_url:
        return MemoryCache(wait_bound_s=bound_s)
    from bot.cache.redis_cache import (
        RedisCache,  # imports redis-py only when it is used
    )

    return RedisCache(redis_url, lock_ttl_s=bound_s, wait_bound_s=bound_s)


def cache_stats(settings: "Settings") -> dict:
    """`ckptbot cache stats`: what the cache holds and how it has been doing."""
    return make_cache(settings).stats()


def cache_clear(settings: "Settings") -> int:
    """`ckptbot cache clear`: delete every stored report; returns how many.

    Raises RedisUnavailable (message says why) when REDIS_URL is set but Redis does not answer.
    """
    return make_cache(settings).clear()


def render_stats(stats: dict) -> str:
    """Plain text for `ckptbot cache stats`, one fact per line."""
    lines: list[str] = []
    if stats["backend"] == "memory":
        lines.append("cache: in-process (REDIS_URL not set; single process only)")
        lines.append(f"entries: {stats['entries']} ({stats['bytes']} bytes)")
    else:
        lines.append(f"cache: Redis at {stats['url']}")
        if not stats.get("reachable"):
            lines.append(f"reachable: no ({stats.get('error', 'unknown error')})")
        else:
            lines.append(
                f"entries: {stats['entries']} for this version "
                f"({stats['entries_all_versions']} in all), "
                f"Redis memory {stats['used_memory_bytes']} bytes"
            )
            shared = stats["shared"]
            lines.append(
                "all processes: {hits} hits, {misses} misses, {computes} inspections".format(
                    hits=shared.get("hits", 0), misses=shared.get("misses", 0),
                    computes=shared.get("computes", 0),
                )
            )
        lines.append(f"circuit breaker: {stats['breaker']}")
    lines.append(f"keys: report schema {stats['schema_version']}, analyzer {stats['analyzer_version']}")
    proc = stats["process"]
    lines.append("this process: " + ", ".join(f"{k} {v}" for k, v in proc.items()))
    return "\n".join(lines)


def __getattr__(name: str):
    if name == "RedisCache":
        from bot.cache.redis_cache import RedisCache

        return RedisCache
    raise AttributeError(name)
