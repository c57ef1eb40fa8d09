"""Channel notifications when training writes a new checkpoint (issue 7).

    ckptbot watch TARGET --channel C [--pattern GLOB] [--interval S] [--once]

TARGET is a folder (inotify via watchdog, recursive; polling on network filesystems) or
s3://bucket/prefix (polling).  A file is announced once it is complete (unchanged across a
settle time, and it parses), exactly once per version across restarts and replicas (Redis),
in one Slack thread per run folder, with what changed since the run's previous checkpoint.

Modules: scanner (what is there), completeness (is it finished), announcer (exactly once),
delta (what changed), message (the post), poster (Slack), store (Redis or memory),
loop (one target), subscribed (all `/ckpt watch` targets).  The command itself (arguments,
exit codes) is `_watch` in bot/cli.py, with the other commands.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from bot.watch.announcer import Announced, Announcer, Outcome
from bot.watch.loop import TargetWatcher, Waker
from bot.watch.scanner import is_s3_target
from bot.watch.store import store_for
from bot.watch.subscribed import watch_subscriptions

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.report import Report

__all__ = ["Announced", "Announcer", "Outcome", "TargetWatcher", "is_s3_target", "make_announcer",
           "scan_once", "start_subscription_watcher", "watch_forever", "watch_subscriptions"]

log = logging.getLogger(__name__)

# A local folder is listed every 5 s (inotify usually wakes the loop sooner); S3 LIST calls
# cost money and an upload is not visible before it is complete, so 30 s.
DEFAULT_LOCAL_INTERVAL_S = 5.0
DEFAULT_S3_INTERVAL_S = 30.0
# After an inotify wake-up: writers emit one event per write() call; waiting this long turns
# a burst into one scan.
EVENT_DEBOUNCE_S = 0.05
# The shortest pause between scans, so a file that just settled is not scanned in a busy loop.
MIN_WAIT_S = 0.02
# Below this the settle time would not outlast a writer's pause between two buffered writes.
MIN_SETTLE_S = 0.2


def make_inspector(settings: "Settings", *, allow_any_local: bool, pool: Any = None) -> Callable[[str], "Report"]:
    """service.inspect with this process's cache (replicas share reports through Redis) and, in the
    bot, its parser pool (a threaded server must not fork)."""
    from bot.cache import make_cache
    from bot.service import inspect

    cache = make_cache(settings)
    return lambda uri: inspect(uri, settings, cache=cache, pool=pool, allow_any_local=allow_any_local)


def make_announcer(settings: "Settings", *, allow_any_local: bool = False, poster: Any = None,
                   pool: Any = None) -> Announcer:
    """The announcer the CLI watcher, the subscription watcher and the webhook share."""
    from bot.watch.poster import poster_for

    return Announcer(store_for(settings.redis_url), poster or poster_for(settings),
                     make_inspector(settings, allow_any_local=allow_any_local, pool=pool))


def start_subscription_watcher(settings: "Settings", *, announcer: Announcer | None = None,
                               interval_s: float = DEFAULT_LOCAL_INTERVAL_S,
                               s3_interval_s: float = DEFAULT_S3_INTERVAL_S) -> tuple[threading.Thread, threading.Event]:
    """For `ckptbot serve`: scan every `/ckpt watch` target on a daemon thread; set the event to stop.

    Raises PostFailed when SLACK_BOT_TOKEN is missing (the bot would not start without it anyway).
    """
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_subscriptions, name="ckptbot-subscription-watcher", daemon=True,
        args=(settings, announcer or make_announcer(settings), stop),
        kwargs={"interval_s": interval_s, "s3_interval_s": s3_interval_s})
    thread.start()
    return thread, stop


def _report(result: Any) -> None:
    for obs in result.not_models:
        print(f"not announcing {obs.name} ({obs.size} bytes) yet: it does not parse (still being "
              f"written?); retrying", flush=True)
    for channel, obs in result.posted:
        print(f"announced {obs.name} ({obs.size} bytes) in {channel}", flush=True)


def scan_once(watcher: TargetWatcher, channels: list[str], settle: float) -> None:
    """Two scans a settle time apart: what was unchanged in between and parses is announced."""
    watcher.scan(channels)
    time.sleep(settle)
    _report(watcher.scan(channels))


def _next_wait(watcher: TargetWatcher, interval: float) -> float:
    """Until the next poll, or sooner when a file seen earlier will have settled by then."""
    due = watcher.stability.next_due(time.monotonic())
    return interval if due is None else max(MIN_WAIT_S, min(interval, due + MIN_WAIT_S))


def watch_forever(watcher: TargetWatcher, channels: list[str], interval: float, folder: str | None) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    waker = Waker(folder) if folder else None
    how = waker.start() if waker else "polling (S3)"
    print(f"watching {watcher.target} for {', '.join(channels)}: {how}, every {interval:g} s", flush=True)
    try:
        while not stop.is_set():
            try:
                _report(watcher.scan(channels))
            except Exception:  # noqa: BLE001 - a listing error (folder unmounted, S3 down) is retried
                log.exception("scanning %s failed; retrying", watcher.target)
            wait = _next_wait(watcher, interval)
            if waker:
                waker.wait(wait)
                time.sleep(EVENT_DEBOUNCE_S)  # one scan per burst of writes, not one per write
            else:
                stop.wait(wait)
    except KeyboardInterrupt:
        pass
    finally:
        if waker:
            waker.stop()
        signal.signal(signal.SIGTERM, previous)
