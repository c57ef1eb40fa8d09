"""Stories about the in-process pieces: the LRU that bounds memory, and the breaker's states."""

from __future__ import annotations

from bot.cache.breaker import CircuitBreaker
from bot.cache.local import TtlLru
from bot.cache.memory import MemoryCache
from bot.report import Report, SourceInfo
from bot.sources.base import Identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_lru_forgets_the_least_recently_asked_entry_first():
    lru = TtlLru(max_entries=2)
    lru.set("a", "1", 60)
    lru.set("b", "2", 60)
    assert lru.get("a") == "1"  # a is now the most recent
    lru.set("c", "3", 60)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == ("1", None, "3")


def test_the_lru_keeps_its_byte_bound():
    lru = TtlLru(max_entries=100, max_bytes=10)
    for key in "abcd":
        lru.set(key, "xxxx", 60)
    assert lru.bytes <= 10 and len(lru) == 2


def test_entries_and_once_records_expire_with_their_ttl():
    clock = Clock()
    lru = TtlLru(max_entries=10, clock=clock)
    assert lru.add_if_absent("evt:1", "1", 60) is True
    assert lru.add_if_absent("evt:1", "1", 60) is False
    clock.now += 61
    assert lru.get("evt:1") is None
    assert lru.add_if_absent("evt:1", "1", 60) is True


def test_memory_cache_answers_again_without_inspecting_and_clear_forgets():
    cache = MemoryCache()
    identity = Identity("local", "/m.h5", (("size", "1"),))
    calls = []

    def compute():
        calls.append(1)
        return Report(source=SourceInfo("m.h5", "/m.h5"), format="keras-h5-model")

    first = cache.get_or_compute(identity, compute)
    second = cache.get_or_compute(identity, compute)
    assert first.to_dict() == second.to_dict() and first is not second
    assert len(calls) == 1
    assert cache.clear() == 1
    cache.get_or_compute(identity, compute)
    assert len(calls) == 2
    assert cache.remember_once("announced:/m.h5", 60) is True
    assert cache.remember_once("announced:/m.h5", 60) is False


def test_the_breaker_opens_after_fail_max_probes_once_and_logs_each_outage_once():
    clock = Clock()
    events = []
    breaker = CircuitBreaker(3, 5.0, on_open=lambda e: events.append("open"),
                             on_close=lambda: events.append("close"), clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()

    clock.now += 5
    assert breaker.allow() is True  # the one probe
    assert breaker.allow() is False  # everyone else still skips Redis
    breaker.record_failure()  # the probe failed: open again, same outage
    assert breaker.state == "open" and events == ["open"]

    clock.now += 5
    assert breaker.allow() is True
    breaker.record_success()
    assert breaker.state == "closed" and events == ["open", "close"]


def test_a_probe_whose_caller_vanished_does_not_keep_the_breaker_half_open_forever():
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow() is True  # a probe that never reports back
    clock.now += 5
    assert breaker.allow() is True
