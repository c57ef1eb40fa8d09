"""The small key-value store the watcher and subscriptions keep their state in: Redis when
REDIS_URL is set, else this process's memory (one watcher, forgotten on restart).

Only what exactly-once announcing needs: SET NX with a lease, a compare-and-delete to give a
lease back, plain get/set with a TTL, and sets for subscriptions.  Every Redis failure (down,
hung, refused) surfaces as `StoreUnavailable`; callers decide what failing means for them
(the watcher defers an announcement, a slash command says "try again").
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

# Redis answers on loopback or in the same zone within milliseconds; a watcher that waits
# longer than this per call would only delay every other file in its scan.
SOCKET_TIMEOUT_SECONDS = 1.0

# Deletes the key only if it still holds our lease token: a lease that expired and was taken
# over by another replica must not be deleted by the one that lost it.
_RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class StoreUnavailable(Exception):
    """The shared store did not answer; nothing was read or changed."""


class Store(Protocol):
    shared: bool  # True when other processes see the same state (Redis)

    def claim(self, key: str, value: str, ttl_ms: int) -> bool: ...
    def release(self, key: str, value: str) -> None: ...
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str, ttl_s: int | None = None) -> None: ...
    def add_member(self, key: str, member: str) -> bool: ...
    def remove_member(self, key: str, member: str) -> bool: ...
    def members(self, key: str) -> set[str]: ...


class RedisStore:
    shared = True

    def __init__(self, url: str) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
                                           socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                                           decode_responses=True)
        self._release = self._redis.register_script(_RELEASE_IF_OWNER)

    def _call(self, fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer: {exc}") from exc

    def claim(self, key: str, value: str, ttl_ms: int) -> bool:
        return bool(self._call(lambda: self._redis.set(key, value, nx=True, px=ttl_ms)))

    def release(self, key: str, value: str) -> None:
        self._call(lambda: self._release(keys=[key], args=[value]))

    def get(self, key: str) -> str | None:
        return self._call(lambda: self._redis.get(key))  # type: ignore[no-any-return]

    def put(self, key: str, value: str, ttl_s: int | None = None) -> None:
        self._call(lambda: self._redis.set(key, value, ex=ttl_s))

    def add_member(self, key: str, member: str) -> bool:
        return bool(self._call(lambda: self._redis.sadd(key, member)))

    def remove_member(self, key: str, member: str) -> bool:
        return bool(self._call(lambda: self._redis.srem(key, member)))

    def members(self, key: str) -> set[str]:
        return set(self._call(lambda: self._redis.smembers(key)))


class MemoryStore:
    """Same behaviour in one process, for a single watcher without Redis and for tests."""

    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float | None]] = {}
        self._sets: dict[str, set[str]] = {}

    def _live(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return value

    def claim(self, key: str, value: str, ttl_ms: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (value, time.monotonic() + ttl_ms / 1000)
            return True

    def release(self, key: str, value: str) -> None:
        with self._lock:
            if self._live(key) == value:
                del self._values[key]

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def put(self, key: str, value: str, ttl_s: int | None = None) -> None:
        with self._lock:
            self._values[key] = (value, None if ttl_s is None else time.monotonic() + ttl_s)

    def add_member(self, key: str, member: str) -> bool:
        with self._lock:
            members = self._sets.setdefault(key, set())
            added = member not in members
            members.add(member)
            return added

    def remove_member(self, key: str, member: str) -> bool:
        with self._lock:
            members = self._sets.get(key, set())
            removed = member in members
            members.discard(member)
            return removed

    def members(self, key: str) -> set[str]:
        with self._lock:
            return set(self._sets.get(key, set()))


_memory_store = MemoryStore()
_stores: dict[str, RedisStore] = {}
_stores_lock = threading.Lock()


def store_for(redis_url: str | None) -> Store:
    """This process's store for REDIS_URL (one connection pool per URL), or the memory store."""
    if not redis_url:
        return _memory_store
    with _stores_lock:
        store = _stores.get(redis_url)
        if store is None:
            store = _stores[redis_url] = RedisStore(redis_url)
        return store
