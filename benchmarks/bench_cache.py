"""Cold inspection vs warm hits (Redis, in-process), side by side in one run.

    python benchmarks/bench_cache.py [--file PATH] [--warm N] [--cold N]

Every row goes through `bot.service.inspect()` as the bot calls it: resolve the path, stat
it for its identity, then the cache (or the analysis, cold).  Process start and imports are
excluded.  A throwaway redis-server is started on a free loopback port.

Target (issue 5): warm answer <= 20 ms p50 end to end, zero bytes re-read.  Bytes read are
counted on a second pass that wraps the artifact the analysis reads.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from cache_stories import ByteCounter, CountingArtifact  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from bot import service  # noqa: E402
from bot.analysis import read_report  # noqa: E402
from bot.cache.memory import MemoryCache  # noqa: E402
from bot.cache.redis_cache import RedisCache  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.sources.local import LocalSource  # noqa: E402

DEFAULT_FIXTURES = ["tests/fixtures/keras/tfk__many__save.h5", "tests/fixtures/keras/tfk__mixed__save.h5"]
TARGET_WARM_P50_MS = 20.0


def pick_fixture(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).resolve()
    for rel in DEFAULT_FIXTURES:
        if (REPO / rel).exists():
            return REPO / rel
    found = sorted((REPO / "tests/fixtures").rglob("*.h5"), key=lambda p: p.stat().st_size)
    if not found:
        sys.exit("no .h5 fixture: run tests/fixtures/make_fixtures.py or pass --file")
    return found[-1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        report = fn()
        out.append((time.perf_counter() - started) * 1000)
        assert report.error is None, report.error  # a model fixture: every answer is a report
    return out


class CountingCache:
    """Wraps a cache to count how often the inspection itself ran."""

    def __init__(self, cache) -> None:
        self.cache, self.computes = cache, 0

    def get_or_compute(self, identity, compute, **kw):
        def counted():
            self.computes += 1
            return compute()
        return self.cache.get_or_compute(identity, counted, **kw)


def bytes_read_per_answer(cache, path: Path, n: int) -> tuple[int, int]:
    """(bytes the cold answer read, bytes the next n warm answers read) via a counting artifact."""
    counter = ByteCounter()

    def ask():
        source = LocalSource(str(path), roots=None)
        return cache.get_or_compute(
            source.identity(), lambda: read_report(CountingArtifact(source.artifact(), counter)))

    ask()
    cold = counter.value
    for _ in range(n):
        ask()
    return cold, counter.value - cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file")
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--cold", type=int, default=10)
    args = parser.parse_args()
    chosen = pick_fixture(args.file)
    settings = Settings()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / chosen.name  # a private copy: fixtures may be regenerated meanwhile
        shutil.copyfile(chosen, path)
        ref = str(path)
        server = RedisServer(tmp).start()
        try:
            redis_cache = CountingCache(RedisCache(server.url))
            memory_cache = CountingCache(MemoryCache())

            def inspect(cache, isolate=True):
                return lambda: service.inspect(ref, settings, cache=cache, allow_any_local=True,
                                               isolate=isolate)

            inspect(None)()  # untimed warm-up: imports, page cache, first child start
            inspect(None, False)()
            rows = []
            rows.append(("cold, isolated child (the bot's miss)", timed(inspect(None), args.cold)))
            rows.append(("cold, in-process read_report", timed(inspect(None, False), args.cold * 3)))
            inspect(redis_cache)()  # prime
            inspect(memory_cache)()
            primed = (redis_cache.computes, memory_cache.computes)
            rows.append(("warm hit through Redis", timed(inspect(redis_cache), args.warm)))
            rows.append(("warm hit in-process (MemoryCache)", timed(inspect(memory_cache), args.warm)))
            recomputed = (redis_cache.computes - primed[0], memory_cache.computes - primed[1])

            # Fail open: the same question while Redis is hung, then while it is gone.
            hung_cache = RedisCache(server.url)
            inspect(hung_cache)()
            server.pause()
            try:
                rows.append(("Redis hung (SIGSTOP): uncached, isolated", timed(inspect(hung_cache), args.cold * 2)))
            finally:
                server.resume()
            redis_bytes = bytes_read_per_answer(RedisCache(server.url, analyzer="bench-bytes"), path, 20)
            memory_bytes = bytes_read_per_answer(MemoryCache(), path, 20)
        finally:
            server.kill()
        down_cache = RedisCache(server.url)  # nobody listens on that port any more
        rows.append(("Redis down (refused): uncached, isolated", timed(inspect(down_cache), args.cold * 2)))

        report_json = service.inspect(ref, settings, allow_any_local=True, isolate=False).to_json(indent=None)
        size = path.stat().st_size
    print(f"file: {chosen.relative_to(REPO) if chosen.is_relative_to(REPO) else chosen} "
          f"({size:,} bytes; report JSON {len(report_json):,} bytes)")
    print(f"{'path':40} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'cold p50 / p50':>15}")
    cold_p50 = statistics.median(rows[0][1])
    for name, ms in rows:
        p50 = statistics.median(ms)
        print(f"{name:40} {len(ms):5d} {p50:9.2f} {percentile(ms, 0.99):9.2f} "
              f"{statistics.fmean(ms):9.2f} {cold_p50 / p50:14.1f}x")
    print(f"inspections during warm runs: Redis {recomputed[0]}, in-process {recomputed[1]}")
    print(f"body bytes read: cold {redis_bytes[0]:,}; next 20 warm answers: "
          f"Redis {redis_bytes[1]:,}, in-process {memory_bytes[1]:,}")
    worst = max(statistics.median(rows[2][1]), statistics.median(rows[3][1]))
    verdict = "meets" if worst <= TARGET_WARM_P50_MS and not any(recomputed) \
        and redis_bytes[1] == memory_bytes[1] == 0 else "MISSES"
    print(f"target: warm p50 <= {TARGET_WARM_P50_MS:.0f} ms with zero bytes re-read: {verdict}")


if __name__ == "__main__":
    main()
