"""The block cache: random access to a remote file in few requests (remote-reads.md §9).

h5py reads a Keras file's metadata in ~300–7,000 reads of ~512 bytes scattered over the
whole file, each depending on the last.  One request per read would take minutes; a big
read-ahead moves hundreds of MB.  Measured best: pin the first 1 MiB and last 256 KiB
(superblock, root group, `model_config`, zip directory, metadata written at close), serve
the rest from 128 KiB blocks aligned on file offsets, fetch one read's contiguous misses in
one request, and keep blocks in a byte-bounded LRU.  bigdense (1.5 GiB): 27 requests, 4.6 MB.

`RangeFile` is what h5py and zipfile see: a read-only, seekable `RawIOBase` whose `readinto`
fills the buffer completely or raises (h5py ignores short reads and would parse stale bytes).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Protocol

from bot.analysis.io.windows import PositionedReader
from bot.sources.base import ShortRead, short_or_long

HEAD_BYTES = 1024 * 1024  # superblock + root group + legacy model_config (< 160 KB) + .keras JSON
# EOCD + zip64 records + central directory + HDF5 metadata written at close; never below
# 22 + 65,535 (max zip comment) + 20 + 56 so a commented zip64 archive still fits.
TAIL_BYTES = 256 * 1024
# Measured with benchmarks/bench_remote.py at 20 ms / 100 MB/s: 128 KiB gives the request
# counts of 256 KiB (bigdense 27 vs 26, ResNet50 50-52 vs 46-48) with 40-60 % of the bytes,
# keeping a 1.6 GB file under 0.5 % transferred; 64 KiB costs ResNet50 ~10 more requests.
BLOCK_BYTES = 128 * 1024
CACHE_BYTES = 64 * 1024 * 1024  # >= 256 blocks: 32 blocks thrashed on ResNet50 (130 vs 50 requests)
# Below this one request for the rest beats ranging: a 7.8 MB 300-layer .keras took 49
# requests / 1.5 s at 128 KiB blocks, 2 requests / 0.65 s whole (80 ms of transfer at 100 MB/s).
WHOLE_FILE_BYTES = 8 * 1024 * 1024


class RangeSource(Protocol):
    """Where the bytes are: `fetch` returns exactly `end - start` bytes or raises SourceError."""

    size: int

    def fetch(self, start: int, end: int) -> bytes: ...


class BlockCache:
    """Pinned head and tail plus an LRU of aligned blocks over one RangeSource."""

    def __init__(self, source: RangeSource, head: bytes, *, block_bytes: int = BLOCK_BYTES,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.source = source
        self.size = source.size
        self.head = head[: self.size]
        self.tail = b""
        self.tail_start = self.size
        self.block_bytes = block_bytes
        self.cache_bytes = cache_bytes
        self.blocks: OrderedDict[int, bytes] = OrderedDict()
        self.cached_bytes = 0
        self.fetches = 0

    def prefetch(self, tail_bytes: int = TAIL_BYTES, whole_file_bytes: int = WHOLE_FILE_BYTES,
                 tail: tuple[int, bytes] | None = None) -> None:
        """Complete the picture after the head arrived: the rest of a small file, or the tail.

        `tail` is (offset, bytes) when it was fetched alongside the head (one round trip less).
        """
        head_end = len(self.head)
        if head_end >= self.size:
            return
        if tail is not None and (tail[0] + len(tail[1]) != self.size or tail[0] < head_end):
            tail = None  # not the end of this file, or overlapping the head: fetch it properly
        if self.size <= whole_file_bytes:
            end = tail[0] if tail else self.size
            self.head += self._fetch(head_end, end) + (tail[1] if tail else b"")
            return
        if tail is None:
            start = max(head_end, self.size - tail_bytes)
            tail = (start, self._fetch(start, self.size))
        self.tail_start, self.tail = tail

    def _fetch(self, start: int, end: int) -> bytes:
        data = self.source.fetch(start, end)
        if len(data) != end - start:
            raise short_or_long(len(data), end - start, "The server")
        self.fetches += 1
        return data

    def read(self, pos: int, n: int) -> bytes:
        """Exactly min(n, size - pos) bytes from `pos`."""
        n = max(0, min(n, self.size - pos))
        parts: list[bytes] = []
        head_end = len(self.head)
        while n > 0:
            if pos < head_end:
                take = min(n, head_end - pos)
                parts.append(self.head[pos:pos + take])
            elif pos >= self.tail_start:
                take = min(n, self.size - pos)
                parts.append(self.tail[pos - self.tail_start:pos - self.tail_start + take])
            else:
                take = min(n, self.tail_start - pos)
                parts.append(self._read_blocks(pos, take))
            pos += take
            n -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_blocks(self, pos: int, n: int) -> bytes:
        bs = self.block_bytes
        first, last = pos // bs, (pos + n - 1) // bs
        b = first
        while b <= last:  # each run of contiguous missing blocks costs one request
            if b in self.blocks:
                b += 1
                continue
            run_end = b
            while run_end + 1 <= last and run_end + 1 not in self.blocks:
                run_end += 1
            data = self._fetch(b * bs, min(self.size, (run_end + 1) * bs))
            for i in range(b, run_end + 1):
                block = data[(i - b) * bs:(i - b + 1) * bs]
                self.blocks[i] = block
                self.cached_bytes += len(block)
            b = run_end + 1
        for i in range(first, last + 1):
            self.blocks.move_to_end(i)
        self._evict(keep=range(first, last + 1))
        if first == last:
            off = pos - first * bs
            return self.blocks[first][off:off + n]
        joined = b"".join(self.blocks[i] for i in range(first, last + 1))
        off = pos - first * bs
        return joined[off:off + n]

    def _evict(self, keep: range) -> None:
        """Drop least recently used blocks down to the byte bound, never the ones being read."""
        for key in list(self.blocks):
            if self.cached_bytes <= self.cache_bytes:
                return
            if key not in keep:
                self.cached_bytes -= len(self.blocks.pop(key))


class RangeFile(PositionedReader):
    """A file over a BlockCache; each open() of an artifact gets its own RangeFile."""

    def __init__(self, cache: BlockCache, name: str = "remote") -> None:
        super().__init__(cache.size, name)
        self._cache = cache

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._cache.read(self._pos, len(view))
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)  # short only at end of file, where h5py never asks

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._pos
        data = self._cache.read(self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)


class PreadFile(PositionedReader):
    """A view of a downloaded temp file; each open() has its own position."""

    def __init__(self, fd: int, size: int, name: str = "download") -> None:
        super().__init__(size, name)
        self._fd = fd

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = max(0, min(len(view), self._size - self._pos))
        got = 0
        while got < want:
            chunk = os.pread(self._fd, want - got, self._pos + got)
            if not chunk:
                raise ShortRead("The downloaded copy ended early: the transfer was cut short. Try again.")
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
        self._pos += got
        return got
