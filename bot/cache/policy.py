"""What is cached, under which key, for how long.

Keys.  A report is stored under the sha256 of `Identity.cache_key()` (kind, canonical key
and validators: ETag/Last-Modified/size, or path+size+mtime+inode, or a content hash), so
key names carry no paths, URLs or file names (security.md §6.2), and a changed file (new
ETag, mtime or size) has a different key: the old entry is never consulted.  The key also
carries the report schema and the analyzer version, so a deploy never serves old answers.

    ckptbot:report:s{SCHEMA_VERSION}:a{analyzer}:{sha256}   the report JSON
    ckptbot:lock:s…:a…:{sha256}                              single-flight lock (token)
    ckptbot:handoff:s…:a…:{sha256}                           an uncacheable result, for waiters
    ckptbot:once:{sha256(key)}                               remember_once records
    ckptbot:stats                                            shared counters (hash)

TTLs.  Entries are immutable per identity, so models live long (a week, ±15 % jitter so a
burst of inspections does not expire together).  Reports that say "not a model" because
of the file's bytes are cached briefly (negative caching); errors about the way to the
bytes or about this run (timeout, unreachable, limits, access) are never cached.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import random
from dataclasses import dataclass
from functools import lru_cache

from bot.errors import ErrorCode
from bot.report import SCHEMA_VERSION, Report
from bot.sources.base import Identity

PREFIX = "ckptbot"
REPORT_TTL_SECONDS = 7 * 24 * 3600  # immutable per identity; a week bounds memory for dead files
NEGATIVE_TTL_SECONDS = 10 * 60  # a user who fixes a file usually re-uploads (new identity) anyway
TTL_JITTER = 0.15  # security.md §6.2: ±10-20 %
# Reports are compact JSON: a 1,000-layer model with weights is a few hundred KB.  Anything
# larger than this is answered but not stored (security.md §6.2: no large values in Redis).
MAX_VALUE_BYTES = 2 * 1024**2

# Errors caused by the file's own bytes: the same identity gives the same answer, and the
# answer was expensive to reach, so it is worth remembering for a few minutes.
NEGATIVE_CACHEABLE = frozenset({
    ErrorCode.EMPTY, ErrorCode.GIT_LFS_POINTER, ErrorCode.HTML,
    ErrorCode.CORRUPT, ErrorCode.NOT_KERAS_HDF5, ErrorCode.NOT_KERAS_ZIP,
    ErrorCode.DATA_SHARD, ErrorCode.UNSAFE, ErrorCode.UNKNOWN,
})
# Everything else (timeout, unreachable, limit, too-large, not-found, forbidden, blocked,
# changed, internal, and codes added later) depends on the network, the settings or a bug:
# a retry may well succeed, so it is never cached.  `truncated` is among them: it is said of
# a file cut short and also of a transfer cut short (sources.base.ShortRead), and the two
# look alike in a report; a truncated file is cheap to read again.


@lru_cache(maxsize=1)
def analyzer_version() -> str:
    """The analysis code's version, part of every key: bump it and old entries are ignored.

    Read from `bot.analysis.ANALYZER_VERSION` when the analysis package defines it, else
    from the package version, else "0".
    """
    try:
        analysis = importlib.import_module("bot.analysis")
    except ImportError:
        analysis = None
    version = getattr(analysis, "ANALYZER_VERSION", None)
    if version is None:
        try:
            version = importlib.metadata.version("ckptbot")
        except importlib.metadata.PackageNotFoundError:
            version = "0"
    return str(version)


@dataclass(frozen=True)
class Keys:
    report: str
    lock: str
    handoff: str


def keys_for(identity: Identity, analyzer: str | None = None) -> Keys:
    """Redis keys for one version of one artifact."""
    digest = hashlib.sha256(identity.cache_key().encode("utf-8")).hexdigest()
    scope = f"s{SCHEMA_VERSION}:a{analyzer or analyzer_version()}:{digest}"
    return Keys(
        report=f"{PREFIX}:report:{scope}",
        lock=f"{PREFIX}:lock:{scope}",
        handoff=f"{PREFIX}:handoff:{scope}",
    )


def report_pattern(all_versions: bool = True, analyzer: str | None = None) -> str:
    """SCAN pattern for stored reports: every version, or only the current one."""
    if all_versions:
        return f"{PREFIX}:report:*"
    return f"{PREFIX}:report:s{SCHEMA_VERSION}:a{analyzer or analyzer_version()}:*"


def once_key(key: str) -> str:
    """Hashed: callers' keys may hold paths or channel names (no PII in key names, §6.2)."""
    return f"{PREFIX}:once:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


STATS_KEY = f"{PREFIX}:stats"


def base_ttl_seconds(report: Report) -> int | None:
    """How long this report may be reused before jitter; None = never cache it."""
    if report.error is not None:
        try:
            code = ErrorCode(report.error.code)
        except ValueError:
            return None
        return NEGATIVE_TTL_SECONDS if code in NEGATIVE_CACHEABLE else None
    if not report.is_model:
        return NEGATIVE_TTL_SECONDS
    return REPORT_TTL_SECONDS


def ttl_seconds(report: Report, rng: random.Random | None = None) -> int | None:
    """The TTL to store this report with (jittered), or None when it must not be cached."""
    base = base_ttl_seconds(report)
    if base is None:
        return None
    factor = (rng or random).uniform(1 - TTL_JITTER, 1 + TTL_JITTER)
    return max(1, int(base * factor))
