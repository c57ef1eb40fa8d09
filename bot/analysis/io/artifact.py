"""What the analysis reads: an Artifact is a file or a directory, wherever it lives.

The analysis never opens paths or URLs itself.  Sources (bot/sources/) hand it objects
that follow this protocol; the two local implementations here (a path, a bare file object)
need only the standard library, so the core stays bytes-in, report-out.

Some formats are more than one file (a checkpoint's `.index` + `.data-*`, sharded
`.weights.json` + shards, SavedModel directories): `sibling()` and `child()` reach the
other parts through the same source, so a remote checkpoint is read remotely too.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO, Protocol, runtime_checkable


@runtime_checkable
class Artifact(Protocol):
    name: str  # last path component, for display
    uri: str  # where it came from, as the user should see it

    def is_dir(self) -> bool: ...

    def size(self) -> int | None:
        """Bytes in the file; None for a directory or when the source cannot say."""

    def open(self) -> BinaryIO:
        """A seekable, read-only binary file object (files only)."""

    def child(self, relpath: str) -> "Artifact | None":
        """A file or directory inside this directory, or None when it does not exist."""

    def sibling(self, name: str) -> "Artifact | None":
        """A file next to this one (same directory), or None when it does not exist."""

    def listdir(self) -> list[str]:
        """Names directly inside this directory (empty for files)."""


class PathArtifact:
    """A local file or directory.  No access policy here: bot.sources.local vets paths."""

    def __init__(self, path: str | os.PathLike[str], uri: str | None = None) -> None:
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path.rstrip(os.sep)) or self.path
        self.uri = uri or self.path

    def __repr__(self) -> str:
        return f"PathArtifact({self.path!r})"

    def is_dir(self) -> bool:
        return os.path.isdir(self.path)

    def size(self) -> int | None:
        st = os.stat(self.path)
        return None if stat.S_ISDIR(st.st_mode) else st.st_size

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    def child(self, relpath: str) -> "PathArtifact | None":
        p = os.path.join(self.path, relpath)
        return PathArtifact(p, uri=_join_uri(self.uri, relpath)) if os.path.exists(p) else None

    def sibling(self, name: str) -> "PathArtifact | None":
        p = os.path.join(os.path.dirname(self.path), name)
        if not os.path.exists(p):
            return None
        return PathArtifact(p, uri=_join_uri(_parent_uri(self.uri), name))

    def listdir(self) -> list[str]:
        return sorted(os.listdir(self.path)) if self.is_dir() else []


class FileObjArtifact:
    """A single seekable file object with nothing beside it (an upload, a stream)."""

    def __init__(self, fileobj: BinaryIO, name: str = "upload", uri: str | None = None,
                 size: int | None = None) -> None:
        self._f = fileobj
        self.name = name
        self.uri = uri or name
        if size is None:
            pos = fileobj.tell()
            size = fileobj.seek(0, os.SEEK_END)
            fileobj.seek(pos)
        self._size = size

    def is_dir(self) -> bool:
        return False

    def size(self) -> int | None:
        return self._size

    def open(self) -> BinaryIO:
        self._f.seek(0)
        return _Unclosable(self._f)  # type: ignore[return-value]

    def child(self, relpath: str) -> None:
        return None

    def sibling(self, name: str) -> None:
        return None

    def listdir(self) -> list[str]:
        return []


class _Unclosable:
    """Lets readers `with artifact.open() as f:` without closing the caller's object."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def __getattr__(self, name: str):
        return getattr(self._f, name)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _join_uri(base: str, rel: str) -> str:
    return base.rstrip("/" + os.sep) + "/" + rel


def _parent_uri(uri: str) -> str:
    cut = max(uri.rfind("/"), uri.rfind(os.sep))
    return uri[:cut] if cut > 0 else "."
