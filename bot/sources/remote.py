"""Artifacts whose bytes are elsewhere: opened lazily, read through the block cache.

HTTP and S3 both come down to "a first ranged request that also tells the size, then ranges".
`open_ranged()` does the common part: the head request, the tail prefetch, and the bounded
download when a server ignores Range.  `RemoteArtifact` gives the analysis the Artifact
protocol; `sibling()` reaches a checkpoint's `.data-*` beside its `.index` the same way.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, TypeVar, cast

from bot.sources.base import SourceError
from bot.sources.blocks import BlockCache, PreadFile, RangeFile, RangeSource
from bot.sources.limits import ReadBudget

T = TypeVar("T")


@dataclass
class OpenedFile:
    """A remote file whose size is known and whose bytes can be read at random."""

    size: int
    cache: BlockCache | None = None  # ranged reading
    download_fd: int | None = None  # the server ignored Range: a bounded copy on disk
    name: str = "remote"

    def new_file(self) -> io.RawIOBase:
        if self.cache is not None:
            return RangeFile(self.cache, self.name)
        assert self.download_fd is not None
        return PreadFile(self.download_fd, self.size, self.name)

    def close(self) -> None:
        if self.download_fd is not None:
            os.close(self.download_fd)
            self.download_fd = None


def open_ranged(source: RangeSource, head: bytes, name: str,
                tail: tuple[int, bytes] | None = None) -> OpenedFile:
    """After the head arrived: the tail (unless it came alongside) or the rest of a small file."""
    cache = BlockCache(source, head)
    cache.prefetch(tail=tail)
    return OpenedFile(size=source.size, cache=cache, name=name)


def with_tail_alongside(fetch_head: Callable[[], T], fetch_tail: Callable[[], tuple[int, bytes] | None]
                        ) -> tuple[T, tuple[int, bytes] | None]:
    """Run the head request here and the tail request on a second connection meanwhile.

    No h5py object exists yet, so the thread cannot meet h5py's lock (remote-reads.md §2.2).
    A failed tail is only a missed shortcut: the cache fetches it again if it needs it.
    """
    box: dict[str, tuple[int, bytes] | None] = {}

    def tail_job() -> None:
        try:
            box["tail"] = fetch_tail()
        except SourceError:
            box["tail"] = None

    thread = threading.Thread(target=tail_job, name="ckptbot-tail", daemon=True)
    thread.start()
    try:
        head = fetch_head()
    finally:
        thread.join()
    return head, box.get("tail")


def download_to_temp(chunks: Iterable[bytes], budget: ReadBudget, name: str,
                     first: bytes = b"") -> OpenedFile:
    """Stream a whole body to an unlinked temp file; the budget's byte cap stops it."""
    fd, path = tempfile.mkstemp(prefix="ckptbot-")
    os.unlink(path)
    size = 0
    try:
        if first:
            os.write(fd, first)
            size += len(first)
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            size += len(chunk)
    except BaseException:
        os.close(fd)
        raise
    return OpenedFile(size=size, download_fd=fd, name=name)


class RemoteArtifact:
    """A remote file for the analysis: lazily opened, siblings reached through the same source."""

    def __init__(self, name: str, uri: str, opener: Callable[[], OpenedFile],
                 sibling_of: Callable[[str], "RemoteArtifact | None"] | None = None) -> None:
        self.name = name
        self.uri = uri
        self._opener = opener
        self._sibling_of = sibling_of
        self._opened: OpenedFile | None = None

    def __repr__(self) -> str:
        return f"RemoteArtifact({self.uri!r})"

    def opened(self) -> OpenedFile:
        if self._opened is None:
            self._opened = self._opener()
        return self._opened

    def is_dir(self) -> bool:
        return False

    def size(self) -> int | None:
        return self.opened().size

    def open(self) -> BinaryIO:
        # A RangeFile/PreadFile: a raw binary file with seek and readinto, as h5py and zipfile use it.
        return cast(BinaryIO, self.opened().new_file())

    def child(self, relpath: str) -> None:
        return None  # remote directories are not listed (no portable way to list them)

    def sibling(self, name: str) -> "RemoteArtifact | None":
        if self._sibling_of is None or "/" in name or name in ("", ".", ".."):
            return None
        return self._sibling_of(name)

    def listdir(self) -> list[str]:
        return []

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()


def exists_or_none(artifact: RemoteArtifact) -> RemoteArtifact | None:
    """Open a sibling now so a missing one is None, as the Artifact protocol wants."""
    from bot.sources.base import NotFound

    try:
        artifact.opened()
    except NotFound:
        return None
    return artifact

