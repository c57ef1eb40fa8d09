"""The seam between where bytes live and what they mean.

Error hierarchy (all carry an ErrorCode; the service turns them into Report.error):

* SourceError(code, message)  no default code: a bare raise names its own
  + NotFound          (not-found)
  + Forbidden         (forbidden: outside roots, 401/403, Slack scope missing)
  + BlockedAddress    (blocked: SSRF guard refused before any connection)
  + TooLarge          (too-large / limit: byte, request or size limits)
  + SourceTimeout     (timeout)
  + Unreachable       (unreachable: DNS, connection, TLS failures, answers that make no sense)
  + ShortRead         (truncated: the server or the download sent fewer bytes than promised)
  + Changed           (changed: the file was replaced while being read)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from bot.analysis.io.artifact import Artifact
from bot.errors import CkptbotError, ErrorCode


class SourceError(CkptbotError):
    """The bytes could not be had.  Raise a subclass below, or name the code: there is no default,
    because a wrong default ("unknown", "this is not a model") would be cached as the file's fault."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        super().__init__(code, message)


class _NamedSourceError(SourceError):
    """A SourceError whose class names its code; `code=` picks a sibling (too-large vs limit)."""

    CODE: ClassVar[ErrorCode]

    def __init__(self, message: str | None = None, code: ErrorCode | None = None) -> None:
        super().__init__(code or self.CODE, message)


class NotFound(_NamedSourceError):
    CODE = ErrorCode.NOT_FOUND


class Forbidden(_NamedSourceError):
    CODE = ErrorCode.FORBIDDEN


class BlockedAddress(_NamedSourceError):
    CODE = ErrorCode.BLOCKED


class TooLarge(_NamedSourceError):
    CODE = ErrorCode.TOO_LARGE


class SourceTimeout(_NamedSourceError):
    CODE = ErrorCode.TIMEOUT


class Unreachable(_NamedSourceError):
    CODE = ErrorCode.UNREACHABLE


class ShortRead(_NamedSourceError):
    CODE = ErrorCode.TRUNCATED


class Changed(_NamedSourceError):
    CODE = ErrorCode.CHANGED


def short_or_long(got: int, asked: int, what: str) -> SourceError:
    """A body whose length is not the range asked for: fewer bytes is a cut transfer, more is nonsense."""
    if got < asked:
        return ShortRead(f"{what} sent {got:,} bytes for a range of {asked:,}: the transfer was cut short. "
                         "Try again.")
    return Unreachable(f"{what} sent {got:,} bytes for a range of {asked:,}.")


@dataclass(frozen=True)
class Identity:
    """What makes two reads of an artifact the same bytes, as cheaply as the source can tell.

    `key` names the artifact (canonical URL, real path, Slack file id); `validators` are
    what changes when its bytes change (ETag, Last-Modified, size, mtime, inode, sha256).
    Two identities with the same key and validators are the same version of the file.
    """

    kind: str  # "local" | "http" | "s3" | "slack"
    key: str
    validators: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def cache_key(self) -> str:
        v = ";".join(f"{k}={val}" for k, val in sorted(self.validators))
        return f"{self.kind}:{self.key}|{v}"


class Source(Protocol):
    """A vetted reference.  Creating one makes no connection for network sources' bytes."""

    reference: str  # what the user gave
    display_name: str

    def identity(self) -> Identity:
        """Cheap: a stat or one HEAD/conditional request. Raises SourceError."""

    def artifact(self) -> Artifact:
        """Opens the bytes for reading (random access). Raises SourceError."""
