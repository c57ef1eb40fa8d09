"""The inspection pool behind the Slack listeners: bounded, and no question is left unanswered."""

from __future__ import annotations

import threading

from bot import service
from bot.cache.memory import MemoryCache
from bot.config import DefaultSettings
from handlers.backend import SlackBackend


def _backend(workers: int = 1, max_queued: int = 2) -> SlackBackend:
    return SlackBackend(DefaultSettings(), service, MemoryCache(wait_bound_s=5), workers=workers,
                        max_queued=max_queued)


def test_a_full_queue_says_busy_instead_of_piling_up_work():
    backend = _backend(workers=1, max_queued=2)
    release = threading.Event()
    assert backend.submit(release.wait, lambda: None)
    assert backend.submit(release.wait, lambda: None)
    assert not backend.submit(release.wait, lambda: None)  # the listener tells the person "busy"
    release.set()
    done = threading.Event()
    for _ in range(100):  # the queue drains and takes work again
        if backend.submit(done.set, lambda: None):
            break
        threading.Event().wait(0.05)
    assert done.wait(5)
    backend.shutdown()


def test_a_job_that_breaks_is_reported_to_the_person_and_the_pool_lives_on():
    backend = _backend()
    told, later = threading.Event(), threading.Event()

    def broken() -> None:
        raise RuntimeError("a bug in ckptbot")

    assert backend.submit(broken, told.set)
    assert told.wait(5)
    assert backend.submit(later.set, lambda: None) and later.wait(5)
    backend.shutdown()


def test_each_event_is_delivered_once_per_key():
    backend = _backend()
    assert backend.first_delivery("slack-event:Ev1") is True
    assert backend.first_delivery("slack-event:Ev1") is False
    assert backend.first_delivery("slack-event:Ev2") is True
    backend.shutdown()
