"""The announcement itself: fallback text and Block Kit blocks for one new checkpoint.

    :floppy_disk: New checkpoint `ckpt-0007.keras` in `runs/exp1`
    Full model (model.save) · .keras archive by Keras 3.15.1 (tensorflow) · Adam state after 7 steps
    58 parameters (58 trainable, 0 non-trainable) · 21.7 KB
    Since ckpt-0003.keras: 4 steps trained · parameters unchanged (58) · size +0 B · same layers
    ```model = keras.saving.load_model("ckpt-0007.keras")```
"""

from __future__ import annotations

from typing import Any

from bot.render.verdict import params_line, size_line, verdict
from bot.report import Report
from bot.watch.delta import Delta

# Slack refuses a section text over 3,000 characters (slack-bolt.md, must-know 9); the snippet
# is cut a little below that so the code fence still closes.
MAX_SECTION_CHARS = 2900


def _clip(text: str, limit: int = MAX_SECTION_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def announcement_text(name: str, run_label: str, report: Report, delta: Delta | None) -> str:
    """Plain text: the notification and screen-reader fallback, and the whole message for logs."""
    lines = [f"New checkpoint {name} in {run_label}", verdict(report)]
    figures = [x for x in (params_line(report), size_line(report)) if x]
    if figures:
        lines.append(" · ".join(figures))
    lines.append(delta.sentence() if delta else "First checkpoint of this run I have seen.")
    return "\n".join(lines)


def announcement_blocks(name: str, run_label: str, report: Report, delta: Delta | None) -> list[dict[str, Any]]:
    figures = [x for x in (params_line(report), size_line(report)) if x]
    body = [f"*{verdict(report)}*"]
    if figures:
        body.append(" · ".join(figures))
    body.append(delta.sentence() if delta else "_First checkpoint of this run I have seen._")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": _clip(f":floppy_disk: New checkpoint `{name}` in `{run_label}`")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(body))}},
    ]
    snippet = (report.reload.python or "").strip()
    if snippet:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "```" + _clip(snippet, MAX_SECTION_CHARS - 6) + "```"}})
    if report.warnings:
        warn = "\n".join(f":warning: {w.message}" for w in report.warnings[:3])
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(warn)}]})
    return blocks
