"""Stories: Redis crashes, hangs or was never there, and the bot keeps answering."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from cache_stories import inspect_all_bytes, sha256_of
from redis_server import RedisServer, free_port, redis_server  # noqa: F401  (fixture)

from bot.cache.failopen import FailOpenRedis
from bot.cache.redis_cache import RedisCache
from bot.sources.local import LocalSource

# The requirement: Slack's 3 s ack minus the rest of the work; each answer within 1 s.
ANSWER_BUDGET_SECONDS = 1.0


class Asker:
    def __init__(self, cache, path):
        self.cache, self.path = cache, str(path)
        self.inspections = 0

    def ask(self):
        source = LocalSource(self.path, roots=None)

        def compute():
            self.inspections += 1
            return inspect_all_bytes(source.artifact())

        return self.cache.get_or_compute(source.identity(), compute)


@pytest.fixture
def model_file(tmp_path):
    data = os.urandom(20_000)
    (tmp_path / "model.h5").write_bytes(data)
    return tmp_path / "model.h5", sha256_of(data)


def outage_lines(caplog):
    return [r for r in caplog.records if "unavailable" in r.getMessage()]


def test_a_redis_that_never_started_costs_nothing(model_file, caplog):
    path, digest = model_file
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    asker = Asker(cache, path)
    with caplog.at_level(logging.WARNING, logger="ckptbot.cache"):
        answers = [asker.ask() for _ in range(10)]

    assert [a.format_detail for a in answers] == [digest] * 10
    assert asker.inspections == 10  # uncached, but answered
    stats = cache.stats()
    assert stats["breaker"] == "open" and stats["reachable"] is False
    assert stats["process"]["breaker_refused"] > 0  # later calls skipped Redis entirely
    assert len(outage_lines(caplog)) == 1  # logged once, not once per request


def test_redis_killed_mid_run_then_restarted_caching_resumes(redis_server, model_file, caplog):
    path, digest = model_file
    client = FailOpenRedis(redis_server.url, reset_timeout=0.2)  # a quick probe for the test
    asker = Asker(RedisCache(redis_server.url, redis_client=client), path)
    assert asker.ask().format_detail == digest
    assert asker.ask().format_detail == digest
    assert asker.inspections == 1

    with caplog.at_level(logging.WARNING, logger="ckptbot.cache"):
        redis_server.kill()
        during = [asker.ask() for _ in range(6)]
        assert [a.format_detail for a in during] == [digest] * 6
        assert asker.inspections == 7  # every answer during the outage was computed
        assert client.breaker.state == "open"

        redis_server.restart()  # same port, empty, as after a crash
        deadline = time.monotonic() + 20
        while True:  # the breaker probes after 0.2 s; the probe stores, the next ask hits
            before = asker.inspections
            assert asker.ask().format_detail == digest
            if asker.inspections == before:
                break  # answered from Redis again
            assert time.monotonic() < deadline, "caching never resumed after Redis came back"
            time.sleep(0.05)

    after = asker.inspections
    for _ in range(5):
        asker.ask()
    assert asker.inspections == after  # cached again
    assert client.breaker.state == "closed"
    assert len(outage_lines(caplog)) == 1
    assert any("is back" in r.getMessage() for r in caplog.records)


def test_a_hung_redis_answers_every_request_within_a_second(redis_server, model_file):
    path, digest = model_file
    cache = RedisCache(redis_server.url)
    asker = Asker(cache, path)
    asker.ask()  # warm: the entry is in Redis, the pool has a connection
    redis_server.pause()  # SIGSTOP: connections are accepted, nothing is answered
    try:
        durations, answers = [], []
        for _ in range(8):  # one at a time: the first ones pay the socket timeout
            started = time.monotonic()
            answers.append(asker.ask())
            durations.append(time.monotonic() - started)

        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def ask_timed():
            barrier.wait()
            started = time.monotonic()
            report = asker.ask()
            with lock:
                durations.append(time.monotonic() - started)
                answers.append(report)

        threads = [threading.Thread(target=ask_timed) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        redis_server.resume()

    assert [a.format_detail for a in answers] == [digest] * 16
    print("answer seconds while Redis is stopped:", [round(d, 3) for d in durations])
    assert max(durations) < ANSWER_BUDGET_SECONDS, durations
    assert cache.redis.breaker.state == "open"


def test_slack_retries_are_deduplicated_even_while_redis_is_down(redis_server):
    cache = RedisCache(redis_server.url)
    other_process = RedisCache(redis_server.url)
    assert cache.remember_once("evt:Ev001", 3600) is True
    assert other_process.remember_once("evt:Ev001", 3600) is False  # shared through Redis

    redis_server.kill()
    assert cache.remember_once("evt:Ev001", 3600) is False  # this process remembers it
    assert cache.remember_once("evt:Ev002", 3600) is True  # new during the outage
    assert cache.remember_once("evt:Ev002", 3600) is False  # its retry, in this process


def test_a_read_only_replica_after_failover_still_answers_and_says_so_once(tmp_path, model_file, caplog):
    path, digest = model_file
    replica = RedisServer(tmp_path / "replica",
                          extra_args=("--replicaof", "127.0.0.1", str(free_port()))).start()
    try:
        asker = Asker(RedisCache(replica.url), path)
        with caplog.at_level(logging.WARNING, logger="ckptbot.cache"):
            answers = [asker.ask() for _ in range(4)]
    finally:
        replica.kill()
    assert [a.format_detail for a in answers] == [digest] * 4
    assert asker.inspections == 4
    errors = [r for r in caplog.records if "answered with an error" in r.getMessage()]
    assert len(errors) == 1 and "read only replica" in errors[0].getMessage()
