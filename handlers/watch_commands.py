"""`/ckpt watch <target>`, `/ckpt unwatch <target>`, `/ckpt watches`: subscriptions per channel.

Each function takes the channel the command was typed in and the text after the subcommand,
and returns the response payload for `respond()`/`ack()`: changes are announced in the channel
(`in_channel`, the team should know what the bot will post), refusals and errors go only to
the person who typed them (`ephemeral`).  The subscription watcher (bot.watch.subscribed)
reads the list every cycle, so a change takes effect within one interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import subscriptions
from bot.render.blocks import escape
from bot.subscriptions import BadTarget, SubscriptionsUnavailable

if TYPE_CHECKING:
    from bot.config import Settings

_UNAVAILABLE = ("I could not reach my storage (Redis) just now, so nothing changed. "
                "Please try again in a minute.")


def _code(target: str) -> str:
    """A target as people typed it, safe to echo: `<!channel>` in a path must not ping anyone."""
    return "`" + escape(target).replace("`", "'") + "`"


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _in_channel(text: str) -> dict[str, Any]:
    return {"response_type": "in_channel", "text": text}


def watch_target(channel_id: str, text: str, settings: "Settings") -> dict[str, Any]:
    """`/ckpt watch <target>`: post here whenever a new checkpoint appears in the target."""
    try:
        target = subscriptions.normalize_target(text, settings)
        added = subscriptions.add_watch(channel_id, target, settings)
    except BadTarget as exc:
        return _ephemeral(f":x: {escape(exc)}")
    except SubscriptionsUnavailable:
        return _ephemeral(f":x: {_UNAVAILABLE}")
    if not added:
        return _ephemeral(f"This channel already watches {_code(target)}.")
    return _in_channel(f":eyes: Watching {_code(target)}: new checkpoints will be announced here, one "
                       f"thread per run (invite me with `/invite @ckptbot` if I am not in this channel). "
                       f"`/ckpt unwatch` with the same target stops it.")


def unwatch_target(channel_id: str, text: str, settings: "Settings") -> dict[str, Any]:
    """`/ckpt unwatch <target>`: stop posting about that target here."""
    try:
        target = subscriptions.normalize_target(text, settings)
    except BadTarget:
        target = text.strip()  # a target whose folder is gone or whose root was removed can still be dropped
    try:
        removed = subscriptions.remove_watch(channel_id, target, settings)
    except SubscriptionsUnavailable:
        return _ephemeral(f":x: {_UNAVAILABLE}")
    if not removed:
        return _ephemeral(f"This channel does not watch {_code(target)}. `/ckpt watches` lists what it does watch.")
    return _in_channel(f"Stopped watching {_code(target)} in this channel.")


def list_watches(channel_id: str, text: str, settings: "Settings") -> dict[str, Any]:
    """`/ckpt watches`: what this channel watches."""
    try:
        targets = subscriptions.channel_watches(channel_id, settings)
    except SubscriptionsUnavailable:
        return _ephemeral(":x: I could not read the watch list just now (Redis did not answer); "
                          "please try again in a minute.")
    if not targets:
        return _ephemeral("This channel watches nothing yet. `/ckpt watch <folder or s3://bucket/prefix>` "
                          "announces new checkpoints here.")
    lines = "\n".join(f"• {_code(t)}" for t in targets)
    return _ephemeral(f"This channel watches {len(targets)} target(s):\n{lines}")


WATCH_SUBCOMMANDS = {"watch": watch_target, "unwatch": unwatch_target, "watches": list_watches}
