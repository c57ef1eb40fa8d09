"""What is in a watched target right now: one `Observation` per candidate checkpoint file.

A target is a local directory (walked recursively) or `s3://bucket/prefix` (listed).  A
file is a candidate when its name matches the pattern (default: model-file suffixes) and is
not a temporary name that writers use while a file is incomplete.  Each observation carries
its version (size plus mtime or ETag), so a rewritten file is a new version, and its run: the
directory it sits in, whose announcements share one Slack thread and one delta chain.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from bot.sources.base import Identity

# Names writers give files that are not finished yet (browsers, rsync, editors, TF's
# ".tempstate" shards, hidden scratch files); such a file is renamed when complete and the
# new name is what gets announced.
TEMPORARY_NAME_GLOBS = ("*.tmp", "*.temp", "*.part", "*.crdownload", "*.tempstate*", ".*", "~*")

# What counts as a checkpoint when no --pattern is given: the files `ckptbot inspect` reads.
# A TF checkpoint is announced by its `.index`, which TF writes after the data shards.
DEFAULT_CHECKPOINT_GLOBS = ("*.keras", "*.h5", "*.hdf5", "*.index", "*.safetensors", "*.onnx",
                            "*.tflite", "*.pt", "*.pth")

# A scan lists at most this many entries: a watcher pointed at a dataset folder by mistake
# must not spend minutes walking it every few seconds.
MAX_ENTRIES_PER_SCAN = 20_000


@dataclass(frozen=True)
class Observation:
    uri: str       # what service.inspect() is given: a real path or s3://bucket/key
    name: str      # the file name people see
    run: str       # the directory (or S3 "folder") the file is in
    size: int
    stamp: str     # mtime_ns for a local file, the ETag for an S3 object
    modified: float = 0.0  # seconds since the epoch: announcements go oldest first

    @property
    def version(self) -> str:
        """Same file, same bytes: what exactly-once is keyed on (a rewrite changes size or stamp)."""
        return version_key(self.uri, self.size, self.stamp)


def version_key(uri: str, size: int | str, stamp: str) -> str:
    return f"{uri}|{size}|{stamp}"


def version_and_run(identity: Identity) -> tuple[str, str]:
    """The (version, run) a watcher would give the file a source's identity names, so a webhook
    announcement and a folder watcher agree on what was already posted and on the thread."""
    v = dict(identity.validators)
    if identity.kind == "local" and "mtime_ns" in v:
        return version_key(identity.key, v.get("size", ""), v["mtime_ns"]), os.path.dirname(identity.key)
    if identity.kind == "s3" and "etag" in v:
        folder = posixpath.dirname(identity.key[len("s3://"):])
        return (version_key(identity.key, v.get("size", ""), v["etag"].strip('"')),
                f"s3://{folder}" if "/" in identity.key[len("s3://"):] else identity.key)
    return identity.cache_key(), posixpath.dirname(identity.key.rstrip("/")) or identity.key


def is_temporary_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in TEMPORARY_NAME_GLOBS)


def name_filter(pattern: str | None) -> Callable[[str], bool]:
    """True for file names to watch: the pattern (or the default suffixes), never temporary names."""
    globs = (pattern,) if pattern else DEFAULT_CHECKPOINT_GLOBS

    def wanted(name: str) -> bool:
        return not is_temporary_name(name) and any(fnmatch.fnmatch(name, g) for g in globs)

    return wanted


def is_s3_target(target: str) -> bool:
    return target.startswith("s3://")


def scan_local(root: str, wanted: Callable[[str], bool]) -> list[Observation]:
    """Every wanted regular file under `root`; hidden folders are skipped, symlinks not followed."""
    found: list[Observation] = []
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            seen += 1
            if seen > MAX_ENTRIES_PER_SCAN:
                return found
            if not wanted(name):
                continue
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:  # removed between listing and stat: the next scan will not see it
                continue
            if stat.S_ISREG(st.st_mode):
                found.append(Observation(uri=path, name=name, run=folder, size=st.st_size,
                                         stamp=str(st.st_mtime_ns), modified=st.st_mtime))
    return found


def split_s3_target(target: str) -> tuple[str, str]:
    rest = target[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def scan_s3(target: str, wanted: Callable[[str], bool], client: Any) -> list[Observation]:
    """Every wanted object under the prefix (ListObjectsV2, paginated, bounded)."""
    bucket, prefix = split_s3_target(target)
    found: list[Observation] = []
    for obj in _list_objects(client, bucket, prefix):
        key = obj["Key"]
        name = posixpath.basename(key)
        if not name or not wanted(name):
            continue
        folder = posixpath.dirname(key)
        found.append(Observation(uri=f"s3://{bucket}/{key}", name=name,
                                 run=f"s3://{bucket}/{folder}" if folder else f"s3://{bucket}",
                                 size=int(obj["Size"]), stamp=str(obj.get("ETag", "")).strip('"'),
                                 modified=_epoch(obj.get("LastModified"))))
    return found


def _epoch(when: Any) -> float:
    return float(when.timestamp()) if hasattr(when, "timestamp") else 0.0


def _list_objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    listed = 0
    while listed < MAX_ENTRIES_PER_SCAN:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            listed += 1
            yield obj
        if not page.get("IsTruncated"):
            return
        token = page.get("NextContinuationToken")
