"""Read-only, seekable file objects with their own position: what h5py's fileobj driver needs.

`PositionedReader` is the shared base (sources' range and download files build on it);
`OffsetWindow` shows one stored member of a zip archive as a file of its own, so a `.keras`
archive's `model.weights.h5` is read in place, locally or by range, never extracted.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from bot.errors import AnalysisError, ErrorCode


class PositionedReader(io.RawIOBase):
    """Read-only, seekable, with its own position over a file of known size."""

    def __init__(self, size: int, name: str) -> None:
        super().__init__()
        self._size = size
        self._pos = 0
        self.name = name

    def __repr__(self) -> str:  # HDF5 shows this as the file name in its errors
        return f"<{type(self).__name__} {self.name}>"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence}")
        if bases[whence] + offset < 0:
            raise OSError("negative seek position")
        self._pos = bases[whence] + offset
        return self._pos


class OffsetWindow(PositionedReader):
    """Bytes [start, start+size) of another seekable file object, as a file of their own."""

    def __init__(self, base: BinaryIO, start: int, size: int, name: str = "member") -> None:
        super().__init__(size, name)
        self._base, self._start = base, start

    def readinto(self, buf) -> int:  # type: ignore[override]
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        self._base.seek(self._start + self._pos)
        view = memoryview(buf).cast("B")[:n]
        got = 0
        while got < n:  # h5py ignores short reads, so fill completely or fail
            data = self._base.read(n - got)
            if not data:
                raise AnalysisError(ErrorCode.TRUNCATED)
            view[got:got + len(data)] = data
            got += len(data)
        self._pos += n
        return n
