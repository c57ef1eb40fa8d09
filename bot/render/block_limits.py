"""Block Kit limits, the checks that keep every message ckptbot posts inside them, and the trim.

Slack rejects a message that breaks a limit (`invalid_blocks`, `msg_blocks_too_long`), and the
person then sees nothing at all; so renderers cut long content themselves (every text is clipped
with "…" and a pointer to the rest) and `limit_violations()` says what still breaks. Each block is
read back with `slack_sdk.models.blocks.Block.parse` and serialised, which runs the SDK's own
validators; the few limits the SDK does not check (field text, empty element lists, the message
totals) are checked here. Sources: slack-bolt.md §6.1; slack_sdk/models/blocks/blocks.py.

Trimming order (`fit`), the last line of defence when a message still breaks a limit:
1. a block that is itself invalid (a renderer bug) is dropped, wherever it is;
2. while the message breaks a message-wide limit (50 blocks, ~11k characters of block text),
   the LAST block is dropped, then the one before it, and so on. Renderers therefore build each
   message most important first (verdict and figures at the top, the footer last), and the tail
   they accept to lose is documented with each renderer (bot.render.blocks, bot.watch.message).
Every dropped block is returned in `Fitted.dropped` (its `block_id`, type and the limit that
forced it) and logged as a warning, so a card that lost blocks is visible in tests and logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

log = logging.getLogger("ckptbot.render")

Blocks = list[dict[str, Any]]

MAX_BLOCKS = 50  # per message (Slack docs: "up to 50 blocks in each message")
MAX_SECTION_TEXT = 3000  # SectionBlock.text_max_length
MAX_SECTION_FIELDS = 10  # SectionBlock.fields_max_length
MAX_FIELD_TEXT = 2000  # each section field (not checked by slack_sdk)
MAX_HEADER_TEXT = 150  # HeaderBlock.text_max_length (plain_text)
MAX_CONTEXT_ELEMENTS = 10  # ContextBlock.elements_max_length
MAX_ACTIONS_ELEMENTS = 25  # ActionsBlock.elements_max_length
MAX_BUTTON_TEXT = 75  # ButtonElement.text_max_length
MAX_BUTTON_VALUE = 2000  # ButtonElement.value_max_length
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
# `msg_blocks_too_long` has been seen near 13k characters of block text in total, far below the
# per-block limits (slackapi/bolt-js #2509); 11k leaves room for JSON and entity growth.
MAX_MESSAGE_TEXT = 11_000
# Top-level fallback text: Slack truncates at 40,000, but it is read in notifications and by
# screen readers, where a few lines is what helps.
MAX_FALLBACK_TEXT = 1_500
USED_BLOCK_TYPES = frozenset({"section", "context", "actions", "divider", "header"})


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _sdk_problem(block: dict[str, Any]) -> str | None:
    """What slack_sdk says is wrong with this block: its validators, or a key it does not read."""
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return "slack_sdk does not know this block type"
        if parsed.to_dict() != block:  # to_dict() runs every validator, nested elements included
            return "slack_sdk reads it back differently (a key it does not know?)"
    except (SlackObjectFormationError, TypeError, KeyError) as e:
        return f"slack_sdk: {e}"
    return None


def block_problems(block: dict[str, Any]) -> list[str]:
    """Every limit this one block breaks: slack_sdk's validators, then the ones it lacks."""
    kind = block.get("type")
    out: list[str] = []
    if kind not in USED_BLOCK_TYPES:
        return ["a block type ckptbot does not use"]
    sdk = _sdk_problem(block)
    if sdk:
        out.append(sdk)
    if kind == "section":
        out += [f"field longer than {MAX_FIELD_TEXT}" for f in block.get("fields") or []
                if len(_text_of(f)) > MAX_FIELD_TEXT]
    elif kind in ("context", "actions") and not block.get("elements"):
        out.append("no elements")
    return out


def message_text_length(blocks: Blocks) -> int:
    """Characters of text across all blocks: what `msg_blocks_too_long` counts."""
    total = 0
    for block in blocks:
        total += len(_text_of(block.get("text")))
        total += sum(len(_text_of(f)) for f in block.get("fields") or [])
        total += sum(len(_text_of(e)) + len(_text_of(e.get("text"))) for e in block.get("elements") or [])
    return total


def _message_problems(blocks: Blocks) -> list[str]:
    out: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks, more than {MAX_BLOCKS}")
    if message_text_length(blocks) > MAX_MESSAGE_TEXT:
        out.append(f"{message_text_length(blocks)} characters of block text, more than {MAX_MESSAGE_TEXT}")
    ids = [b["block_id"] for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        out.append("two blocks share a block_id")
    return out


def text_problems(text: str) -> list[str]:
    out: list[str] = []
    if not text.strip():
        out.append("no fallback text")
    if len(text) > MAX_FALLBACK_TEXT:
        out.append(f"fallback text longer than {MAX_FALLBACK_TEXT}")
    return out


def limit_violations(text: str, blocks: Blocks) -> list[str]:
    """Every Block Kit limit this message breaks; empty when Slack will accept it."""
    out = text_problems(text) + _message_problems(blocks)
    for i, block in enumerate(blocks):
        out += [f"block {i} ({block.get('type')}): {p}" for p in block_problems(block)]
    return out


@dataclass(frozen=True)
class Dropped:
    """One block `fit` removed: the renderer's name for it, its type, and why."""

    block_id: str  # the block's `block_id`, or "#<position>" when it had none
    kind: str  # Block Kit type: section, context, actions, …
    reason: str  # the limit the message broke while this block was in it


@dataclass(frozen=True)
class Fitted:
    """A message as it will be posted, and what had to go for Slack to accept it."""

    text: str
    blocks: Blocks
    dropped: tuple[Dropped, ...] = ()

    def pair(self) -> tuple[str, Blocks]:
        return self.text, self.blocks

    @property
    def block_ids(self) -> list[str]:
        return [str(b.get("block_id", "")) for b in self.blocks]


def _dropped(block: dict[str, Any], position: int, reason: str) -> Dropped:
    return Dropped(str(block.get("block_id") or f"#{position}"), str(block.get("type")), reason)


def fit(what: str, text: str, blocks: Blocks) -> Fitted:
    """`blocks` trimmed in the documented order (module docstring) until Slack accepts them.

    `what` names the message in the log ("card for model.h5"). The fallback text is the
    renderer's to keep short (it is clipped when built); no block is dropped on its account.
    """
    kept: Blocks = []
    dropped: list[Dropped] = []
    for i, block in enumerate(blocks):
        problems = block_problems(block)
        if problems:
            dropped.append(_dropped(block, i, problems[0]))
        else:
            kept.append(block)
    tail: list[Dropped] = []
    while kept and (problems := _message_problems(kept)):
        tail.append(_dropped(kept.pop(), len(kept), problems[0]))
    dropped += tail
    if dropped:
        log.warning("%s: dropped %d block(s) to fit Slack's limits: %s", what, len(dropped),
                    ", ".join(f"{d.block_id} ({d.kind}: {d.reason})" for d in dropped))
    for problem in text_problems(text):
        log.warning("%s: %s", what, problem)
    return Fitted(text, kept, tuple(dropped))
