"""Which channels watch which targets: `/ckpt watch|unwatch|watches`, kept in Redis.

    ckptbot:watch:targets:<channel>   a set of targets (a folder path or s3://bucket/prefix)
    ckptbot:watch:channels            the set of channels with at least one target

Targets are vetted as a user's reference is: a folder must lie under CKPTBOT_LOCAL_ROOTS
(none configured: no folders at all), an S3 target is a bucket and prefix; web links are
refused (a training job announces those through the webhook instead).

Failure behaviour (Redis down, hung, refused):
* add/remove raise `SubscriptionsUnavailable`: nothing changed, the user is told to retry;
* the watcher's `all_watches()` raises it too, and the watcher keeps using the list it read
  last (fail open: a Redis blip neither stops nor starts any posting);
* without REDIS_URL the list lives in this process only (lost on restart), which suits one
  `ckptbot serve` process during development.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from bot.watch.store import StoreUnavailable, store_for

if TYPE_CHECKING:
    from bot.config import Settings

CHANNELS_KEY = "ckptbot:watch:channels"
TARGETS_KEY_PREFIX = "ckptbot:watch:targets:"

# Each target is listed and scanned every few seconds; twenty per channel covers a team's
# runs without letting one channel make the watcher slow for everybody.
MAX_WATCHES_PER_CHANNEL = 20
# An S3 bucket name (3-63 chars) and an optional prefix, as AWS allows them.
_S3_TARGET = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/[^\s]*)?$")
# Slack wraps links and paths it recognises: <s3://b/p> or <https://x|label>.
_SLACK_LINK = re.compile(r"^<([^|>]+)(\|[^>]*)?>$")


class SubscriptionsUnavailable(Exception):
    """The watch list could not be read or changed (Redis did not answer)."""


class BadTarget(Exception):
    """Not something the bot can watch; the message says why, for the user."""


def normalize_target(text: str, settings: "Settings") -> str:
    """The canonical form of a watch target, or BadTarget with a sentence for the user."""
    raw = text.strip()
    link = _SLACK_LINK.match(raw)
    if link:
        raw = link.group(1)
    if not raw:
        raise BadTarget("Tell me what to watch: a folder path or s3://bucket/prefix.")
    if raw.startswith(("http://", "https://")):
        raise BadTarget("I can watch folders and s3://bucket/prefix, not web links; a training job "
                        "can announce a link through the checkpoint webhook instead.")
    if raw.startswith("s3://"):
        if not _S3_TARGET.match(raw):
            raise BadTarget(f"{raw} is not an s3://bucket/prefix I can list.")
        return raw
    if "://" in raw and not raw.lower().startswith("file:"):
        raise BadTarget("I can watch folders and s3://bucket/prefix only.")
    return _vet_folder(raw, settings)


def _vet_folder(path: str, settings: "Settings") -> str:
    from bot.sources.base import SourceError
    from bot.sources.local import path_from_reference, vet_local_path

    try:
        real = vet_local_path(path_from_reference(path), list(settings.local_roots))
    except SourceError as exc:
        raise BadTarget(exc.message) from exc
    if not os.path.isdir(real):
        raise BadTarget(f"{path} is a file; give me the folder the checkpoints are written to.")
    return real


def add_watch(channel: str, target: str, settings: "Settings") -> bool:
    """Subscribe; False if the channel already watched it.  BadTarget over the per-channel limit."""
    store = store_for(settings.redis_url)
    try:
        current = store.members(TARGETS_KEY_PREFIX + channel)
        if target in current:
            return False
        if len(current) >= MAX_WATCHES_PER_CHANNEL:
            raise BadTarget(f"This channel already watches {len(current)} targets, the most I keep "
                            f"per channel; unwatch one first.")
        added = store.add_member(TARGETS_KEY_PREFIX + channel, target)
        store.add_member(CHANNELS_KEY, channel)
        return added
    except StoreUnavailable as exc:
        raise SubscriptionsUnavailable(str(exc)) from exc


def remove_watch(channel: str, target: str, settings: "Settings") -> bool:
    """Unsubscribe; False if the channel did not watch it."""
    store = store_for(settings.redis_url)
    try:
        removed = store.remove_member(TARGETS_KEY_PREFIX + channel, target)
        if not store.members(TARGETS_KEY_PREFIX + channel):
            store.remove_member(CHANNELS_KEY, channel)
        return removed
    except StoreUnavailable as exc:
        raise SubscriptionsUnavailable(str(exc)) from exc


def channel_watches(channel: str, settings: "Settings") -> list[str]:
    store = store_for(settings.redis_url)
    try:
        return sorted(store.members(TARGETS_KEY_PREFIX + channel))
    except StoreUnavailable as exc:
        raise SubscriptionsUnavailable(str(exc)) from exc


def all_watches(settings: "Settings") -> dict[str, list[str]]:
    """target -> the channels watching it, for the subscription watcher."""
    store = store_for(settings.redis_url)
    out: dict[str, list[str]] = {}
    try:
        for channel in sorted(store.members(CHANNELS_KEY)):
            for target in store.members(TARGETS_KEY_PREFIX + channel):
                out.setdefault(target, []).append(channel)
    except StoreUnavailable as exc:
        raise SubscriptionsUnavailable(str(exc)) from exc
    return out
