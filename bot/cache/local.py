"""In-process pieces shared by both caches: a TTL'd LRU and a single-flight map.

Both live in one process's memory: they deduplicate work between the threads of one bot
process only (the Bolt threaded runner), never between processes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class TtlLru:
    """Least-recently-used map of str -> str with per-entry expiry and a size bound."""

    def __init__(self, max_entries: int, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires_at, value = item
            if expires_at <= self._clock():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return value

    def set(self, key: str, value: str, ttl_s: float) -> None:
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (self._clock() + ttl_s, value)
            self._bytes += len(value)
            self._evict()

    def add_if_absent(self, key: str, value: str, ttl_s: float) -> bool:
        """Store unless a live entry exists; True when this call stored it."""
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] > self._clock():
                return False
            if item is not None:
                self._drop(key)
            self._items[key] = (self._clock() + ttl_s, value)
            self._bytes += len(value)
            self._evict()
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            if key in self._items:
                self._drop(key)

    def clear(self) -> int:
        with self._lock:
            n = len(self._items)
            self._items.clear()
            self._bytes = 0
            return n

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _drop(self, key: str) -> None:
        _, value = self._items.pop(key)
        self._bytes -= len(value)

    def _evict(self) -> None:
        while len(self._items) > self.max_entries or (
            self.max_bytes is not None and self._bytes > self.max_bytes and len(self._items) > 1
        ):
            oldest = next(iter(self._items))
            self._drop(oldest)


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share one execution of `fn`.

    The first caller (the leader) runs `fn`; the others wait up to `wait_bound_s` for its
    result (or its exception).  A follower whose wait runs out gets `None`, and decides
    itself what to do (the caches compute on their own rather than wait forever).
    """

    def __init__(self, wait_bound_s: float) -> None:
        self.wait_bound_s = wait_bound_s
        self._lock = threading.Lock()
        self._calls: dict[str, Future[T]] = {}

    def call_once(self, key: str, fn: Callable[[], T]) -> tuple[T | None, bool]:
        """(result, True) for the leader; (result or None on timeout, False) for followers."""
        with self._lock:
            future = self._calls.get(key)
            leader = future is None
            if leader:
                future = Future()
                self._calls[key] = future
        assert future is not None
        if not leader:
            try:
                return future.result(timeout=self.wait_bound_s), False
            except FutureTimeout:
                return None, False
        try:
            value = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(value)
            return value, True
        finally:
            with self._lock:
                del self._calls[key]
