"""The subscription watcher: scans every target some channel subscribed to with `/ckpt watch`.

Meant to run beside the bot (`ckptbot serve` starts it on a thread) or as its own process;
several replicas are fine, the announcer posts each version once.  The watch list is re-read
every cycle, so `/ckpt unwatch` stops the posts from the next cycle on.  Targets are re-vetted
each cycle (roots may have changed since a channel subscribed).  Subscribed folders are polled
(no inotify): there may be many, and a few seconds' delay is fine for a channel notice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from bot.watch.announcer import Announcer
from bot.watch.loop import ScanResult, TargetWatcher
from bot.watch.scanner import is_s3_target

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

Observer = Callable[[dict[str, ScanResult]], None]


def watch_subscriptions(settings: "Settings", announcer: Announcer, stop: threading.Event, *,
                        interval_s: float, s3_interval_s: float | None = None, settle_s: float | None = None,
                        on_cycle: Observer | None = None, max_cycles: int | None = None) -> None:
    """Scan all subscribed folders every interval_s (S3 prefixes every s3_interval_s, default the
    same) until `stop` is set or max_cycles have run."""
    from bot import subscriptions

    watchers: dict[str, TargetWatcher] = {}
    due: dict[str, float] = {}
    watches: dict[str, list[str]] = {}
    cycles = 0
    while not stop.is_set() and (max_cycles is None or cycles < max_cycles):
        cycles += 1
        now = time.monotonic()
        try:
            watches = subscriptions.all_watches(settings)
        except subscriptions.SubscriptionsUnavailable as exc:
            log.warning("watch list unavailable, using the last one read: %s", exc)
        for gone in [t for t in watchers if t not in watches]:
            del watchers[gone]
            due.pop(gone, None)
        results: dict[str, ScanResult] = {}
        for target, channels in watches.items():
            try:
                subscriptions.normalize_target(target, settings)
            except subscriptions.BadTarget as exc:
                log.warning("skipping watched target %s: %s", target, exc)
                continue
            if now < due.get(target, 0.0):
                continue
            every = s3_interval_s if (s3_interval_s and is_s3_target(target)) else interval_s
            due[target] = now + every
            watcher = watchers.get(target)
            if watcher is None:
                watcher = watchers[target] = TargetWatcher(target, announcer, pattern=None,
                                                           settle_s=settle_s or every)
            results[target] = _scan_quietly(watcher, channels)
        if on_cycle is not None:
            on_cycle(results)
        stop.wait(interval_s)


def _scan_quietly(watcher: TargetWatcher, channels: list[str]) -> ScanResult:
    try:
        return watcher.scan(channels)
    except Exception:  # noqa: BLE001 - one broken target (bucket gone, folder unmounted) must not stop the others
        log.exception("scanning %s failed; trying again next cycle", watcher.target)
        return ScanResult()
