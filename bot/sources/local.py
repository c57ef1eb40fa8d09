"""Local paths and file:// URLs, only under the configured roots (security.md §2.5).

`..` and symlinks are resolved first (`realpath`), then the result must lie under one of
`CKPTBOT_LOCAL_ROOTS`; siblings and children are checked the same way, so a symlink placed
inside a root cannot lead out of it.  Only regular files and directories are read: FIFOs,
devices (`/dev/zero`) and sockets are refused.  A checkpoint prefix (`ckpt` with
`ckpt.index` beside it) means the index file.
"""

from __future__ import annotations

import os
import stat
from urllib.parse import unquote, urlsplit

from bot.analysis.io.artifact import PathArtifact
from bot.sources.base import Forbidden, Identity, NotFound

CHECKPOINT_INDEX_SUFFIX = ".index"


def path_from_reference(reference: str) -> str:
    """The filesystem path a local reference names (a path or a file:// URL)."""
    ref = reference.strip()
    if ref.lower().startswith("file:"):
        parts = urlsplit(ref)
        if parts.netloc not in ("", "localhost"):
            raise Forbidden("file:// links must name this machine (file:///path).")
        ref = unquote(parts.path)
    if "\x00" in ref:
        raise Forbidden("The path contains a NUL character.")
    return os.path.expanduser(ref)


def _under(path: str, root: str) -> bool:
    return path == root or os.path.commonpath([path, root]) == root


class RootedPathArtifact(PathArtifact):
    """A PathArtifact whose siblings and children stay under the allowed roots."""

    def __init__(self, path: str, roots: list[str] | None, uri: str | None = None) -> None:
        super().__init__(path, uri=uri)
        self.roots = roots  # None: any local path (the CLI reading its user's own disk)

    def open(self):  # type: ignore[override]
        """Open without following a swapped-in symlink and without blocking on a FIFO."""
        if self.roots is None:
            return super().open()
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Forbidden(f"{self.uri} is not a regular file.")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _vetted(self, path: str, uri: str) -> "RootedPathArtifact | None":
        if not os.path.exists(path):
            return None
        try:
            real = vet_local_path(path, self.roots)
        except (Forbidden, NotFound):
            return None
        return RootedPathArtifact(real, self.roots, uri=uri)

    def child(self, relpath: str) -> "RootedPathArtifact | None":
        return self._vetted(os.path.join(self.path, relpath), self.uri.rstrip("/") + "/" + relpath)

    def sibling(self, name: str) -> "RootedPathArtifact | None":
        parent_uri = self.uri.rsplit("/", 1)[0] if "/" in self.uri else "."
        return self._vetted(os.path.join(os.path.dirname(self.path), name), parent_uri + "/" + name)


def vet_local_path(path: str, roots: list[str] | None) -> str:
    """The real path, if it exists, is a file or folder, and lies under a root."""
    real = os.path.realpath(path)
    if roots is not None:
        if not roots:
            raise Forbidden("The bot has no shared folders configured (CKPTBOT_LOCAL_ROOTS), so it "
                            "cannot read local paths.")
        if not any(_under(real, root) for root in roots):
            raise Forbidden(f"{path} is outside the folders the bot may read "
                            f"({', '.join(roots)}).")
    try:
        st = os.stat(real)
    except FileNotFoundError as exc:
        raise NotFound(f"{path} does not exist.") from exc
    except OSError as exc:
        raise Forbidden(f"I cannot read {path}: {exc.strerror}.") from exc
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise Forbidden(f"{path} is not a regular file (a device, pipe or socket).")
    return real


# A model folder (SavedModel, unzipped .keras, checkpoint folder) holds a handful of entries two levels
# deep; `/etc` holds thousands.  The identity looks at no more than this many entries, so pointing the bot
# at any folder costs a bounded number of lstat calls (issue 12/13: `ckptbot inspect /etc`).
MAX_IDENTITY_ENTRIES = 512
MAX_IDENTITY_DEPTH = 3


def _newest_mtime_ns(root: str) -> int:
    """Newest mtime among at most MAX_IDENTITY_ENTRIES entries under root, never following symlinks.

    lstat only: a dangling symlink, a loop, a FIFO, a socket or a device is counted by its own
    mtime and never opened; an unreadable folder is skipped.  Never raises for what is inside.
    """
    newest, seen = 0, 0
    pending = [(root, 0)]
    while pending and seen < MAX_IDENTITY_ENTRIES:
        folder, depth = pending.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    seen += 1
                    if seen > MAX_IDENTITY_ENTRIES:
                        break
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    newest = max(newest, st.st_mtime_ns)
                    if stat.S_ISDIR(st.st_mode) and depth + 1 < MAX_IDENTITY_DEPTH:
                        pending.append((entry.path, depth + 1))
        except OSError:
            continue
    return newest


class LocalSource:
    def __init__(self, reference: str, roots: list[str] | None) -> None:
        self.reference = reference
        self.kind = "local"
        path = path_from_reference(reference)
        if not os.path.exists(path) and os.path.exists(path + CHECKPOINT_INDEX_SUFFIX):
            path += CHECKPOINT_INDEX_SUFFIX  # a TF checkpoint prefix names its index
        self.real_path = vet_local_path(path, roots)
        self.roots = roots
        self.display_name = os.path.basename(self.real_path.rstrip(os.sep)) or self.real_path

    def identity(self) -> Identity:
        st = os.stat(self.real_path)
        validators = [("size", str(st.st_size)), ("mtime_ns", str(st.st_mtime_ns)),
                      ("inode", f"{st.st_dev}:{st.st_ino}")]
        if stat.S_ISDIR(st.st_mode):  # a SavedModel folder changes when a file inside changes
            validators.append(("newest_mtime_ns", str(_newest_mtime_ns(self.real_path))))
        return Identity(kind="local", key=self.real_path, validators=tuple(validators))

    def artifact(self) -> RootedPathArtifact:
        vet_local_path(self.real_path, self.roots)  # again: the file may have been swapped since
        return RootedPathArtifact(self.real_path, self.roots, uri=self.reference)
