"""Stories: a repeated question is answered from the cache without reading the file again,
and a changed file is never answered from the old entry.  Both backends, real Redis."""

from __future__ import annotations

import os

import pytest
from cache_stories import (
    ByteCounter,
    CountingArtifact,
    FileServer,
    inspect_all_bytes,
    sha256_of,
)
from redis_server import redis_server  # noqa: F401  (fixture)

from bot.cache.memory import MemoryCache
from bot.cache.redis_cache import RedisCache
from bot.config import Settings
from bot.sources import resolve
from bot.sources.base import Identity
from bot.sources.local import LocalSource


@pytest.fixture(params=["redis", "memory"])
def cache(request, tmp_path):
    if request.param == "memory":
        return MemoryCache()
    server = request.getfixturevalue("redis_server")
    return RedisCache(server.url)


class Asker:
    """Asks the cache about a local file the way the service does: a fresh source (a stat)
    per question, the inspection reading through a byte counter."""

    def __init__(self, cache, path):
        self.cache, self.path = cache, str(path)
        self.bytes_read = ByteCounter()
        self.inspections = 0

    def ask(self):
        source = LocalSource(self.path, roots=None)

        def compute():
            self.inspections += 1
            return inspect_all_bytes(CountingArtifact(source.artifact(), self.bytes_read))

        return self.cache.get_or_compute(source.identity(), compute)


def test_second_and_third_questions_read_zero_bytes(cache, tmp_path):
    data = os.urandom(200_000)
    (tmp_path / "model.h5").write_bytes(data)
    asker = Asker(cache, tmp_path / "model.h5")

    first = asker.ask()
    assert asker.bytes_read.value == len(data)  # the miss read the file
    second = asker.ask()
    third = asker.ask()  # a new stat of the unchanged file: revalidated, still a hit

    assert asker.inspections == 1
    assert asker.bytes_read.value == len(data)  # hits read zero body bytes
    assert first.to_dict() == second.to_dict() == third.to_dict()
    assert third.format_detail == sha256_of(data)
    stats = cache.stats()["process"]
    assert (stats["misses"], stats["hits"]) == (1, 2)


def test_a_rewritten_file_is_never_answered_from_the_old_entry(cache, tmp_path):
    path = tmp_path / "model.h5"
    old, new_same_size = os.urandom(4096), os.urandom(4096)
    path.write_bytes(old)
    asker = Asker(cache, path)
    assert asker.ask().format_detail == sha256_of(old)

    path.write_bytes(new_same_size)  # same size: only mtime (and content) changed
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert asker.ask().format_detail == sha256_of(new_same_size)

    grown = new_same_size + b"more"
    path.write_bytes(grown)
    assert asker.ask().format_detail == sha256_of(grown)

    replaced = tmp_path / "replacement.h5"  # atomic replace: a new inode, mtime copied back
    replaced.write_bytes(old[:4000] + b"x" * 100)
    os.utime(replaced, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns))
    os.replace(replaced, path)
    assert asker.ask().format_detail == sha256_of(old[:4000] + b"x" * 100)
    assert asker.inspections == 4


def test_a_link_is_revalidated_with_one_head_and_zero_body_bytes(cache, tmp_path):
    settings = Settings(CKPTBOT_ALLOWED_HOSTS="127.0.0.1")
    v1, v2 = os.urandom(100_000), os.urandom(100_000)
    with FileServer() as server:
        server.files["/ckpt/model.h5"] = v1
        url = server.url("/ckpt/model.h5")
        inspections = []

        def ask():
            source = resolve(url, settings)

            def compute():
                inspections.append(url)
                return inspect_all_bytes(source.artifact())

            return cache.get_or_compute(source.identity(), compute)

        assert ask().format_detail == sha256_of(v1)
        body_after_miss, heads_after_miss = server.body_bytes, server.counts["HEAD"]
        assert body_after_miss >= len(v1)

        assert ask().format_detail == sha256_of(v1)
        assert server.body_bytes == body_after_miss  # zero body bytes for the hit
        assert server.counts["HEAD"] == heads_after_miss + 1  # one HEAD revalidated it

        server.files["/ckpt/model.h5"] = v2  # same URL, same size, new ETag
        assert ask().format_detail == sha256_of(v2)
        assert server.body_bytes >= body_after_miss + len(v2)
        assert len(inspections) == 2


def test_revalidate_saying_no_recomputes_and_replaces_the_entry(cache, tmp_path):
    identity = Identity("slack", "F0123", (("sha256", "abc"),))
    answers = iter(["first", "second"])

    def compute():
        from bot.report import Report, SourceInfo
        return Report(source=SourceInfo("a.h5", "slack:F0123"), format="keras-h5-model",
                      format_detail=next(answers))

    assert cache.get_or_compute(identity, compute).format_detail == "first"
    stale = cache.get_or_compute(identity, compute, revalidate=lambda ident: False)
    assert stale.format_detail == "second"
    kept = cache.get_or_compute(identity, compute, revalidate=lambda ident: True)
    assert kept.format_detail == "second"
    assert cache.stats()["process"]["revalidated"] == 1


def test_a_new_analyzer_version_does_not_read_old_answers(redis_server, tmp_path):
    (tmp_path / "m.h5").write_bytes(b"weights")
    old = Asker(RedisCache(redis_server.url, analyzer="1"), tmp_path / "m.h5")
    new = Asker(RedisCache(redis_server.url, analyzer="2"), tmp_path / "m.h5")
    old.ask()
    new.ask()
    old.ask()
    assert (old.inspections, new.inspections) == (1, 1)


def test_answers_are_the_same_in_every_process(redis_server, tmp_path):
    """Two bot processes (two clients) share one entry: the second never inspects."""
    (tmp_path / "m.h5").write_bytes(os.urandom(1000))
    first = Asker(RedisCache(redis_server.url), tmp_path / "m.h5")
    other = Asker(RedisCache(redis_server.url), tmp_path / "m.h5")
    a, b = first.ask(), other.ask()
    assert a.to_dict() == b.to_dict()
    assert (first.inspections, other.inspections) == (1, 0)
    assert other.bytes_read.value == 0


def test_the_bot_answers_a_repeated_question_from_redis_without_a_parser(redis_server, fixtures_dir):
    """Through service.inspect, as the CLI and Slack handlers call it, with a real Keras file."""
    from bot import service
    from bot.cache import make_cache

    fixture = fixtures_dir / "tfk__mixed__save.h5"
    assert fixture.exists(), "committed fixture missing: tests/fixtures/README.md says how to make it"
    settings = Settings(REDIS_URL=redis_server.url)
    cache = make_cache(settings)

    first = service.inspect(str(fixture), settings, cache=cache, allow_any_local=True)
    again = service.inspect(str(fixture), settings, cache=RedisCache(redis_server.url),
                            allow_any_local=True)  # another bot process

    assert first.error is None and first.format == "keras-h5-model"
    assert again.to_dict() == first.to_dict()
    assert cache.stats()["shared"] == {"lookups": 2, "misses": 1, "computes": 1, "hits": 1}
