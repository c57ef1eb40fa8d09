"""The scan loop: list the target, keep what is complete, announce it to each channel.

Local directories are watched with inotify (watchdog, recursive): a filesystem event wakes the
loop at once instead of at the next poll.  Inotify never fires for changes made on another
machine, so on network filesystems (NFS, SMB, sshfs, FUSE mounts, ...) and whenever inotify
cannot be set up (watch limit reached), the loop simply polls every `interval` seconds.  S3
prefixes are always polled.  Either way completeness is decided by scans (completeness.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from bot.watch.announcer import Announcer, Outcome
from bot.watch.completeness import Stability
from bot.watch.scanner import (
    Observation,
    is_s3_target,
    name_filter,
    scan_local,
    scan_s3,
)

log = logging.getLogger(__name__)

# chat.postMessage allows about one post per second per channel; a first scan of a folder full
# of old checkpoints posts this many per scan and the rest on the following scans.
MAX_POSTS_PER_SCAN = 10

# Filesystems where inotify sees only this machine's writes (types as in /proc/mounts).
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs", "afs",
    "davfs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.goofys", "fuse.juicefs",
    "fuse.mount-s3", "fuse.blobfuse2",
})


def filesystem_type(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """The type of the filesystem `path` is on (longest matching mount point), if known."""
    real = os.path.realpath(path)
    best, best_type = "", None
    try:
        with open(mounts_file, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, best_type = mount, parts[2]
    except OSError:
        return None
    return best_type


class Waker:
    """Lets a filesystem event cut the poll wait short.  `start()` returns how it watches."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.event = threading.Event()
        self._observer: Any = None

    def start(self) -> str:
        fstype = filesystem_type(self.root)
        if fstype in NETWORK_FILESYSTEMS:
            return f"polling ({fstype} is a network filesystem: inotify would miss other machines' writes)"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers.inotify import InotifyObserver
        except ImportError:
            return "polling (watchdog's inotify observer is not available here)"
        waker = self.event

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                waker.set()

        try:
            observer = InotifyObserver()
            observer.schedule(_Wake(), self.root, recursive=True)
            observer.start()
        except OSError as exc:
            return f"polling (inotify could not start: {exc})"
        self._observer = observer
        return "inotify"

    def wait(self, seconds: float) -> None:
        self.event.wait(seconds)
        self.event.clear()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)


@dataclass
class ScanResult:
    seen: int = 0
    posted: list[tuple[str, Observation]] = field(default_factory=list)  # (channel, file)
    not_models: list[Observation] = field(default_factory=list)


class TargetWatcher:
    """One target (directory or s3 prefix), any number of channels."""

    def __init__(self, target: str, announcer: Announcer, *, pattern: str | None, settle_s: float,
                 s3_client_factory: Callable[[], Any] | None = None) -> None:
        self.target = target
        self.announcer = announcer
        self.wanted = name_filter(pattern)
        self.stability = Stability(settle_s)
        self._s3_client_factory = s3_client_factory
        self._s3_client: Any = None

    def observe(self) -> list[Observation]:
        if is_s3_target(self.target):
            if self._s3_client is None:
                from bot.sources.s3 import make_s3_client

                self._s3_client = (self._s3_client_factory or make_s3_client)()
            return scan_s3(self.target, self.wanted, self._s3_client)
        return scan_local(self.target, self.wanted)

    def scan(self, channels: list[str], now: float | None = None) -> ScanResult:
        """One pass: list, keep what is complete, announce each in every channel (oldest first)."""
        now = time.monotonic() if now is None else now
        observations = self.observe()
        result = ScanResult(seen=len(observations))
        ready = sorted(self.stability.ready(observations, now), key=lambda o: (o.modified, o.uri))
        for obs in ready:
            if len(result.posted) >= MAX_POSTS_PER_SCAN:
                break
            self._announce_everywhere(obs, channels, now, result)
        return result

    def _announce_everywhere(self, obs: Observation, channels: list[str], now: float,
                             result: ScanResult) -> None:
        done = True
        report = None
        for channel in channels:
            outcome = self.announcer.announce(channel=channel, version=obs.version, uri=obs.uri,
                                              name=obs.name, run=obs.run, report=report)
            report = outcome.report or report  # inspect once per version, not once per channel
            if outcome.outcome is Outcome.POSTED:
                result.posted.append((channel, obs))
                log.info("announced %s in %s", obs.uri, channel)
            elif outcome.outcome is Outcome.NOT_A_MODEL:
                if not self.stability.did_not_parse(obs, now):
                    log.info("giving up on %s for now: %s", obs.uri, report.error.message if report
                             and report.error else "not a model")
                result.not_models.append(obs)
                return
            elif outcome.outcome in (Outcome.BUSY, Outcome.DEFERRED):
                done = False
        if done:
            self.stability.finished(obs)
