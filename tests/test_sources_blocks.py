"""The block cache turns h5py's hundreds of small reads into a few ranged fetches.

An in-memory RangeSource records every fetch, so these stories need no socket: contiguous
misses are one fetch, head and tail are served without fetching, memory stays bounded, and
a source that returns the wrong number of bytes is an error, never silently short data
(h5py ignores short reads and would parse stale bytes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sources.base import SourceError  # noqa: E402
from bot.sources.blocks import BlockCache, RangeFile  # noqa: E402

KIB = 1024


class MemorySource:
    def __init__(self, data: bytes, short_by: int = 0) -> None:
        self.data = data
        self.size = len(data)
        self.fetches: list[tuple[int, int]] = []
        self.short_by = short_by

    def fetch(self, start: int, end: int) -> bytes:
        self.fetches.append((start, end))
        return self.data[start:end - self.short_by]


def _file(size=4 * 1024 * KIB, **kw):
    data = os.urandom(size)
    source = MemorySource(data)
    cache = BlockCache(source, data[:64 * KIB], block_bytes=16 * KIB, **kw)
    cache.prefetch(tail_bytes=32 * KIB, whole_file_bytes=0)
    return data, source, RangeFile(cache)


def test_head_and_tail_are_served_without_fetching():
    data, source, f = _file()
    assert source.fetches == [(len(data) - 32 * KIB, len(data))]
    f.seek(100)
    assert f.read(1000) == data[100:1100]
    f.seek(-500, os.SEEK_END)
    assert f.read() == data[-500:]
    assert len(source.fetches) == 1


def test_a_read_across_missing_blocks_is_one_fetch_and_is_cached():
    data, source, f = _file()
    f.seek(1000 * KIB)
    assert f.read(50 * KIB) == data[1000 * KIB:1050 * KIB]
    assert source.fetches[1:] == [(992 * KIB, 1056 * KIB)]  # aligned blocks, one request
    f.seek(1010 * KIB)
    assert f.read(10) == data[1010 * KIB:1010 * KIB + 10]
    assert len(source.fetches) == 2


def test_readinto_fills_the_whole_buffer():
    data, _, f = _file()
    buf = bytearray(300 * KIB)
    f.seek(2000 * KIB)
    assert f.readinto(buf) == len(buf)
    assert bytes(buf) == data[2000 * KIB:2300 * KIB]


def test_memory_stays_under_the_cache_bound():
    data, source, f = _file(cache_bytes=64 * KIB)
    for offset in range(100 * KIB, 3000 * KIB, 20 * KIB):
        f.seek(offset)
        assert f.read(100) == data[offset:offset + 100]
    cache = f._cache
    assert cache.cached_bytes <= 64 * KIB


def test_a_short_answer_from_the_source_is_an_error():
    data = os.urandom(4 * 1024 * KIB)
    cache = BlockCache(MemorySource(data, short_by=1), data[:64 * KIB], block_bytes=16 * KIB)
    with pytest.raises(SourceError) as err:
        cache.prefetch(tail_bytes=32 * KIB, whole_file_bytes=0)
    assert err.value.code.value == "truncated"
