"""Stories: many people ask about the same new checkpoint at once; it is inspected once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from cache_stories import inspect_all_bytes, sha256_of
from redis_server import redis_server  # noqa: F401  (fixture)

from bot.cache import policy
from bot.cache.memory import MemoryCache
from bot.cache.redis_cache import RedisCache
from bot.errors import ErrorCode
from bot.report import Report, ReportError, SourceInfo
from bot.sources.base import Identity
from bot.sources.local import LocalSource

REPO = Path(__file__).resolve().parent.parent
STORIES = Path(__file__).resolve().parent / "cache_stories.py"


def ask_all_at_once(cache, identity, compute, n):
    barrier = threading.Barrier(n)
    answers, errors = [], []

    def ask():
        barrier.wait()
        try:
            answers.append(cache.get_or_compute(identity, compute))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return answers


def slow_compute(counter, detail="the one answer", seconds=0.3, error=None):
    def compute():
        with counter["lock"]:
            counter["n"] += 1
        time.sleep(seconds)  # long enough for all the others to arrive meanwhile
        return Report(source=SourceInfo("m.h5", "m.h5"), format="keras-h5-model",
                      format_detail=detail, error=error)
    return compute


def new_counter():
    return {"n": 0, "lock": threading.Lock()}


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_twenty_threads_asking_at_once_cause_one_inspection(backend, request):
    if backend == "redis":
        cache = RedisCache(request.getfixturevalue("redis_server").url)
    else:
        cache = MemoryCache()
    counter = new_counter()
    identity = Identity("local", "/ckpts/new.h5", (("size", "10"),))

    answers = ask_all_at_once(cache, identity, slow_compute(counter), 20)

    assert counter["n"] == 1
    assert [a.format_detail for a in answers] == ["the one answer"] * 20
    assert len({id(a) for a in answers}) == 20  # each caller got its own Report object


def test_twenty_requests_from_four_processes_cause_one_inspection(redis_server, tmp_path):
    data = os.urandom(50_000)
    (tmp_path / "new.h5").write_bytes(data)
    go, log = tmp_path / "go", tmp_path / "computes.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(STORIES), redis_server.url, str(tmp_path / "new.h5"), "5",
             str(go), str(log), "1.0"],
            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        for _ in range(4)
    ]
    for w in workers:
        assert w.stdout.readline().strip() == "ready"
    go.touch()  # all 20 threads go at once
    answers = []
    for w in workers:
        out, _ = w.communicate(timeout=60)
        answers += json.loads(out.strip().splitlines()[-1])
        assert w.returncode == 0

    assert answers == [sha256_of(data)] * 20
    assert len(log.read_text().splitlines()) == 1  # exactly one inspection, in one process


def test_when_the_inspecting_process_dies_the_next_request_inspects(redis_server, tmp_path):
    data = os.urandom(1000)
    path = tmp_path / "new.h5"
    path.write_bytes(data)
    go, log = tmp_path / "go", tmp_path / "computes.log"
    go.touch()
    holder = subprocess.Popen(
        [sys.executable, str(STORIES), redis_server.url, str(path), "1", str(go), str(log),
         "60", "2.0"],  # a 60 s inspection holding a 2 s lock
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text()):  # it holds the lock and is inspecting
            assert time.monotonic() < deadline, "the holder never started inspecting"
            time.sleep(0.02)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    source = LocalSource(str(path), roots=None)
    cache = RedisCache(redis_server.url)
    lock_key = policy.keys_for(source.identity()).lock
    assert redis.Redis.from_url(redis_server.url).exists(lock_key)  # left behind by the dead

    report = cache.get_or_compute(source.identity(), lambda: inspect_all_bytes(source.artifact()))

    assert report.format_detail == sha256_of(data)
    assert cache.stats()["process"]["computes"] == 1


def test_an_uncacheable_answer_still_reaches_everyone_waiting(redis_server):
    """A timeout is never cached, but the people waiting on that inspection get it too."""
    counter = new_counter()
    identity = Identity("http", "https://example.org/m.h5", (("etag", '"1"'),))
    timeout = ReportError(ErrorCode.TIMEOUT.value, "The inspection took too long.")
    compute = slow_compute(counter, detail=None, error=timeout)
    # Two caches = two processes' worth of clients and in-process flights.
    caches = [RedisCache(redis_server.url), RedisCache(redis_server.url)]
    barrier = threading.Barrier(10)
    answers = []

    def ask(cache):
        barrier.wait()
        answers.append(cache.get_or_compute(identity, compute))

    threads = [threading.Thread(target=ask, args=(caches[i % 2],)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert counter["n"] == 1
    assert [a.error.code for a in answers] == ["timeout"] * 10
    assert not redis.Redis.from_url(redis_server.url).exists(policy.keys_for(identity).report)
    caches[0].get_or_compute(identity, compute)  # asked again later: inspected again
    assert counter["n"] == 2


def test_a_crashed_inspection_releases_the_lock_at_once(redis_server):
    cache = RedisCache(redis_server.url)
    identity = Identity("local", "/ckpts/bad.h5", (("size", "1"),))

    def crash():
        raise RuntimeError("parser bug")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(identity, crash)
    assert not redis.Redis.from_url(redis_server.url).exists(policy.keys_for(identity).lock)
    counter = new_counter()
    assert cache.get_or_compute(identity, slow_compute(counter, seconds=0)).format_detail
    assert counter["n"] == 1
