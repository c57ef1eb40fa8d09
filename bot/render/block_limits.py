"""Block Kit limits, and the checks that keep every message ckptbot posts inside them.

Slack rejects a message that breaks a limit (`invalid_blocks`, `msg_blocks_too_long`), and
the person then sees nothing at all; so renderers cut long content themselves and
`limit_violations()` (used by the renderers' own guard and by the tests) says what broke.
Sources: slack-bolt.md §6.1; slack_sdk/models/blocks/blocks.py validators.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50  # per message (Slack docs: "up to 50 blocks in each message")
MAX_SECTION_TEXT = 3000  # SectionBlock.text_max_length
MAX_SECTION_FIELDS = 10  # SectionBlock.fields_max_length
MAX_FIELD_TEXT = 2000  # each section field
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


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _block_violations(i: int, block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    where = f"block {i} ({kind})"
    out: list[str] = []
    if len(block.get("block_id", "")) > MAX_BLOCK_ID:
        out.append(f"{where}: block_id longer than {MAX_BLOCK_ID}")
    if kind == "section":
        if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
            out.append(f"{where}: text longer than {MAX_SECTION_TEXT}")
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS:
            out.append(f"{where}: more than {MAX_SECTION_FIELDS} fields")
        out += [f"{where}: field longer than {MAX_FIELD_TEXT}" for f in fields
                if len(_text_of(f)) > MAX_FIELD_TEXT]
        if not block.get("text") and not fields:
            out.append(f"{where}: neither text nor fields")
    elif kind == "header":
        if len(_text_of(block.get("text"))) > MAX_HEADER_TEXT:
            out.append(f"{where}: text longer than {MAX_HEADER_TEXT}")
    elif kind == "context":
        if not 0 < len(block.get("elements") or []) <= MAX_CONTEXT_ELEMENTS:
            out.append(f"{where}: needs 1 to {MAX_CONTEXT_ELEMENTS} elements")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= MAX_ACTIONS_ELEMENTS:
            out.append(f"{where}: needs 1 to {MAX_ACTIONS_ELEMENTS} elements")
        for e in elements:
            if len(_text_of(e.get("text"))) > MAX_BUTTON_TEXT:
                out.append(f"{where}: button text longer than {MAX_BUTTON_TEXT}")
            if len(e.get("value", "")) > MAX_BUTTON_VALUE:
                out.append(f"{where}: button value longer than {MAX_BUTTON_VALUE}")
            if len(e.get("action_id", "")) > MAX_ACTION_ID:
                out.append(f"{where}: action_id longer than {MAX_ACTION_ID}")
    elif kind != "divider":
        out.append(f"{where}: a block type ckptbot does not use")
    return out


def message_text_length(blocks: list[dict[str, Any]]) -> int:
    """Characters of text across all blocks: what `msg_blocks_too_long` counts."""
    total = 0
    for block in blocks:
        total += len(_text_of(block.get("text")))
        total += sum(len(_text_of(f)) for f in block.get("fields") or [])
        total += sum(len(_text_of(e)) + len(_text_of(e.get("text"))) for e in block.get("elements") or [])
    return total


def limit_violations(text: str, blocks: list[dict[str, Any]]) -> list[str]:
    """Every Block Kit limit this message breaks; empty when Slack will accept it."""
    out: list[str] = []
    if not text.strip():
        out.append("no fallback text")
    if len(text) > MAX_FALLBACK_TEXT:
        out.append(f"fallback text longer than {MAX_FALLBACK_TEXT}")
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks, more than {MAX_BLOCKS}")
    if message_text_length(blocks) > MAX_MESSAGE_TEXT:
        out.append(f"{message_text_length(blocks)} characters of block text, more than {MAX_MESSAGE_TEXT}")
    for i, block in enumerate(blocks):
        out += _block_violations(i, block)
    return out
