"""Exactly-once announcements: claim the version in the store, post, record.

For each (channel, file version) the key `ckptbot:announced:<hash>` goes through

    absent --SET NX PX lease--> "lease:<token>" --posted--> "posted:<ts>" (kept ANNOUNCED_TTL)
                                      +--post failed--> deleted (compare-and-delete), retried later

so restarts, rescans and any number of watcher replicas post a version once: whoever holds the
lease posts, the others see a lease ("busy", look again next scan) or "posted" (done).  The one
window left open is a crash after Slack accepted the post and before "posted" was written: the
lease then expires and the version is posted again (security.md §5.5 accepts the same).  While
the store does not answer, nothing is announced: a late announcement beats a duplicate one.

Each run (the directory a checkpoint is in) keeps, per channel, the ts of its first
announcement (later ones are replies in that thread) and a Snapshot of the last checkpoint
announced (for "since the previous one").
"""

from __future__ import annotations

import enum
import hashlib
import logging
import posixpath
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from bot.report import Report
from bot.watch.delta import Delta, Snapshot, delta_between, snapshot_of
from bot.watch.message import announcement_blocks, announcement_text
from bot.watch.poster import PostFailed
from bot.watch.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

# Longer than any chat.postMessage with its rate-limit retries (2 × Retry-After + 15 s timeout):
# a lease must not expire while its holder is still posting.
LEASE_MS = 120_000
# How long "this version was announced" is remembered.  A version is path + size + stamp, so
# only a restored-from-backup identical file could come back after that.
ANNOUNCED_TTL_S = 180 * 24 * 3600
# Thread and last-snapshot memory of a run: a run idle for this long starts a new thread.
RUN_TTL_S = 30 * 24 * 3600

KEY_PREFIX = "ckptbot:watch:"


class Outcome(enum.Enum):
    POSTED = "posted"            # this process posted it
    ALREADY = "already"          # posted before (by us, a replica, or before a restart)
    BUSY = "busy"                # another replica holds the lease right now
    NOT_A_MODEL = "not-a-model"  # did not parse (yet): the caller retries or gives up
    DEFERRED = "deferred"        # store or Slack unavailable: retried on a later scan
    QUEUED = "queued"            # handed to a `ckptbot worker` (queue mode, bot/queue/announce.py)


@dataclass(frozen=True)
class Announced:
    outcome: Outcome
    ts: str | None = None
    text: str = ""
    report: Report | None = None


class Poster(Protocol):
    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None) -> str: ...


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}{kind}:{digest}"


def run_label(run: str) -> str:
    """What people see for a run: its last two path parts (`exp1/checkpoints`)."""
    trimmed = run.rstrip("/")
    parent = posixpath.basename(posixpath.dirname(trimmed))
    base = posixpath.basename(trimmed) or trimmed
    return f"{parent}/{base}" if parent else base


class Announcer:
    def __init__(self, store: Store, poster: Poster, inspect: Callable[[str], Report]) -> None:
        self.store = store
        self.poster = poster
        self.inspect = inspect

    def already_announced(self, channel: str, version: str) -> bool:
        """Cheap check before inspecting (raises StoreUnavailable; the claim decides races)."""
        value = self.store.get(_key("announced", channel, version))
        return bool(value and value.startswith("posted:"))

    def announce(self, *, channel: str, version: str, uri: str, name: str, run: str,
                 report: Report | None = None) -> Announced:
        """Inspect (unless given a report), then post once per (channel, version)."""
        try:
            if self.already_announced(channel, version):
                return Announced(Outcome.ALREADY)
        except StoreUnavailable as exc:  # no point inspecting what could not be recorded
            log.warning("not announcing %s yet: %s", name, exc)
            return Announced(Outcome.DEFERRED)
        report = report if report is not None else self.inspect(uri)
        if report.error is not None:
            return Announced(Outcome.NOT_A_MODEL, report=report)
        key = _key("announced", channel, version)
        token = f"lease:{uuid.uuid4().hex}"
        try:
            if not self.store.claim(key, token, LEASE_MS):
                held = self.store.get(key) or ""
                return Announced(Outcome.ALREADY if held.startswith("posted:") else Outcome.BUSY)
        except StoreUnavailable as exc:
            log.warning("not announcing %s yet: %s", name, exc)
            return Announced(Outcome.DEFERRED, report=report)
        try:
            return self._post_holding_lease(key, token, channel, name, run, report)
        except (PostFailed, StoreUnavailable) as exc:
            log.warning("announcing %s in %s failed, will retry: %s", name, channel, exc)
            self._give_back(key, token)
            return Announced(Outcome.DEFERRED, report=report)

    def _post_holding_lease(self, key: str, token: str, channel: str, name: str, run: str,
                            report: Report) -> Announced:
        thread_key = _key("thread", channel, run)
        last_key = _key("last", channel, run)
        thread_ts = self.store.get(thread_key)
        previous = self.store.get(last_key)
        current = snapshot_of(report, name)
        delta: Delta | None = delta_between(Snapshot.from_json(previous), current) if previous else None
        label = run_label(run)
        text = announcement_text(name, label, report, delta)
        ts = self.poster.post(channel, text, announcement_blocks(name, label, report, delta, text), thread_ts)
        # Slack has the message now; from here a failure to record must not re-post it.
        try:
            self.store.put(key, f"posted:{ts}", ANNOUNCED_TTL_S)
            if thread_ts is None:
                self.store.put(thread_key, ts, RUN_TTL_S)
            self.store.put(last_key, current.to_json(), RUN_TTL_S)
        except StoreUnavailable as exc:
            log.warning("posted %s but could not record it (%s); the lease expires in %d s",
                        name, exc, LEASE_MS // 1000)
        return Announced(Outcome.POSTED, ts=ts, text=text, report=report)

    def _give_back(self, key: str, token: str) -> None:
        try:
            self.store.release(key, token)
        except StoreUnavailable:
            pass  # the lease expires by itself after LEASE_MS
