"""Stories about what the cache keeps, how long, under which names, and what operators see."""

from __future__ import annotations

import random

import pytest
import redis
from redis_server import redis_server  # noqa: F401  (fixture)

from bot.analysis import PathArtifact, read_report
from bot.cache import cache_clear, cache_stats, make_cache, policy, render_stats
from bot.cache.memory import MemoryCache
from bot.cache.redis_cache import RedisCache
from bot.config import Settings
from bot.errors import ErrorCode
from bot.report import SCHEMA_VERSION, LayerInfo, Report, ReportError, SourceInfo
from bot.sources.base import Identity


def model_report(detail="ok", layers=0):
    return Report(source=SourceInfo("m.h5", "m.h5"), format="keras-h5-model", format_detail=detail,
                  layers=[LayerInfo(f"dense_{i}", "Dense", 10) for i in range(layers)])


def error_report(code: ErrorCode):
    return Report(source=SourceInfo("m.h5", "m.h5"), format="not-a-model",
                  error=ReportError(code.value, "…"))


IDENTITY = Identity("local", "/home/alice/secret-project/model.h5",
                    (("size", "123"), ("mtime_ns", "1"), ("inode", "2:3")))


def test_keys_name_no_path_and_carry_schema_and_analyzer_versions():
    keys = policy.keys_for(IDENTITY, analyzer="7")
    assert "alice" not in keys.report and "model.h5" not in keys.report
    assert keys.report.startswith(f"ckptbot:report:s{SCHEMA_VERSION}:a7:")
    assert keys.report != policy.keys_for(IDENTITY, analyzer="8").report
    changed = Identity(IDENTITY.kind, IDENTITY.key, (("size", "124"), ("mtime_ns", "1"), ("inode", "2:3")))
    assert policy.keys_for(changed, analyzer="7").report != keys.report


def test_analyzer_version_comes_from_the_analysis_package():
    import bot.analysis

    assert policy.analyzer_version() == str(bot.analysis.ANALYZER_VERSION)


def test_ttls_are_jittered_long_for_models_short_for_bad_files_and_none_for_transient_errors():
    rng = random.Random(1)
    model_ttls = [policy.ttl_seconds(model_report(), rng) for _ in range(500)]
    low, high = policy.REPORT_TTL_SECONDS * 0.85, policy.REPORT_TTL_SECONDS * 1.15
    assert all(low - 1 <= t <= high for t in model_ttls)
    assert len(set(model_ttls)) > 100  # spread out, not all expiring together

    for code in policy.NEGATIVE_CACHEABLE:
        assert policy.ttl_seconds(error_report(code), rng) <= policy.NEGATIVE_TTL_SECONDS * 1.15
    never = set(ErrorCode) - policy.NEGATIVE_CACHEABLE
    assert {ErrorCode.TIMEOUT, ErrorCode.UNREACHABLE, ErrorCode.INTERNAL, ErrorCode.LIMIT} <= never
    for code in never:
        assert policy.ttl_seconds(error_report(code), rng) is None


def test_a_file_that_is_not_a_model_is_remembered_for_minutes(redis_server, tmp_path):
    (tmp_path / "notes.txt").write_text("these are my training notes, not a model")
    cache = RedisCache(redis_server.url)
    identity = Identity("local", str(tmp_path / "notes.txt"), (("size", "40"),))
    report = cache.get_or_compute(identity, lambda: read_report(PathArtifact(tmp_path / "notes.txt")))

    assert report.error.code == ErrorCode.UNKNOWN.value
    ttl = redis.Redis.from_url(redis_server.url).ttl(policy.keys_for(identity).report)
    assert 0 < ttl <= policy.NEGATIVE_TTL_SECONDS * (1 + policy.TTL_JITTER)


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_transient_errors_are_asked_again_next_time(backend, request):
    cache = (RedisCache(request.getfixturevalue("redis_server").url) if backend == "redis"
             else MemoryCache())
    calls = []

    def unreachable():
        calls.append(1)
        return error_report(ErrorCode.UNREACHABLE)

    cache.get_or_compute(IDENTITY, unreachable)
    cache.get_or_compute(IDENTITY, unreachable)
    assert len(calls) == 2


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_a_report_too_big_to_store_is_answered_but_not_stored(backend, request, monkeypatch):
    cache = (RedisCache(request.getfixturevalue("redis_server").url) if backend == "redis"
             else MemoryCache())
    monkeypatch.setattr(policy, "MAX_VALUE_BYTES", 4096)
    big = model_report(layers=200)
    assert len(big.to_json(indent=None)) > 4096
    calls = []

    def compute():
        calls.append(1)
        return big

    assert len(cache.get_or_compute(IDENTITY, compute).layers) == 200
    assert len(cache.get_or_compute(IDENTITY, compute).layers) == 200
    assert len(calls) == 2
    assert cache.stats()["process"]["not_stored"] == 2


def test_a_garbled_entry_is_treated_as_a_miss(redis_server):
    cache = RedisCache(redis_server.url)
    redis.Redis.from_url(redis_server.url).set(policy.keys_for(IDENTITY).report, b"{not json")
    assert cache.get_or_compute(IDENTITY, lambda: model_report("fresh")).format_detail == "fresh"
    assert cache.get_or_compute(IDENTITY, lambda: model_report("again")).format_detail == "fresh"


def test_without_redis_url_the_cache_is_in_process_and_one_per_process():
    settings = Settings()
    cache = make_cache(settings)
    assert isinstance(cache, MemoryCache)
    assert make_cache(settings) is cache
    text = render_stats(cache_stats(settings))
    assert "single process only" in text


def test_operators_see_counts_and_can_clear_everything(redis_server):
    settings = Settings(REDIS_URL=redis_server.url)
    cache = make_cache(settings)
    assert isinstance(cache, RedisCache)
    for i in range(3):
        ident = Identity("local", f"/m{i}.h5", (("size", str(i)),))
        cache.get_or_compute(ident, lambda: model_report())
        cache.get_or_compute(ident, lambda: model_report())
    old_version = RedisCache(redis_server.url, analyzer="old")
    old_version.get_or_compute(IDENTITY, lambda: model_report())

    stats = cache_stats(settings)
    assert stats["reachable"] and stats["entries"] == 3 and stats["entries_all_versions"] == 4
    assert stats["shared"]["hits"] == 3 and stats["shared"]["computes"] == 4
    text = render_stats(stats)
    assert "3 for this version (4 in all)" in text and "3 hits" in text

    assert cache_clear(settings) == 4
    assert cache_stats(settings)["entries_all_versions"] == 0


def test_stats_say_so_when_redis_is_unreachable(tmp_path):
    from redis_server import free_port

    cache = RedisCache(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    stats = cache.stats()
    assert stats["reachable"] is False
    text = render_stats(stats)
    assert "reachable: no" in text and "hunter2" not in text
