"""The seam between where bytes live and what they mean.

Error hierarchy (all carry an ErrorCode; the service turns them into Report.error):

* SourceError
  + NotFound          (not-found)
  + Forbidden         (forbidden: outside roots, 401/403, Slack scope missing)
  + BlockedAddress    (blocked: SSRF guard refused before any connection)
  + TooLarge          (too-large / limit: byte, request or size limits)
  + SourceTimeout     (timeout)
  + Unreachable       (unreachable: DNS, connection, TLS failures)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.analysis.io.artifact import Artifact
from bot.errors import CkptbotError, ErrorCode


class SourceError(CkptbotError):
    code_default = ErrorCode.UNKNOWN

    def __init__(self, message: str | None = None, code: ErrorCode | None = None) -> None:
        super().__init__(code or self.code_default, message)


class NotFound(SourceError):
    code_default = ErrorCode.NOT_FOUND


class Forbidden(SourceError):
    code_default = ErrorCode.FORBIDDEN


class BlockedAddress(SourceError):
    code_default = ErrorCode.BLOCKED


class TooLarge(SourceError):
    code_default = ErrorCode.TOO_LARGE


class SourceTimeout(SourceError):
    code_default = ErrorCode.TIMEOUT


class Unreachable(SourceError):
    code_default = ErrorCode.UNREACHABLE


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
