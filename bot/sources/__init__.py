"""Sources: turn a user's reference (path, URL, s3 key, Slack file) into bytes to read.

`resolve(reference, settings)` vets the reference (roots, SSRF guard) and returns a
`Source`; its `identity()` is cheap (a stat, a HEAD) and keys the cache, and `artifact()`
opens the bytes for the analysis.  See base.py for the seam.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.sources.base import BlockedAddress, Identity, Source, SourceError

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["resolve", "slack_file_source", "is_local", "Source", "Identity", "SourceError"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# Schemes that are links, not paths, and that the bot never fetches (security.md F1).
_REFUSED_SCHEMES = frozenset({"ftp", "ftps", "sftp", "tftp", "gopher", "dict", "data", "jar", "ldap",
                              "ldaps", "javascript", "mailto", "ssh", "telnet", "smb", "nfs", "gs",
                              "gcs", "hdfs", "ws", "wss", "git"})


def is_local(reference: str) -> bool:
    """Whether `resolve` reads `reference` from this machine's disk (a path or a file:// URL)."""
    ref = reference.strip()
    match = _SCHEME.match(ref)
    scheme = match.group(1).lower() if match else ""
    return scheme not in ("http", "https", "s3") and not _refused(scheme, ref)


def _refused(scheme: str, ref: str) -> bool:
    return scheme in _REFUSED_SCHEMES or (len(scheme) > 1 and ref[len(scheme):].startswith("://")
                                          and scheme != "file")


def resolve(reference: str, settings: "Settings", *, allow_any_local: bool = False) -> Source:
    """Vet a user's reference and return its Source; no bytes are read yet.

    Network references pass the SSRF guard here, so a refused link raises BlockedAddress
    before any connection.  Local paths must lie under `settings.local_roots`; with no roots
    configured they are refused.  `allow_any_local` (the CLI, reading its user's own disk) lifts
    the roots: they bound what Slack users may make the bot read, not what its operator may.
    A files.slack.com link typed by a user is read without the bot token: only
    `slack_file_source()`, fed from a signed event, may use it.
    """
    from bot.sources.limits import ReadBudget

    ref = reference.strip()
    match = _SCHEME.match(ref)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        from bot.sources.http import HttpSource
        from bot.sources.ssrf import vet_url
        from bot.sources.transport import PinnedClient

        vetted = vet_url(ref, settings.allowed_hosts)
        return HttpSource(ref, vetted, lambda: PinnedClient(ReadBudget.from_settings(settings),
                                                            settings.allowed_hosts))
    if scheme == "s3":
        from bot.sources.s3 import S3Source

        return S3Source(ref, lambda: ReadBudget.from_settings(settings))
    if _refused(scheme, ref):
        raise BlockedAddress(f"I only read http(s), s3 and file links, not {scheme}: links.")
    from bot.sources.local import LocalSource

    roots = None if allow_any_local else settings.local_roots
    return LocalSource(ref, roots)


def slack_file_source(reference: str, settings: "Settings") -> Source:
    """A Slack upload by file id or url_private; the bot token goes only to SLACK_FILE_HOSTS."""
    from bot.sources.slack_files import slack_file_source as make

    return make(reference, settings)
